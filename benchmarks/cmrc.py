"""Turn CMRC 2018 (SQuAD-style JSON) into a docqa corpus and a question file.

Each context becomes one JSONL document; each question keeps its gold answers and the id of the
document it was asked about, so `docqa eval` counts a hit only in that document.

    python benchmarks/cmrc.py ../shared/bench/cmrc2018_trial.json /tmp/cmrc
    docqa build /tmp/cmrc/docs.jsonl --index /tmp/cmrc/index
    docqa eval /tmp/cmrc/questions.jsonl --index /tmp/cmrc/index

DRCD has the same shape. `--split tune|test` keeps only the tuning or the frozen test articles of
`benchmarks/data/splits/<name>-test-articles.txt` (issue 21), `--max-paragraphs` the first N
paragraphs of those (in file order), for quick iteration:

    python benchmarks/cmrc.py ../shared/bench/DRCD_dev.json /tmp/drcd-tune --split tune --max-paragraphs 300
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


SPLITS = Path(__file__).resolve().parent / "data" / "splits"


def test_articles(source: Path) -> set[str]:
    """The frozen test articles of this set (named by the file: DRCD_* or cmrc*)."""
    name = "drcd" if "drcd" in Path(source).name.lower() else "cmrc"
    return set((SPLITS / f"{name}-test-articles.txt").read_text(encoding="utf-8").split())


def convert(source: Path, out_dir: Path, split: str | None = None, max_paragraphs: int | None = None) -> tuple[Path, Path]:
    data = json.loads(Path(source).read_text(encoding="utf-8"))
    out_dir.mkdir(parents=True, exist_ok=True)
    docs, questions = out_dir / "docs.jsonl", out_dir / "questions.jsonl"
    articles = data["data"]
    if split:
        test = test_articles(source)
        articles = [a for a in articles if (str(a.get("id")) in test) == (split == "test")]
    paragraphs = [(a, p) for a in articles for p in a["paragraphs"]][:max_paragraphs]
    with open(docs, "w", encoding="utf-8") as fd, open(questions, "w", encoding="utf-8") as fq:
        for article, para in paragraphs:
            doc_id = para["id"]
            fd.write(json.dumps({"id": doc_id, "title": article.get("title") or doc_id,
                                 "text": para["context"]}, ensure_ascii=False) + "\n")
            for qa in para["qas"]:
                gold = sorted({a["text"] for a in qa["answers"] if a["text"].strip()})
                if gold and qa["question"].strip():
                    fq.write(json.dumps({"id": qa["id"], "question": qa["question"], "gold": gold,
                                         "doc_id": doc_id}, ensure_ascii=False) + "\n")
    return docs, questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--split", choices=("tune", "test"), help="only the tuning or the frozen test articles")
    parser.add_argument("--max-paragraphs", type=int, help="only the first N paragraphs (after --split)")
    args = parser.parse_args()
    for path in convert(args.source, args.out_dir, args.split, args.max_paragraphs):
        print(path)


if __name__ == "__main__":
    main()
