"""The answer thread: questions waiting together share one forward pass and get the answers
`Searcher.ask` gives; a bad question or a failed forward reaches only the questions it concerns."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from docqa.errors import InputError
from docqa.index.search.searcher import Searcher
from docqa.service.answering import AnswerThread, steps_of

QUESTIONS = ["本书一共分为几章？", "中国的外汇储备有多少？", "“一带一路”是什么时候提出的？", "产能利用率最低的行业是哪个？",
             "What is international production capacity cooperation?", "丝绸之路经济带有几个走向？",
             "海上丝绸之路的重点方向是什么？", "为什么要推进国际产能合作？"]


class Recording:
    """The real model, recording how many questions each forward pass held; its first pass can be
    held until `hold_until(texts)` is true (so the questions asked meanwhile wait together)."""

    def __init__(self, embedder, hold_until=None, fail: bool = False):
        self.inner, self.model_name = embedder, embedder.model_name
        self.batches: list[int] = []
        self.hold_until, self.fail = hold_until, fail

    def _record(self, texts) -> None:
        if self.hold_until is not None:
            deadline = time.monotonic() + 10
            while not self.hold_until(texts) and time.monotonic() < deadline:
                time.sleep(0.005)
            self.hold_until = None
        self.batches.append(len(texts))
        if self.fail:
            raise RuntimeError("the model broke")

    def encode_queries(self, texts):
        self._record(texts)
        return self.inner.encode_queries(texts)

    def encode_queries_then(self, texts, then):
        try:
            self._record(texts)
        except RuntimeError as exc:
            then(None, exc)
            return
        self.inner.encode_queries_then(texts, then)


def _ask_all(answers: AnswerThread, searcher: Searcher, questions: list[str]):
    async def main():
        return await asyncio.gather(*(answers.run(searcher, searcher.ask_steps(q, k=5)) for q in questions),
                                    return_exceptions=True)

    return asyncio.run(main())


def test_questions_waiting_together_share_one_forward_and_get_asks_answers(searcher):
    answers = AnswerThread()
    _ask_all(answers, searcher, QUESTIONS[:1])  # the thread is up and idle
    # its first forward waits until every question is either in it or queued behind it
    model = Recording(searcher.embedder, hold_until=lambda texts: len(texts) + answers._queue.qsize() == len(QUESTIONS))
    recording = Searcher(searcher.store, model)
    got = _ask_all(answers, recording, QUESTIONS)
    assert sum(model.batches) == len(QUESTIONS) and len(model.batches) <= 2, model.batches
    for question, answer in zip(QUESTIONS, got):
        alone = searcher.ask(question, k=5)
        assert (answer.text, answer.passage_id, answer.refused, answer.support) == \
            (alone.text, alone.passage_id, alone.refused, alone.support)
        assert [(h.passage.passage_id, h.score) for h in answer.hits] == \
            [(h.passage.passage_id, h.score) for h in alone.hits]


def test_a_bad_question_fails_alone_and_a_failed_forward_fails_its_batch_only(searcher):
    answers = AnswerThread()
    got = _ask_all(answers, searcher, [QUESTIONS[0], "   ", QUESTIONS[1]])
    assert isinstance(got[1], InputError) and "empty" in str(got[1])
    assert got[0].passage_id is not None and got[2].passage_id is not None
    broken = Searcher(searcher.store, Recording(searcher.embedder, fail=True))
    failed = _ask_all(answers, broken, QUESTIONS[:3])
    assert all(isinstance(e, RuntimeError) and "the model broke" in str(e) for e in failed)
    again = _ask_all(answers, searcher, QUESTIONS[:1])  # the thread still answers
    assert again[0].text == searcher.ask(QUESTIONS[0], k=5).text
    assert [t.name for t in threading.enumerate()].count("docqa-answers") >= 1


def test_only_a_method_with_a_steps_twin_is_answered_in_steps(searcher, monkeypatch):
    owner, steps = steps_of(searcher.search, (QUESTIONS[0],), {"k": 3})
    assert owner is searcher and next(steps) == QUESTIONS[0]
    assert steps_of(searcher.passage, ("x",), {}) is None
    monkeypatch.setattr(searcher, "ask", lambda question, **kw: "a stand-in")
    assert steps_of(searcher.ask, (QUESTIONS[0],), {}) is None


def test_a_request_cancelled_or_a_loop_closed_while_its_question_is_answered_is_let_go(searcher):
    answers = AnswerThread()
    release = threading.Event()
    model = Recording(searcher.embedder, hold_until=lambda texts: release.is_set())

    async def main():
        task = asyncio.ensure_future(answers.run(Searcher(searcher.store, model), searcher.ask_steps(QUESTIONS[0])))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())  # the loop closes while the thread still holds the question
    release.set()
    assert _ask_all(answers, searcher, QUESTIONS[1:2])[0].passage_id is not None
    assert model.batches == [1]


def test_the_model_embeds_without_waiting_and_a_model_without_its_own_thread_is_run_here(searcher):
    got: list = []
    done = threading.Event()
    searcher.embedder.encode_queries_then(QUESTIONS[:3], lambda vectors, error: (got.append((vectors, error)), done.set()))
    assert done.wait(30)
    vectors, error = got[0]
    assert error is None and (vectors == searcher.embedder.encode_queries(QUESTIONS[:3])).all()

    class Plain:  # encode_queries only, like a stand-in model
        model_name = searcher.embedder.model_name
        encode_queries = staticmethod(searcher.embedder.encode_queries)

    answer = _ask_all(AnswerThread(), Searcher(searcher.store, Plain()), QUESTIONS[:1])[0]
    assert (answer.text, answer.passage_id) == (searcher.ask(QUESTIONS[0]).text, searcher.ask(QUESTIONS[0]).passage_id)
