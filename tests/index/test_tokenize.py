"""The keyword tokenizer: corpus terms kept whole, stop words and punctuation dropped."""
from __future__ import annotations

import pytest

from docqa.index.store.tokenize import STOP_WORDS, Tokenizer, corpus_terms


def test_corpus_terms_are_quoted_terms_and_heading_words():
    texts = ["我们提出“一带一路”倡议。", "所谓「产能合作」是指……", "“的”"]
    headings = ["第三章 国际产能合作、政策沟通的长期路线与机制", "一、装备制造走出去", "第2节 金融支持"]
    terms = corpus_terms(texts, headings)
    assert "一带一路" in terms and "产能合作" in terms
    assert "国际产能合作" in terms and "政策沟通的长期路线与机制" not in terms and "装备制造走出去" in terms and "金融支持" in terms
    assert not any(t.startswith("第") for t in terms)  # heading numbers are not terms
    assert "的" not in terms  # too short, and a stop word


def test_a_corpus_term_stays_whole_and_its_parts_still_match():
    plain = Tokenizer()
    with_term = Tokenizer(["澜湄合作机制"])
    text = "澜湄合作机制的成效"
    assert "澜湄合作机制" not in plain(text)
    tokens = with_term(text)
    assert "澜湄合作机制" in tokens
    assert "合作" in tokens and "机制" in tokens  # search mode also yields the parts
    assert "的" not in tokens


def test_queries_and_passages_are_folded_alike():
    tok = Tokenizer(["一带一路"])
    assert tok("“一带一路”倡议") == tok("一带一路倡议")
    assert tok("ＡＢＣ公司") == tok("abc公司")  # full-width letters and case
    assert all(t not in STOP_WORDS for t in tok("什么是一带一路的主要内容？"))
    assert tok("。，！？") == []


def test_one_corpus_terms_do_not_leak_into_another_tokenizer():
    Tokenizer(["量子纠缠态"])
    assert "量子纠缠态" not in Tokenizer()("量子纠缠态")
    assert Tokenizer(["b", "a", "a"]).terms == ["a", "b"]


def test_the_frozen_dictionary_cuts_exactly_as_jieba_does(tmp_path):
    """The table saved with an index must give the very tokens the passages were cut into."""
    from pathlib import Path

    from docqa.index.store.tokenize import FrozenDictionary

    terms = ["澜湄合作机制", "一带一路", "产能合作"]
    live = Tokenizer(terms)
    live.save_dictionary(tmp_path / "dictionary.npz")
    frozen = Tokenizer(terms, dictionary=FrozenDictionary.load(tmp_path / "dictionary.npz"))
    book = Path(__file__).resolve().parents[2] / "corpus"
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(book.glob("*.txt")))
    lines = [line for line in text.splitlines() if line.strip()]
    lines += ["What is the price of the book?", "澜湄合作机制的成效如何？", "中國的外匯儲備有多少？", "ＡＢＣ公司2015年"]
    assert len(lines) > 100
    assert [frozen(line) for line in lines] == [live(line) for line in lines]
    assert "澜湄合作机制" in frozen("澜湄合作机制的成效")


def test_the_frozen_dictionary_answers_lookups_and_takes_overlay_words():
    from docqa.index.store.tokenize import FrozenDictionary

    d = FrozenDictionary.from_dict({"中国": 5, "中": 0, "国": 3})
    assert d["中国"] == 5 and d.get("中") == 0 and "国" in d and "美国" not in d and d.get("美国") is None
    assert d.get("美国", -1) == -1 and None not in d
    with pytest.raises(KeyError):
        d["美国"]
    d["美国"] = 7
    assert d["美国"] == 7 and len(d) == 4


def test_the_saved_dictionary_is_jiebas_with_the_terms_added(tmp_path):
    """The saved table (jieba's, hashed once per process, with the terms merged in) equals the
    whole live dictionary hashed afresh."""
    import numpy as np

    from docqa.index.store.tokenize import FrozenDictionary

    tok = Tokenizer(["澜湄合作机制", "量子纠缠态", "一带一路"])
    tok.save_dictionary(tmp_path / "d.npz")
    saved, total = FrozenDictionary.load(tmp_path / "d.npz")
    fresh = FrozenDictionary.from_dict(tok._jieba.FREQ)
    assert total == tok._jieba.total
    assert np.array_equal(saved._keys, fresh._keys) and np.array_equal(saved._freqs, fresh._freqs)


def test_keyword_document_frequency_counts_the_passages_holding_each_term(tmp_path):
    from docqa.index.store.keyword import KeywordIndex

    texts = ["“一带一路”倡议推动产能合作。", "产能合作需要金融支持，金融机构积极参与。", "第三方市场合作。",
             "Belt and Road 与 产能 的关系", "金融 金融 金融"]
    part = KeywordIndex.build(texts, term_sources=texts, headings=["产能合作"])
    part.save(tmp_path)
    loaded = KeywordIndex.load(tmp_path)
    cut = [set(part.tokenize(t)) for t in texts]
    for index in (part, loaded):
        for term in index.bm25.vocab_dict:
            assert index.document_frequency(term) == sum(term in c for c in cut), term
    assert loaded.document_frequency("没有这个词") == 0


def test_traditional_text_is_cut_where_its_simplified_form_is_and_keeps_its_characters():
    """jieba's dictionary and the stop words are Simplified: cut on the Traditional characters,
    邦聯 fell apart into 邦 / 聯 and 以什麼 stayed one word."""
    import opencc

    s2t = opencc.OpenCC("s2t.json").convert
    tok = Tokenizer()
    simplified = "美国南北战争期间，南方邦联成立之初首都是哪一个都市？朝鲜王朝以什么概念为基础？"
    traditional = s2t(simplified)
    assert traditional != simplified
    assert tok(traditional) == [s2t(t) for t in tok(simplified)]
    assert "邦聯" in tok(traditional) and "以什麼" not in tok(traditional) and "什麼" not in tok(traditional)
    assert all(t in traditional for t in tok(traditional))  # words in the text's own characters


def test_an_index_built_before_cuts_its_queries_as_it_was_built():
    from docqa.index.store.tokenize import cuts_simplified

    assert cuts_simplified({"tokenizer": {"version": 3}}) and not cuts_simplified({"tokenizer": {"version": 2}})
    old = Tokenizer(simplified=False)
    assert "以什麼" in old("朝鮮王朝以什麼概念為基礎")  # the version-2 cut, unchanged for its vocabulary
