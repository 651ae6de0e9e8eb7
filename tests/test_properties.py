"""Property tests: the ingest parser on files nobody wrote by hand, the API on bodies nobody would send.

The parser may refuse a file only with `IngestError`, and every passage it cuts must cite its source
exactly (same characters, whitespace aside). The API may refuse anything, but always with a 4xx JSON
`detail`, never a 500.
"""
from __future__ import annotations

import json
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st

from docqa.ingest.model import IngestError
from docqa.ingest.pipeline import load_corpus
from docqa.ingest.text import compact

# ---- the ingest parser -------------------------------------------------------------------------

CN_NUMS = ["一", "二", "三", "十", "十一", "二十三", "一百", "两", "〇", "零"]
NUMS = st.one_of(st.sampled_from(CN_NUMS), st.integers(0, 120).map(str), st.sampled_from(["１２", "０"]))
# The characters that break parsers: CJK and its punctuation, full-width forms NFKC rewrites, line
# and paragraph separators str.splitlines honours but the reader does not, control characters.
ALPHABET = st.one_of(
    st.sampled_from("的一是在了不和有大这中人上为们国经济带路产能合作丝绸之外汇储备"),
    st.sampled_from("。！？；，、：“”‘’（）《》…—．·"),
    st.sampled_from("abcXYZ019 .!?;,:-#*>|/()[]\"'"),
    st.sampled_from("ＡＢｃ１２３　①㍿ﬁ½™"),
    st.sampled_from("\t\u3000\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00\x01\x07\x1b\x7f\u200b\ufeff"),
    st.characters(exclude_categories=("Cs",)),
)
WORDS = st.text(ALPHABET, min_size=0, max_size=40)
SENTENCE = st.builds(lambda w, end: w + end, st.text(ALPHABET, min_size=1, max_size=80),
                     st.sampled_from(["。", "！", "？", "；", ". ", "", "……", "。”"]))
HEADING = st.one_of(
    st.builds(lambda n, sep, t: f"第{n}章{sep}{t}", NUMS, st.sampled_from(["", " ", "　", "：", "、", "."]), WORDS),
    st.builds(lambda n, sep, t: f"第{n}节{sep}{t}", NUMS, st.sampled_from(["", " ", "　", "："]), WORDS),
    st.builds(lambda n, t: f"{n}、{t}", st.sampled_from(CN_NUMS), WORDS),
    st.builds(lambda n, t: f"（{n}）{t}", st.sampled_from(CN_NUMS), WORDS),
    st.builds(lambda h, t, close: f"{h} {t}{close}", st.sampled_from(["#", "##", "###", "####", "   #", "#######"]),
              WORDS, st.sampled_from(["", " #", " ##"])),
    st.builds(lambda n, t: f"Chapter {n} {t}", st.sampled_from(["1", "12", "iv", "XL"]), WORDS),
    st.sampled_from(["目录", "目 录", "前言", "内容简介", "后记", "参考文献", "附录一", "编委会", "Contents"]),
    st.builds(lambda n, t, dots, page: f"第{n}章 {t}{dots}{page}", NUMS, WORDS,
              st.sampled_from(["……", "...", " ", "·····", "／"]), st.integers(1, 999)),
)
BODY = st.lists(SENTENCE, min_size=1, max_size=6).map("".join)
LONG_LINE = st.builds(lambda c, n: c * n, st.sampled_from(["字", "ab ", "，", "长句子没有句号", "x"]), st.integers(600, 3000))
LINE = st.one_of(HEADING, BODY, BODY, LONG_LINE, st.just(""), st.sampled_from([" ", "\t", "　", "12", "- 3 -"]))
NEWLINE = st.sampled_from(["\n", "\n", "\r\n", "\r", "\n\n", "\n \n", "\r\n\r\n"])


@st.composite
def documents(draw) -> str:
    lines = draw(st.lists(LINE, min_size=1, max_size=25))
    if draw(st.integers(0, 9)):
        lines.insert(draw(st.integers(0, len(lines))), draw(BODY))
    out = []
    for line in lines:
        out.append(line)
        out.append(draw(NEWLINE))
    return "".join(out[:-1] if out and draw(st.booleans()) else out)


@st.composite
def corpus_files(draw) -> list[tuple[str, bytes]]:
    """One to three files: text in a random encoding, JSONL of random records, or raw bytes."""
    files = []
    for i in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["txt", "txt", "txt", "md", "jsonl", "jsonl", "bytes"]))
        if kind == "bytes":
            data = draw(st.binary(min_size=0, max_size=600))
            if draw(st.booleans()):
                data = draw(documents()).encode("utf-8") + data
            files.append((f"f{i}.txt", data))
        elif kind == "jsonl":
            records = draw(st.lists(st.fixed_dictionaries(
                {"text": documents()},
                optional={"id": st.one_of(st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8),
                                          st.none(), st.just(7)),
                          "title": st.one_of(WORDS, WORDS, WORDS, WORDS, st.none(), st.just(3)),
                          "extra": st.recursive(st.none() | st.integers() | st.text(max_size=5),
                                                lambda c: st.lists(c, max_size=3), max_leaves=5)}),
                min_size=1, max_size=4))
            lines = [json.dumps(r, ensure_ascii=draw(st.booleans())) for r in records]
            if not draw(st.integers(0, 4)):
                lines.append(draw(st.sampled_from(["", "  ", "{", "[1]", "null", '{"text": 5}', '{"text": " "}'])))
            files.append((f"f{i}.jsonl", "\n".join(lines).encode("utf-8")))
        else:
            text = draw(documents())
            encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "gb18030", "utf-16"]))
            try:
                data = text.encode(encoding)
            except UnicodeEncodeError:
                data = text.encode("utf-8")
            files.append((f"f{i}.{kind}", data))
    return files


def _check_corpus(files: list[tuple[str, bytes]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, data in files:
            (root / name).write_bytes(data)
        try:
            corpus = load_corpus([root])
        except IngestError as exc:
            assert str(exc)
            return
    docs = {d.doc_id: d for d in corpus.documents}
    assert len(docs) == len(corpus.documents), "document ids must be unique"
    ids = [p.passage_id for p in corpus.passages]
    assert len(set(ids)) == len(ids), "passage ids must be unique"
    for p in corpus.passages:
        doc = docs[p.doc_id]
        assert 0 <= p.start < p.end <= len(doc.text), (p.passage_id, p.start, p.end, len(doc.text))
        assert p.text.strip(), p
        assert compact(doc.text[p.start:p.end]) == compact(p.text), (
            f"{p.passage_id} [{p.start}:{p.end}] cites {doc.text[p.start:p.end]!r} but holds {p.text!r}")


PARSER_SETTINGS = settings(max_examples=150, deadline=timedelta(seconds=5), database=None,
                           suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PARSER_SETTINGS
@given(corpus_files())
@example([("a.txt", "第一章 总论\n\n一、背景\n丝绸之路经济带。\r\n（一）方向\n海上丝绸之路。".encode())])
@example([("a.txt", b"\xff\xfe\xfd" * 50)])
@example([("a.txt", "第一章\u2028总论\x85正文在这里。\x0c第二节\u2029内容。".encode())])
@example([("a.md", ("# 书名\n\n" + "长" * 5000 + "\n## 一节\n" + "句子。" * 400).encode())])
@example([("a.jsonl", b'{"text": "\\u7b2c\\u4e00\\u7ae0\\n\\u6b63\\u6587\\u3002"}\n{"id": "x", "text": " "}')])
def test_load_corpus_refuses_cleanly_or_cites_exactly(files):
    _check_corpus(files)


@PARSER_SETTINGS
@given(documents())
def test_any_text_document_cites_exactly(text):
    assume(text.strip())
    _check_corpus([("book.txt", text.encode("utf-8"))])


# ---- the API -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api(book_index, cache_dir, searcher):
    """One app for every example: hypothesis cannot use function-scoped fixtures, and the app keeps
    no state between requests that an example could leave behind."""
    from docqa.service.api import create_app
    from tests.service.conftest import make_settings

    app = create_app(make_settings(book_index, cache_dir), searcher)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    assert app.state.docqa.internal_errors == 0


def _check_response(r) -> None:
    where = f"{r.request.method} {r.request.url} -> {r.status_code}: {r.text[:300]}"
    assert r.status_code < 500, where
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/json"), where
        body = r.json()  # OpenAI's error shape under /v1/, docqa's {"detail"} elsewhere
        detail = body["error"]["message"] if r.request.url.path.startswith("/v1/") else body["detail"]
        assert isinstance(detail, str) and detail.strip(), where
    elif r.status_code == 200 and r.headers["content-type"].startswith("application/json"):
        r.json()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
    max_leaves=12,
)
ANY_VALUE = st.one_of(JSON, st.sampled_from(["", " ", "外汇储备有多少？", "x" * 1100, "0", "-1", "1e3"]),
                      st.integers(-3, 60))
ASK_BODY = st.one_of(
    JSON,
    st.fixed_dictionaries({}, optional={"question": ANY_VALUE, "k": ANY_VALUE, "chapter": ANY_VALUE,
                                        "doc_id": ANY_VALUE, "extra": JSON}),
)
MESSAGE = st.fixed_dictionaries(
    {"role": st.one_of(st.sampled_from(["user", "assistant", "system", "tool", "developer", "function", "bot"]), JSON)},
    optional={"content": st.one_of(ANY_VALUE, st.lists(st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(["text", "image_url"]), JSON)}, optional={"text": ANY_VALUE}), max_size=3)),
        "name": JSON},
)
CHAT_BODY = st.one_of(
    JSON,
    st.fixed_dictionaries({}, optional={"messages": st.one_of(st.lists(MESSAGE, max_size=4), JSON),
                                        "stream": st.one_of(st.booleans(), JSON), "k": ANY_VALUE,
                                        "model": JSON, "chapter": ANY_VALUE, "doc_id": ANY_VALUE}),
)
API_SETTINGS = settings(max_examples=40, deadline=timedelta(seconds=10), database=None,
                        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@API_SETTINGS
@given(body=ASK_BODY)
@example(body={"question": "中国的外汇储备有多少？", "k": 3})
@example(body={"question": "外汇\x00储备", "k": 50, "chapter": 1})
def test_ask_never_fails_on_any_json(api, body):
    _check_response(api.post("/ask", json=body))


@API_SETTINGS
@given(body=CHAT_BODY)
@example(body={"messages": [{"role": "user", "content": "什么是产能合作？"}], "stream": True})
@example(body={"messages": [{"role": "user", "content": [{"type": "text", "text": "外汇"}]},
                            {"role": "assistant", "content": None}, {"role": "user", "content": "多少？"}]})
def test_chat_never_fails_on_any_json(api, body):
    _check_response(api.post("/v1/chat/completions", json=body))


@API_SETTINGS
@given(path=st.sampled_from(["/ask", "/v1/chat/completions", "/search", "/chapters"]), body=st.binary(max_size=300),
       content_type=st.sampled_from([None, "application/json", "text/plain", "application/x-www-form-urlencoded"]))
def test_random_bytes_as_body(api, path, body, content_type):
    headers = {"content-type": content_type} if content_type else {}
    _check_response(api.post(path, content=body, headers=headers))


QUERY_VALUE = st.one_of(st.text(max_size=40), st.sampled_from(["外汇", "", " ", "0", "51", "-1", "1.5", "x" * 1100]))


@API_SETTINGS
@given(params=st.lists(st.tuples(st.sampled_from(["q", "k", "chapter", "doc_id", "zz", ""]), QUERY_VALUE), max_size=5),
       raw=st.sampled_from(["", "&q=%FF%FE", "&q=%", "&k=%00", "&&&", "&q=%E5%A4%96"]))
def test_search_never_fails_on_any_query_string(api, params, raw):
    from urllib.parse import urlencode

    _check_response(api.get("/search?" + urlencode(params) + raw))


@API_SETTINGS
@given(route=st.sampled_from(["/passages/{}", "/chapters/{}", "/chapters/1/sections/{}", "/chapters/{}?doc_id={}"]),
       value=st.text(max_size=20))
def test_book_routes_never_fail_on_any_path(api, route, value):
    from urllib.parse import quote

    _check_response(api.get(route.replace("{}", quote(value, safe=""))))


def _nest(depth: int, opener: str, closer: str, leaf: str = "1") -> str:
    return opener * depth + leaf + closer * depth


@pytest.mark.parametrize("body", [
    _nest(20000, "[", "]"),
    _nest(5000, '{"a":', "}"),
    '{"question": "外汇", "k": 3, "extra": ' + _nest(20000, "[", "]") + "}",
    '{"messages": [{"role": "user", "content": "外汇", "x": ' + _nest(10000, "[", "]") + "}]}",
    '{"messages": [{"role": "user", "content": ' + _nest(3000, '[{"type": "text", "text": ', "}]", '"外汇"') + "}]}",
    '{"question": ' + _nest(10000, '{"q":', "}", '"外汇"') + "}",
], ids=["array", "object", "extra-field", "chat-extra", "chat-parts", "question"])
@pytest.mark.parametrize("path", ["/ask", "/v1/chat/completions"])
def test_deeply_nested_json_is_a_4xx(api, path, body):
    r = api.post(path, content=body.encode())
    _check_response(r)
    assert 400 <= r.status_code < 500


@pytest.mark.parametrize("path, body", [
    ("/ask", '{"question": "外汇\\ud800储备"}'),
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "\\udfff外汇"}]}'),
])
def test_lone_surrogate_in_question_is_a_4xx(book_index, cache_dir, searcher, path, body):
    from docqa.service.api import create_app
    from tests.service.conftest import make_settings

    # Its own app: the shared one counts internal errors and must end the module at zero.
    with TestClient(create_app(make_settings(book_index, cache_dir), searcher), raise_server_exceptions=False) as c:
        _check_response(c.post(path, content=body.encode()))
