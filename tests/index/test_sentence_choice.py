"""Which sentence answers (issue 21): the field under its own heading, and the year a "which year"
question asks for. A made-up book built into a real index with the real model."""
from __future__ import annotations

import pytest

BOOK = """长河大桥志

第一章 建桥

第一节 组织

长河大桥工程顾问委员会

主任：赵文山

委员：钱立 孙明 周华

长河大桥工程建设委员会

主任：吴海涛

副主任：郑一鸣 王大川

第二节 通车

大桥的建设前后用了四年。1957年，大桥全面完工。10月15日上午，大桥正式通车，两岸群众夹道欢迎。此后大桥成为南北交通的要道。
"""


@pytest.fixture(scope="module")
def bridge(tmp_path_factory, embedder, cache_dir):
    from docqa.index.search.searcher import Searcher
    from docqa.index.store.directory import build_index
    from docqa.ingest.pipeline import chunker_settings, load_corpus

    folder = tmp_path_factory.mktemp("bridge")
    source = folder / "长河大桥志.txt"
    source.write_text(BOOK, encoding="utf-8")
    build_index(load_corpus([source]), folder / "index", embedder, chunker=chunker_settings(), progress=False, say=None)
    # Refusal off: this is about which sentence is chosen, not whether one is given.
    return Searcher.open(folder / "index", embedder=embedder, cache_dir=cache_dir, refusal_threshold=0.0)


@pytest.mark.parametrize("question, name, other", [
    ("大桥工程建设委员会的主任是谁？", "吴海涛", "赵文山"),
    ("大桥工程顾问委员会的主任是谁？", "赵文山", "吴海涛"),
])
def test_a_field_line_belongs_to_the_heading_above_it(bridge, question, name, other):
    a = bridge.ask(question)
    assert name in a.text and other not in a.text
    assert a.span is not None and a.text[a.span[0]:a.span[1]] == name


@pytest.mark.parametrize("question", ["大桥在哪一年正式通车？", "大橋在哪一年正式通車？", "In what year did the bridge open to traffic?"])
def test_a_which_year_question_gets_the_year_not_only_the_day(bridge, question):
    a = bridge.ask(question)
    assert "1957年" in a.text
    assert a.span is not None and a.text[a.span[0]:a.span[1]].startswith("1957年")
