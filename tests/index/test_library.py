"""A library index (issue 13): add, remove and list documents with the real model on real files.

The checks that matter: a library changed by adds and removes is the index a fresh build of the
same documents gives (same passages, same keyword statistics, same search results on real
questions); unchanged documents are not embedded again; a change that fails leaves the index
byte for byte as it was.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from docqa.errors import IndexStateError, InputError, NotFoundError
from docqa.index.store.shelf import add_documents, list_documents, remove_documents
from docqa.index.search.searcher import Searcher
from docqa.index.store.directory import build_index, load_index
from docqa.ingest.pipeline import chunker_settings, load_corpus
from tests.bookgen import book

QUESTIONS = Path(__file__).resolve().parents[2] / ".." / "shared" / "eval" / "book-questions.jsonl"


def shelf(folder: Path) -> dict[str, Path]:
    """The bundled book and two small made-up books (random common characters), as files."""
    from docqa.corpus import bundled_files

    folder.mkdir(parents=True, exist_ok=True)
    files = {"book": folder / "book.txt", "a": folder / "a.txt", "b": folder / "b.md"}
    shutil.copyfile(bundled_files()[0], files["book"])
    files["a"].write_text(book(3000, chapters_per_volume=2, sections=2, paragraphs=1, seed=11), encoding="utf-8")
    files["b"].write_text(book(3000, chapters_per_volume=2, sections=2, paragraphs=1, seed=12), encoding="utf-8")
    return files


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def questions(store, doc_id: str, n: int = 4) -> list[str]:
    """Questions made of a phrase of the document's own passages (no fixed strings)."""
    texts = [p.text for p in store.passages if p.doc_id == doc_id and p.kind == "body" and len(p.text) > 60]
    return [t[20:36] + "是什么？" for t in texts[:: max(1, len(texts) // n)][:n]]


class CountingEmbedder:
    """The real model, counting the passages it is asked to embed."""

    def __init__(self, inner):
        self.inner = inner
        self.passages = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode_passages_and_sentences(self, texts, sentences, **kw):
        self.passages += len(texts)
        return self.inner.encode_passages_and_sentences(texts, sentences, **kw)

    def encode_passages(self, texts, **kw):
        self.passages += len(texts)
        return self.inner.encode_passages(texts, **kw)


def no_model(name):
    raise AssertionError(f"the model {name} was loaded, but nothing needed embedding")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return shelf(tmp_path_factory.mktemp("shelf"))


@pytest.fixture(scope="module")
def library(files, embedder, tmp_path_factory):
    """book, then +a, then +b, then -b: the index a fresh build of book and a must equal."""
    target = tmp_path_factory.mktemp("lib") / "library"
    counting = CountingEmbedder(embedder)
    first = add_documents(target, [files["book"]], embedder=counting)
    assert [d.doc_id for d in first.added] == ["book"]
    before = counting.passages
    added_a = add_documents(target, [files["a"]], embedder=counting)
    embedded_for_a = counting.passages - before
    add_documents(target, [files["b"]], embedder=counting)
    removed = remove_documents(target, ["b"])
    return {"dir": target, "first": first, "added_a": added_a, "embedded_for_a": embedded_for_a,
            "removed": removed}


@pytest.fixture(scope="module")
def fresh(files, embedder, tmp_path_factory):
    target = tmp_path_factory.mktemp("fresh") / "index"
    build_index(load_corpus([files["book"], files["a"]]), target, embedder, chunker=chunker_settings(),
                progress=False, say=None)
    return target


def test_add_and_remove_give_the_index_a_fresh_build_gives(library, fresh, embedder):
    lib, new = load_index(library["dir"]), load_index(fresh)
    assert [p.to_dict() for p in lib.passages] == [p.to_dict() for p in new.passages]
    assert [d.doc_id for d in lib.documents] == ["book", "a"] == [d.doc_id for d in new.documents]
    assert lib.manifest["counts"] == new.manifest["counts"]
    assert lib.manifest["tokenizer"] == new.manifest["tokenizer"]
    assert lib.keyword.tokenizer.terms == new.keyword.tokenizer.terms
    tokens = new.tokenize("中国外汇储备与国际产能合作")
    assert np.allclose(lib.keyword.bm25.get_scores(tokens), new.keyword.bm25.get_scores(tokens))
    assert np.allclose(lib.hub.en, new.hub.en, atol=1e-5) and np.allclose(lib.hub.zh, new.hub.zh, atol=1e-5)
    assert np.array_equal(lib.sentences.row, new.sentences.row)
    assert np.allclose(lib.sentences.vectors, new.sentences.vectors, atol=1e-3)
    assert np.allclose(lib.dense.index.reconstruct_n(0, lib.dense.size),
                       new.dense.index.reconstruct_n(0, new.dense.size), atol=1e-5)

    asked = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    asked += questions(new, "a")
    s_lib, s_new = Searcher(lib, embedder), Searcher(new, embedder)
    for q in asked:
        a, b = s_lib.ask(q, k=5), s_new.ask(q, k=5)
        assert [h.passage.passage_id for h in a.hits] == [h.passage.passage_id for h in b.hits], q
        assert np.allclose([h.score for h in a.hits], [h.score for h in b.hits], atol=1e-4), q
        assert (a.text, a.refused) == (b.text, b.refused), q


def test_an_added_book_is_found_and_costs_only_its_own_embedding(library, embedder):
    store = load_index(library["dir"])
    from docqa.index.store.sentences import topic
    from docqa.ingest.text import normalize

    a_passages = sum(p.doc_id == "a" for p in store.passages)
    a_headings = len({normalize(topic(p)) for p in store.passages if p.doc_id == "a"} - {""})
    # Its passages and its heading paths (for the heading context vectors); the book's were not embedded again.
    assert library["embedded_for_a"] == a_passages + a_headings
    s = Searcher(store, embedder)
    for q in questions(store, "a"):
        assert s.search(q, k=1)[0].passage.doc_id == "a", q
        assert all(h.passage.doc_id == "book" for h in s.search(q, k=3, doc_id="book"))


def test_ids_and_added_times_are_stable_across_changes(library):
    docs = {d.doc_id: d for d in list_documents(library["dir"])}
    assert list(docs) == ["book", "a"]
    assert docs["book"].added_at == library["first"].added[0].added_at
    assert docs["a"].added_at == library["added_a"].added[0].added_at
    assert [d.doc_id for d in library["removed"].removed] == ["b"]
    for d in docs.values():
        assert d.format in ("txt", "md") and d.passages > 0 and len(d.checksum) == 64 and d.pages is None
    assert docs["book"].title and docs["book"].title != "book"  # the book's own title, not its file name


def test_adding_the_same_file_again_changes_nothing(library, files, tmp_path):
    before = tree(library["dir"])
    copy = tmp_path / "renamed-copy.txt"
    shutil.copyfile(files["a"], copy)
    change = add_documents(library["dir"], [files["a"], copy], load_embedder=no_model)
    assert not change.added and [d.doc_id for d in change.already] == ["a", "a"]
    assert tree(library["dir"]) == before


def test_an_id_taken_by_another_file_gets_a_suffix(library, embedder, tmp_path):
    target = tmp_path / "lib"
    shutil.copytree(library["dir"], target)
    other = tmp_path / "elsewhere" / "a.txt"
    other.parent.mkdir()
    other.write_text(book(2000, chapters_per_volume=1, sections=1, paragraphs=1, seed=99), encoding="utf-8")
    change = add_documents(target, [other], embedder=embedder)
    assert change.renamed == {"a": "a-2"} and [d.doc_id for d in change.added] == ["a-2"]
    store = load_index(target)
    assert {p.doc_id for p in store.passages} == {"book", "a", "a-2"}
    assert all(p.passage_id.startswith("a-2:") for p in store.passages if p.doc_id == "a-2")
    remove_documents(target, ["a"])
    assert [d.doc_id for d in list_documents(target)] == ["book", "a-2"]


def test_a_bad_file_among_the_paths_refuses_the_whole_add(library, files, tmp_path):
    before = tree(library["dir"])
    broken = tmp_path / "broken.pdf"
    broken.write_text("not a pdf at all", encoding="utf-8")
    with pytest.raises(InputError, match="broken.pdf"):
        add_documents(library["dir"], [files["b"], broken], load_embedder=no_model)
    assert tree(library["dir"]) == before


@pytest.mark.parametrize("where", ["docqa.index.store.directory.Hubness.save", "docqa.index.store.directory._fsync_tree"])
def test_a_failure_inside_the_write_leaves_the_index_byte_identical(library, files, embedder, monkeypatch,
                                                                   where, tmp_path):
    target = tmp_path / "lib"
    shutil.copytree(library["dir"], target)
    before = tree(target)

    def fail(*_a, **_k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(where, fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        add_documents(target, [files["b"]], embedder=embedder)
    with pytest.raises(RuntimeError, match="disk on fire"):
        remove_documents(target, ["a"])
    assert tree(target) == before
    assert not [p for p in tmp_path.iterdir() if ".building-" in p.name or ".previous" in p.name]


def test_a_change_killed_between_the_renames_is_undone_on_the_next_open(library, files, embedder,
                                                                       monkeypatch, tmp_path):
    import os

    import docqa.index.store.directory as store

    target = tmp_path / "lib"
    shutil.copytree(library["dir"], target)
    before = tree(target)
    real = os.rename
    calls = []

    def rename_then_die(src, dst):
        calls.append((src, dst))
        real(src, dst)
        if len(calls) == 1:  # the old index moved aside, the new one not yet in place
            raise KeyboardInterrupt

    monkeypatch.setattr(store.os, "rename", rename_then_die)
    with pytest.raises(KeyboardInterrupt):
        add_documents(target, [files["b"]], embedder=embedder)
    monkeypatch.setattr(store.os, "rename", real)
    assert not target.exists()
    load_index(target)  # puts the previous index back
    assert tree(target) == before


def test_remove_refuses_unknown_ids_an_empty_library_and_a_missing_index(library, tmp_path):
    before = tree(library["dir"])
    with pytest.raises(NotFoundError, match=r"'nope'.*known ids: book, a"):
        remove_documents(library["dir"], ["a", "nope"])
    with pytest.raises(InputError, match="empty"):
        remove_documents(library["dir"], ["book", "a"])
    assert tree(library["dir"]) == before
    with pytest.raises(IndexStateError, match="docqa add"):
        remove_documents(tmp_path / "none", ["a"])


def test_a_folder_that_is_not_an_index_is_never_touched(files, tmp_path, embedder):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("我的笔记", encoding="utf-8")
    with pytest.raises(IndexStateError, match="not a docqa index") as refused:
        add_documents(user, [files["a"]], embedder=embedder)
    assert "docqa add PATH --index NEW_DIR" in refused.value.hint
    with pytest.raises(IndexStateError, match="not a docqa index"):
        remove_documents(user, ["a"])
    assert tree(user) == {"notes.txt": "我的笔记".encode()}


def test_an_index_without_stored_hubness_means_gets_them_from_the_model(library, files, embedder, monkeypatch,
                                                                       tmp_path):
    from docqa.index.store.hubness import Hubness

    target = tmp_path / "lib"
    shutil.copytree(library["dir"], target)
    monkeypatch.setattr(Hubness, "extended", lambda self, vectors: None)  # as an index built before them
    add_documents(target, [files["b"]], embedder=embedder)
    store = load_index(target)
    rows = np.array([i for i, p in enumerate(store.passages) if p.doc_id == "b"])
    vectors = store.dense.index.reconstruct_n(0, store.dense.size)[rows]
    expected = Hubness.build(vectors, embedder)
    assert np.allclose(store.hub.en[rows], expected.en, atol=1e-5)
    assert np.allclose(store.hub.zh[rows], expected.zh, atol=1e-5)
