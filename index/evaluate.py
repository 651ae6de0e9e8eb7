"""Retrieval and answer quality on labelled questions, the numbers every ranking change is judged by."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docqa.ingest.text import compact
from docqa.errors import InputError


class EvalFileError(InputError, ValueError):
    """A question file that cannot be used; the message names the file and line."""


@dataclass
class EvalReport:
    questions: int = 0
    k: int = 10
    hit_at_1: float = 0.0
    hit_at_5: float = 0.0
    mrr_at_10: float = 0.0
    answer_accuracy: float = 0.0
    refused: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"questions": self.questions, "k": self.k, "hit@1": round(self.hit_at_1, 4), "hit@5": round(self.hit_at_5, 4),
                "mrr@10": round(self.mrr_at_10, 4), "answer": round(self.answer_accuracy, 4),
                "refused": self.refused, "misses": self.misses}


def read_questions(path: Path, *, need_gold: bool) -> list[dict[str, Any]]:
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"cannot read question file {path}: {exc}") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{path}, line {n}: not valid JSON ({exc.msg}); each line must be one JSON object") from exc
        if not isinstance(row, dict) or not isinstance(row.get("question"), str) or not row["question"].strip():
            raise EvalFileError(f'{path}, line {n}: needs a non-empty "question" string')
        if need_gold:
            gold = row.get("gold")
            if not isinstance(gold, list) or not gold or not all(isinstance(g, str) and g.strip() for g in gold):
                raise EvalFileError(f'{path}, line {n}: needs "gold", a non-empty list of substrings')
        row.setdefault("id", str(n))
        rows.append(row)
    if not rows:
        raise EvalFileError(f"{path} has no questions")
    return rows


def _matches(text: str, doc_id: str, gold: list[str], gold_doc: str | None) -> bool:
    if gold_doc is not None and doc_id != gold_doc:
        return False
    folded = compact(text)
    return any(compact(g) in folded for g in gold)


def evaluate(searcher, questions: list[dict[str, Any]], *, k: int = 10) -> EvalReport:
    """A hit is a passage containing a gold substring (in the gold document when one is named).

    Each question retrieves `k` passages, as `docqa ask -k` would: hit@5 and MRR@10 count only
    those (with k=3, hit@5 is hit@3), and the answer is chosen from them.
    """
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    report = EvalReport(questions=len(questions), k=k)
    h1 = h5 = mrr = acc = 0.0
    for q in questions:
        gold, gold_doc = q["gold"], q.get("doc_id")
        answer = searcher.ask(q["question"], k=k)
        ranks = [i for i, h in enumerate(answer.hits[:10]) if _matches(h.passage.text, h.passage.doc_id, gold, gold_doc)]
        first = ranks[0] + 1 if ranks else None
        h1 += first == 1
        h5 += first is not None and first <= 5
        mrr += 1.0 / first if first else 0.0
        report.refused += answer.refused
        answered = not answer.refused and _matches(answer.text, answer.hits[0].passage.doc_id if answer.hits else "", gold, None)
        if answered and gold_doc is not None:
            src = next((h for h in answer.hits if h.passage.passage_id == answer.passage_id), None)
            answered = src is not None and src.passage.doc_id == gold_doc
        acc += answered
        if first != 1 or not answered:
            report.misses.append({"id": q.get("id"), "question": q["question"], "gold": gold, "rank": first,
                                  "answer": answer.message if answer.refused else answer.text,
                                  "refused": answer.refused,
                                  "top": answer.hits[0].passage.text[:120] if answer.hits else None})
    n = max(len(questions), 1)
    report.hit_at_1, report.hit_at_5, report.mrr_at_10, report.answer_accuracy = h1 / n, h5 / n, mrr / n, acc / n
    return report
