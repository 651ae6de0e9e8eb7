"""Adding a book to a library vs rebuilding it: what `docqa add` saves, in the same run.

    python benchmarks/bench_library.py ../shared/bench/cmrc2018_trial.json --chars 12000

The library holds the bundled book; the book added is made of CMRC 2018 trial contexts (real
Chinese text, CC BY-SA 4.0) up to `--chars` characters. Timed, with one model loaded once and
the embedding cache off (so nothing is served from earlier runs):
  add      `add_documents`: read, embed the new book, copy the bundled book's rows, rebuild BM25, swap;
  floor    embedding the new book's passages and sentences alone (what an add cannot avoid);
  rebuild  a fresh `build_index` of both books;
  remove   `remove_documents` of the added book (no model).
The claim to check: add is close to its floor and well under the rebuild.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def small_book(source: Path, out: Path, chars: int) -> int:
    data = json.loads(source.read_text(encoding="utf-8"))
    contexts = [p["context"] for a in data["data"] for p in a["paragraphs"]]
    body, total = [], 0
    for text in contexts:
        body.append(text)
        total += len(text)
        if total >= chars:
            break
    out.write_text("百科短文选\n\n" + "\n\n".join(body) + "\n", encoding="utf-8")
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cmrc", type=Path, help="cmrc2018_trial.json")
    ap.add_argument("--chars", type=int, default=12000, help="size of the added book in characters")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each timing; the best is reported")
    args = ap.parse_args()

    from docqa.api import DEFAULT_MODEL
    from docqa.corpus import bundled_files
    from docqa.index.cache import default_cache_dir
    from docqa.index.embedding.embedder import load_embedder
    from docqa.index.store.shelf import add_documents, remove_documents
    from docqa.index.ranking import RankingSettings
    from docqa.index.store.directory import build_index, context_kind, embed_passages
    from docqa.ingest.pipeline import chunker_settings, load_corpus

    embedder = load_embedder(DEFAULT_MODEL, default_cache_dir(), embedding_cache=False)
    embedder.encode_queries(["预热"])
    with tempfile.TemporaryDirectory(prefix="bench-library-") as tmp:
        tmp = Path(tmp)
        shutil.copyfile(bundled_files()[0], tmp / "book.txt")
        chars = small_book(args.cmrc, tmp / "added.txt", args.chars)
        base = tmp / "base"
        add_documents(base, [tmp / "book.txt"], embedder=embedder)
        new = load_corpus([tmp / "added.txt"]).passages
        both = load_corpus([tmp / "book.txt", tmp / "added.txt"])
        old_n = len(both.passages) - len(new)
        times: dict[str, list[float]] = {"add": [], "floor": [], "rebuild": [], "remove": []}
        for r in range(args.repeat):
            lib = tmp / f"lib{r}"
            shutil.copytree(base, lib)
            t = time.perf_counter()
            add_documents(lib, [tmp / "added.txt"], embedder=embedder)
            times["add"].append(time.perf_counter() - t)
            t = time.perf_counter()
            remove_documents(lib, ["added"])
            times["remove"].append(time.perf_counter() - t)
            t = time.perf_counter()
            embed_passages(new, embedder, progress=False, say=lambda _m: None,
                           kind=context_kind(embedder, RankingSettings().context_vectors))
            times["floor"].append(time.perf_counter() - t)
            t = time.perf_counter()
            build_index(both, tmp / f"fresh{r}", embedder, chunker=chunker_settings(), progress=False, say=None)
            times["rebuild"].append(time.perf_counter() - t)
    best = {k: min(v) for k, v in times.items()}
    print(f"library: the bundled book ({old_n} passages) + one added book ({len(new)} passages, {chars} chars); "
          f"model {DEFAULT_MODEL}, embedding cache off, best of {args.repeat}")
    print(f"add the book (docqa add)           {best['add']:7.2f} s")
    print(f"  floor: embedding the book alone  {best['floor']:7.2f} s   add/floor   {best['add'] / best['floor']:.2f}")
    print(f"rebuild both from scratch          {best['rebuild']:7.2f} s   add/rebuild {best['add'] / best['rebuild']:.2f}")
    print(f"remove the book (docqa remove)     {best['remove']:7.2f} s")


if __name__ == "__main__":
    main()
