"""Eval metrics over several questions, and -k reaching the search."""
from __future__ import annotations

import json

import pytest

from docqa.errors import InputError
from docqa.index.evaluate import evaluate
from docqa.index.results import Answer, Hit
from docqa.ingest.model import Passage


def _p(i: int, text: str, doc: str = "d") -> Passage:
    return Passage(passage_id=f"{doc}:{i}", doc_id=doc, title="t", chapter=1, chapter_title="c", section=None,
                   section_number=None, subsection=None, heading_path=[], source=f"{doc}.txt", start=i * 100,
                   end=i * 100 + len(text), text=text)


class ScriptedSearcher:
    """Returns fixed rankings per question (no model), and records the k each question was asked with."""

    def __init__(self, script: dict[str, tuple[list[Passage], str]]):
        self.script = script
        self.asked: list[int] = []

    def ask(self, question: str, k: int = 5) -> Answer:
        self.asked.append(k)
        passages, text = self.script[question]
        hits = [Hit(p, 1.0 / (i + 1)) for i, p in enumerate(passages[:k])]
        return Answer(text, hits[0].passage.passage_id if hits else None, hits)


def _script():
    filler = [_p(i, f"无关内容{i}") for i in range(10, 22)]
    return {
        "q1": ([_p(1, "外汇储备接近四万亿美元"), *filler], "外汇储备接近四万亿美元"),  # rank 1, answered
        "q2": ([*filler[:2], _p(2, "产能利用率为百分之六十"), *filler[2:]], "无关"),  # rank 3, not answered
        "q3": ([*filler[:6], _p(3, "自贸区二十个"), *filler[6:]], "自贸区二十个"),  # rank 7
        "q4": (filler, "无关"),  # not found
        "q5": ([_p(5, "外汇储备很多", doc="other"), _p(6, "外汇储备很多")], "外汇储备很多"),  # gold only in doc d
    }


QUESTIONS = [
    {"id": "1", "question": "q1", "gold": ["外汇储备"]},
    {"id": "2", "question": "q2", "gold": ["产能利用率"]},
    {"id": "3", "question": "q3", "gold": ["自贸区 二十个"]},  # gold is matched ignoring whitespace
    {"id": "4", "question": "q4", "gold": ["不存在"]},
    {"id": "5", "question": "q5", "gold": ["外汇储备"], "doc_id": "d"},
]


def test_metrics_over_several_questions():
    searcher = ScriptedSearcher(_script())
    r = evaluate(searcher, QUESTIONS, k=10)
    assert searcher.asked == [10] * 5
    assert r.questions == 5 and r.k == 10
    assert r.hit_at_1 == pytest.approx(1 / 5)  # q1 only (q5's first hit is in the wrong document)
    assert r.hit_at_5 == pytest.approx(3 / 5)  # q1, q2, q5
    assert r.mrr_at_10 == pytest.approx((1 + 1 / 3 + 1 / 7 + 0 + 1 / 2) / 5)
    # q1 and q3 answered; q5's answer comes from a passage of the wrong document
    assert r.answer_accuracy == pytest.approx(2 / 5)
    assert [m["id"] for m in r.misses] == ["2", "3", "4", "5"]
    assert [m["rank"] for m in r.misses] == [3, 7, None, 2]


def test_k_is_what_each_question_retrieves():
    searcher = ScriptedSearcher(_script())
    r = evaluate(searcher, QUESTIONS, k=3)
    assert searcher.asked == [3] * 5
    assert r.k == 3
    assert r.hit_at_5 == pytest.approx(3 / 5)  # with k=3, hit@5 counts the 3 retrieved
    assert r.mrr_at_10 == pytest.approx((1 + 1 / 3 + 0 + 0 + 1 / 2) / 5)  # q3's rank 7 is not retrieved
    one = evaluate(ScriptedSearcher(_script()), QUESTIONS, k=1)
    assert one.hit_at_5 == one.hit_at_1 == pytest.approx(1 / 5)
    with pytest.raises(InputError, match="k must be at least 1"):
        evaluate(searcher, QUESTIONS, k=0)


def test_cli_eval_passes_k_through(capsys, book_index, tmp_path):
    from docqa.service.cli import main

    qfile = tmp_path / "gold.jsonl"
    qfile.write_text('{"question": "中国在建的自贸区有多少个？", "gold": ["中国在建自贸区20个"]}\n'
                     '{"question": "哪个行业的产能利用率最低？", "gold": ["产能利用率"]}\n', encoding="utf-8")
    for k in (1, 3):
        assert main(["eval", str(qfile), "--index", str(book_index), "--json", "-k", str(k)]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["k"] == k and report["questions"] == 2
        assert report["hit@5"] == report["hit@1"] if k == 1 else True
