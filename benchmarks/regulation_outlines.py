"""Does the outline of every regulation match the headings its text writes?

For each file of a folder of law-like Markdown or text (default: the 120 regulations in
../shared/corpus/regulations), the 编/分编, 章, 节 and 条 headings found by a plain line rule
(a line starting with 第N编/章/节/条, after any Markdown #) are compared with what docqa's
structure reads: the parts and chapters (with their numbers unique within their part), the
sections of each chapter and the numbered units. Prints one line per file that differs and the
count of files that match; exit 1 when any differs (issue 26: "the outline of every regulation
matches its 章/节/条 headings").

    python benchmarks/regulation_outlines.py [FOLDER]
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from docqa.ingest.read import read_documents
from docqa.ingest.structure import cn_number, structure_document

NUM = r"[0-9０-９零〇一二三四五六七八九十百千两]+"
LINE = re.compile(rf"^(?:#+\s*)?(第\s*({NUM})\s*(分编|编|章|节|条))")
DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "regulations"


def _number(s: str) -> int:
    return int(s) if s.isdigit() else cn_number(s)


def written(text: str) -> dict[str, list]:
    """The headings the text writes, by kind, in order (chapters as (part, number))."""
    out: dict[str, list] = {"chapters": [], "sections": [], "units": []}
    part = sub = ""
    for line in text.splitlines():
        m = LINE.match(line.strip())
        if not m:
            continue
        n, kind = _number(m.group(2)), m.group(3)
        if kind == "编":
            part, sub = f"编{n}", ""
        elif kind == "分编":
            sub = f"分编{n}"
        elif kind == "章":
            out["chapters"].append((" ".join(filter(None, [part, sub])), n))
        elif kind == "节":
            out["sections"].append(n)
        else:
            out["units"].append(n)
    return out


def read(path: Path) -> dict[str, list]:
    (doc,) = read_documents([path])
    doc = structure_document(doc)
    parts = []
    for c in doc.chapters:
        names = [p.strip() for p in c.part.split("›")] if c.part else []
        labels = []
        for name in names:
            m = re.match(rf"第\s*({NUM})\s*(分编|编)", name)
            labels.append(f"{m.group(2)}{_number(m.group(1))}" if m else name)
        parts.append((" ".join(labels), c.number))
    return {"chapters": parts, "sections": [s.number for c in doc.chapters for s in c.sections],
            "units": [u[2] for u in doc.units]}


def main(folder: Path) -> int:
    files = sorted(p for p in folder.iterdir() if p.suffix in (".md", ".txt") and p.name != "README.md")
    bad = skipped = 0
    for path in files:
        want = written(path.read_text(encoding="utf-8"))
        if not any(want.values()):  # headed otherwise (一、二、): nothing of this kind to compare
            skipped += 1
            print(f"{path.name}: writes no 第N编/章/节/条 heading, not compared")
            continue
        got = read(path)
        diff = [k for k in want if want[k] != got[k]]
        if diff:
            bad += 1
            print(f"{path.name}: differs in {', '.join(diff)}: "
                  + "; ".join(f"{k} written {want[k][:8]}… read {got[k][:8]}…" for k in diff))
    print(f"{len(files) - skipped - bad}/{len(files) - skipped} files: outline matches the 编/分编/章/节/条 "
          f"headings written ({skipped} without such headings not compared)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))
