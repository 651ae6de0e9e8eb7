"""Versions of one document: the same title, different dates (a law as amended in 2018 and in 2023).

A library keeps old versions beside new ones; with one title for both, a citation cannot say
which it is from and a question cannot prefer the one in force. Each document's date is read
from its file name ("公司法(2023-12-29).md") or from a 修订/修正/公布/通过/施行 date line near its start,
and kept as `metadata["version"]` (ISO date); documents sharing a title with another of a
different date get the date in their title ("中华人民共和国公司法（2023-12-29）").
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import PurePosixPath

from docqa.ingest.model import Document

_FILE_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_.年]([01]?\d)[-_.月]([0-3]?\d)日?(?!\d)")
_TEXT_DATE = re.compile(r"((?:19|20)\d\d)\s*年\s*([01]?\d)\s*月\s*([0-3]?\d)\s*日[^。\n]{0,40}?(修订|修正|公布|通过|施行|发布)")
HEAD_CHARS = 600  # a date line belongs to the document's head (title block, 题注)


def version_date(doc: Document) -> str | None:
    """The document's date as YYYY-MM-DD: its file name's, else the latest date line at its head."""
    m = _FILE_DATE.search(PurePosixPath(doc.source).stem)
    if m:
        return _iso(m)
    dates = [_iso(m) for m in _TEXT_DATE.finditer(doc.text[:HEAD_CHARS])]
    return max(dates) if dates else None


def _iso(m: re.Match) -> str:
    y, mo, d = (int(x) for x in m.groups()[:3])
    return f"{y:04d}-{mo:02d}-{d:02d}"


def base_title(doc: Document) -> str:
    return str(doc.metadata.get("base_title") or doc.title)


def tell_versions(documents: list[Document]) -> None:
    """Record each document's date; put it in the title of documents whose title another
    document of another date shares."""
    by_title: dict[str, list[Document]] = defaultdict(list)
    for doc in documents:
        date = version_date(doc)
        if date:
            doc.metadata.setdefault("version", date)
        by_title[base_title(doc)].append(doc)
    for title, docs in by_title.items():
        dates = {d.metadata.get("version") for d in docs}
        if len(docs) < 2 or len(dates) < 2:
            continue
        for doc in docs:
            date = doc.metadata.get("version")
            if date and "base_title" not in doc.metadata:
                doc.metadata["base_title"] = title
                doc.title = f"{title}（{date}）"
