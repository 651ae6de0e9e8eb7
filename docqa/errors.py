"""One error base for everything a user can cause or fix.

Library code raises these; the CLI prints `docqa: error: <message>` and exits 1, and the HTTP app
maps each kind to a status code. Anything else that escapes is a bug and keeps its traceback.
"""
from __future__ import annotations

__all__ = ["DocqaError", "InputError", "NotFoundError", "IndexStateError", "ModelError", "BusyError"]


class DocqaError(Exception):
    """A failure the user can act on: the message says what was wrong and what to do."""

    status_code = 400

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}: {self.hint}" if self.hint else self.message


class InputError(DocqaError):
    """Bad input: an unreadable file, an invalid question, setting or option."""

    status_code = 422


class NotFoundError(DocqaError, LookupError):
    """Something named does not exist: a chapter, section, passage, document or path."""

    status_code = 404


class IndexStateError(DocqaError):
    """An index that is missing, damaged, built for something else, or a path that is not an index."""

    status_code = 503


class ModelError(DocqaError):
    """The embedding model cannot be loaded or built."""

    status_code = 503


class BusyError(DocqaError):
    """The server has more work queued than it accepts; try again shortly."""

    status_code = 503
