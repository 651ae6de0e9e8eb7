"""Turn CMRC 2018 (SQuAD-style JSON) into a docqa corpus and a question file.

Each context becomes one JSONL document; each question keeps its gold answers and the id of the
document it was asked about, so `docqa eval` counts a hit only in that document.

    python benchmarks/cmrc.py ../shared/bench/cmrc2018_trial.json /tmp/cmrc
    docqa build /tmp/cmrc/docs.jsonl --index /tmp/cmrc/index
    docqa eval /tmp/cmrc/questions.jsonl --index /tmp/cmrc/index
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def convert(source: Path, out_dir: Path) -> tuple[Path, Path]:
    data = json.loads(Path(source).read_text(encoding="utf-8"))
    out_dir.mkdir(parents=True, exist_ok=True)
    docs, questions = out_dir / "docs.jsonl", out_dir / "questions.jsonl"
    with open(docs, "w", encoding="utf-8") as fd, open(questions, "w", encoding="utf-8") as fq:
        for article in data["data"]:
            for para in article["paragraphs"]:
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
    args = parser.parse_args()
    for path in convert(args.source, args.out_dir):
        print(path)


if __name__ == "__main__":
    main()
