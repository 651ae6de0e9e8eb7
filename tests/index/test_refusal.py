"""Refusal and clean answers on the real index of the bundled book, with the real model."""
from __future__ import annotations

import pytest

from docqa.errors import InputError
from docqa.index.search.navigation import is_navigation
from docqa.index.search.searcher import Searcher


def test_questions_the_book_does_not_answer_are_refused(searcher):
    for question, lang in (("What is the capital of France?", "en"), ("怎样做红烧肉？", "zh"),
                           ("中国高铁的最高运营时速是多少公里？", "zh"),
                           ("Where is the headquarters of the Asian Infrastructure Investment Bank?", "en")):
        a = searcher.ask(question)
        assert a.refused, (question, a.text, a.support)
        assert a.text == "" and a.passage_id is None
        assert a.hits, "the closest passages are still given"
        if lang == "zh":
            assert a.message.startswith("这本书里没有找到关于")
        else:
            assert a.message.startswith("The book does not say")


def test_questions_the_book_answers_are_answered_cleanly(searcher):
    for question, gold in (("中国的外汇储备有多少？", "4 万亿美元"), ("What is the price of the book?", "69.00元"),
                           ("李芳芳的籍贯是哪里？", "河南孟州"), ("When was Li Fangfang born?", "1982年9月"),
                           ("What is the Silk Road Economic Belt?", "经济桥梁")):
        a = searcher.ask(question)
        assert not a.refused, (question, a.message, a.support)
        assert gold in a.text, (question, a.text)
        assert "\n" not in a.text and len(a.text) <= 200
        source = searcher.passage(a.passage_id)
        assert a.text.rstrip("…").replace(" ", "")[:10] in source.text.replace("\n", "").replace(" ", "")


def test_traditional_question_finds_the_simplified_text_and_cites_it_unchanged(searcher):
    simplified, traditional = searcher.ask("中国的外汇储备有多少？"), searcher.ask("中國的外匯儲備有多少？")
    assert not traditional.refused
    assert traditional.passage_id == simplified.passage_id
    assert "4 万亿美元" in traditional.text
    assert traditional.hits[0].passage.text == searcher.passage(traditional.hits[0].passage.passage_id).text


def test_navigation_text_is_not_evidence_for_content_questions(searcher):
    a = searcher.ask("“丝绸之路经济带”是什么？", k=10)
    assert a.hits and not any(is_navigation(h.passage) for h in a.hits)
    b = searcher.ask("这本书的定价是多少？")
    assert is_navigation(searcher.passage(b.passage_id))


def test_a_question_that_begins_with_the_word_book_is_about_the_book(searcher):
    """"书的定价是多少？" (the README's first example) names the book as "这本书的…" does, so the
    copyright-page field it asks for counts as evidence: it was answered but marked low
    (support .52, "the book may not answer this directly") while "这本书的定价是多少？" was high."""
    a, b = searcher.ask("书的定价是多少？"), searcher.ask("这本书的定价是多少？")
    assert not a.refused and "69.00元" in a.text, (a.text, a.support)
    assert a.confidence == b.confidence == "high", (a.support, b.support)


def test_a_chapter_only_listed_in_the_contents_is_answered_with_what_is_known(searcher):
    doc = searcher.documents[0]
    listed = [c for c in doc.chapters if not c.in_corpus and c.toc_page is not None]
    assert listed, "the bundled book lists chapters whose text it lacks"
    ch = listed[0]
    zh = "一二三四五六七八九十"[ch.number - 1]
    a = searcher.ask(f"第{zh}章讲了哪些内容？")
    assert not a.refused
    assert ch.title in a.text and str(ch.toc_page) in a.text and "不在" in a.text
    assert searcher.passage(a.passage_id).kind == "toc"
    en = searcher.ask(f"What does chapter {ch.number} cover?")
    assert ch.title in en.text and "not in this corpus" in en.text


def test_threshold_is_a_parameter(searcher):
    never = Searcher(searcher.store, searcher.embedder, refusal_threshold=0.0)
    always = Searcher(searcher.store, searcher.embedder, refusal_threshold=1.0)
    assert not never.ask("What is the capital of France?").refused
    assert always.ask("中国的外汇储备有多少？").refused
    with pytest.raises(InputError, match="refusal_threshold"):
        Searcher(searcher.store, searcher.embedder, refusal_threshold=1.5)


def test_anchors_are_the_translation_free_terms_found_in_the_passages():
    from docqa.index.question import book_fields
    from docqa.index.answer.refusal import anchors

    passages = ["李 芳芳\n女，籍贯河南。", "定 价: 69.00元 ISBN 978-7-121"]
    assert anchors("Where is Li Fangfang from?", ["李芳芳"], passages) == 1.0
    assert anchors("How many members does the AIIB have?", [], passages) == 0.0
    assert anchors("What is the ISBN of this book?", [], passages) == 1.0
    assert anchors("Did the AIIB fund Li Fangfang?", ["李芳芳"], passages) == 0.5
    # Numbers are not anchors, and a field counts only when the question is about the book.
    assert anchors("What happened in 2015?", [], ["2015 年"]) == 0.0
    assert book_fields("What is the price of gold?") == []
    assert anchors("What is the price of gold?", [], passages) == 0.0
    assert anchors("What is the price of the book?", [], passages) == 1.0


def test_english_questions_with_names_or_book_fields_found_are_not_refused(searcher):
    for question, gold in (("Where did Li Fangfang earn her doctorate in economics?", "中央财经大学"),
                           ("When was the first edition of the book published?", "第1版")):
        a = searcher.ask(question)
        assert a.evidence.anchors == 1.0, (question, a.evidence)
        assert not a.refused, (question, a.support)
        assert gold in a.text, (question, a.text)
    for question in ("How many founding members does the AIIB have?", "How many overseas factories does CRRC operate?"):
        a = searcher.ask(question)
        assert a.evidence.anchors == 0.0 and a.refused, (question, a.support)


def test_folding_from_cached_passage_forms_equals_folding_the_joined_text():
    """The refusal's evidence folds the top passages through their cached NFKC forms; the result
    must be `normalize` of the joined texts, at every seam (CJK, line breaks, combining marks,
    full-width punctuation, ligatures)."""
    import random

    from docqa.corpus import bundled_files
    from docqa.index.answer.refusal import _folded
    from docqa.index.store.directory import indexed_text
    from docqa.ingest.pipeline import load_corpus
    from docqa.ingest.text import normalize

    texts = [indexed_text(p) for p in load_corpus(bundled_files()).passages]
    rng = random.Random(7)
    for _ in range(500):
        chosen = rng.sample(texts, rng.randint(1, 4))
        chosen = [t[rng.randrange(len(t)):] if rng.random() < 0.3 else t for t in chosen]
        assert _folded(chosen) == normalize(" ".join(chosen))
    seams = ["中\n", "x", "か", "\u3099x", "Ａ\u0301", "\u0301", "ﬁ", "\uff0c", " ", "\u3000中"]
    for a in seams:
        for b in seams:
            assert _folded([a, b]) == normalize(a + " " + b), (a, b)


@pytest.mark.parametrize("question", ["xxxxxxxxxxxxxxxxxxxx", "😀🎉😀🎉", "e" + "\u0301" * 900, "\u0301" * 900, "？？？",
                                      "'; DROP TABLE passages; --"])
def test_content_free_questions_are_refused(searcher, question):
    never = Searcher(searcher.store, searcher.embedder, refusal_threshold=0.0)
    for s in (searcher, never):
        a = s.ask(question)
        assert a.refused and a.text == "" and a.confidence == "none" and a.support == 0.0, (question, a.text)


def test_ascii_text_is_refused_as_content_free_only_when_it_neither_asks_nor_names(searcher):
    """The rule for `'; DROP TABLE passages; --` leaves alone a question that asks (a question
    word or mark) and plain words that the book uses."""
    from docqa.index.question import asks_nothing

    assert asks_nothing("'; DROP TABLE passages; --") and asks_nothing("tea ceremony")
    assert not any(asks_nothing(q) for q in ("What is the price of this book?", "price?", "how many chapters",
                                             "外汇储备", "Zhōu Ēnlái", "list the chapters"))
    never = Searcher(searcher.store, searcher.embedder, refusal_threshold=0.0)
    # Not one letter repeated ("ppp"): content_free refuses those whatever the book holds.
    word = next(t for t in sorted(searcher.store.vocabulary()) if t.isascii() and t.isalpha() and len(set(t)) > 2
                and asks_nothing(t))
    for question in (word, f"{word} ;", "What is the price of this book?"):
        a = never.ask(question)
        assert not a.refused, question


def test_a_quoted_question_is_not_quoted_twice():
    from docqa.index.answer.refusal import refusal_message

    assert refusal_message("“一带一路”倡议最早是什么时候提出的？", "zh") == \
        "这本书里没有找到关于“‘一带一路’倡议最早是什么时候提出的”的内容。"
    assert "““" not in refusal_message("“A” and “B”?", "en") and "”””" not in refusal_message("“A” and “B”?", "en")


def test_a_built_index_saves_its_own_similarity_levels_and_refuses_against_them(book_index, searcher):
    """The levels are those of the index's own vectors (recomputed here from the files), and an
    index that has them is judged by the calibrated model."""
    import json

    import numpy as np

    from docqa.index.store import calibration
    from docqa.index.answer import refusal
    from docqa.index.store.directory import load_index

    saved = json.loads((book_index / "manifest.json").read_text(encoding="utf-8"))["calibration"]
    store = load_index(book_index)
    vecs = np.stack([store.dense.index.reconstruct(r) for r in range(len(store.passages))])
    again = calibration.levels(vecs, store.sentences.vectors, store.sentences.row)
    assert saved["version"] == again["version"] == calibration.VERSION and saved["sample"] == again["sample"]
    assert saved["sentence"] == pytest.approx(again["sentence"], abs=1e-4)
    assert saved["passage"] == pytest.approx(again["passage"], abs=1e-4)
    assert 0.5 < saved["sentence"] < 1.0 and 0.5 < saved["passage"] < 1.0
    assert searcher.refusal_coefficients is refusal.INDEX_CALIBRATED
    assert searcher.refusal_model == "index-calibrated-1"
    a = searcher.ask("中国的外汇储备有多少？")
    assert a.evidence.cal_s == pytest.approx(a.evidence.sentence - saved["sentence"])
    assert a.evidence.cal_p == pytest.approx(a.evidence.passage - saved["passage"])


def test_an_index_built_before_the_levels_loads_and_keeps_the_absolute_model(book_index, searcher, tmp_path):
    import json
    import shutil

    from docqa.index.answer import refusal

    old = tmp_path / "old"
    shutil.copytree(book_index, old)
    manifest = json.loads((old / "manifest.json").read_text(encoding="utf-8"))
    del manifest["calibration"]
    (old / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    before = Searcher.open(old, embedder=searcher.embedder)
    assert before.refusal_coefficients is refusal.COEFFICIENTS and before.refusal_model == "absolute-cosine"
    a = before.ask("中国的外汇储备有多少？")
    assert not a.refused and "4 万亿美元" in a.text
    assert a.evidence.cal_s == 0.0
    assert before.ask("怎样做红烧肉？").refused


def test_levels_need_two_passages_to_compare():
    import numpy as np

    from docqa.index.store import calibration

    one = np.ones((1, 4), dtype=np.float32) / 2
    assert calibration.levels(one, np.repeat(one, 3, axis=0), np.zeros(3, dtype=np.int32)) is None


def test_general_rarity_weighs_ordinary_words_below_names_and_unknown_words():
    """A small book lacks many ordinary words (最早, 时候) it still answers: weighed by jieba's
    dictionary counts they count far less than a name, and a word the dictionary lacks counts most."""
    from docqa.index.answer.refusal import general_rarity

    assert general_rarity("时候") == 0.0
    assert 0.0 < general_rarity("最早") < general_rarity("马拉多纳") < general_rarity("一带一路") == 1.0


def test_evidence_reads_the_questions_words_in_the_top_passage_and_the_answer(searcher, monkeypatch):
    """The unshipped candidate features are read only when measuring (`MEASURE_UNUSED`)."""
    from docqa.index.answer import refusal

    assert searcher.ask("中国的外汇储备有多少？").evidence.overlap_top == 0.0
    monkeypatch.setattr(refusal, "MEASURE_UNUSED", True)
    ev = searcher.ask("中国的外汇储备有多少？").evidence
    assert 0.0 < ev.overlap_top <= 1.0 and 0.0 <= ev.overlap_answer <= 1.0
    assert 0.0 <= ev.rare_missing_g <= ev.rare_missing + 1e-9 and 0.0 <= ev.kw_share <= 1.0
    assert set(ev.features()) >= {"overlap_top", "overlap_g", "rare_missing_g", "kw_share", "absent"}
