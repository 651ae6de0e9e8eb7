import json
import subprocess
import sys

import pytest

from docqa.service.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_does_not_import_heavy_libraries():
    code = ("import sys, docqa.service.cli\n"
            "try:\n    docqa.service.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'sentence_transformers', 'faiss', 'jieba', 'bm25s') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_chapters_json_lists_the_contents(capsys):
    code, out, _ = run(capsys, "chapters", "--json")
    assert code == 0
    data = json.loads(out)
    (doc,) = data["documents"]
    assert [c["number"] for c in doc["chapters"]] == [1, 2, 3, 4, 5, 6, 7]
    assert [c["in_corpus"] for c in doc["chapters"]] == [True] + [False] * 6


def test_chapters_human_output_is_an_indented_tree(capsys):
    code, out, _ = run(capsys, "chapters")
    assert code == 0
    lines = out.splitlines()
    chapter_line = next(i for i, line in enumerate(lines) if "产能合作的背景与意义" in line)
    assert lines[chapter_line + 1].startswith((" ", "\t", "│", "├", "└"))


def test_chapter_json_passages_in_reading_order(capsys):
    code, out, _ = run(capsys, "chapter", "1", "--section", "2", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["number"] == 1
    starts = [p["start"] for p in data["passages"]]
    assert starts == sorted(starts) and starts
    assert {p["source"] for p in data["passages"]} == {"belt-and-road-capacity-cooperation.txt"}
    assert all("第二节" in p["section"] for p in data["passages"])


def test_chapter_only_in_contents_exits_1_with_its_page(capsys):
    code, out, err = run(capsys, "chapter", "6")
    assert code == 1 and out == ""
    assert "table of contents" in err and "207" in err
    assert "chapters with text: 1" in err


def test_unknown_chapter_exits_1(capsys):
    code, _, err = run(capsys, "chapter", "99")
    assert code == 1 and "99" in err


def test_ask_json_against_a_built_index(capsys, book_index):
    code, out, _ = run(capsys, "ask", "本书的责任编辑是谁？", "--index", str(book_index), "--json", "-k", "3")
    assert code == 0
    data = json.loads(out)
    assert "秦绪军" in data["answer"]["text"]
    assert len(data["results"]) == 3
    assert data["answer"]["passage_id"] in {r["passage_id"] for r in data["results"]}
    assert set(data["results"][0]) == {"passage_id", "doc_id", "title", "chapter", "chapter_title", "section",
                                       "subsection", "heading", "source", "start", "end", "page", "page_end",
                                       "page_label", "part", "unit", "text", "score"}


def test_search_batch_writes_one_line_per_question(capsys, book_index, tmp_path):
    qfile = tmp_path / "q.jsonl"
    qfile.write_text('{"id": "a", "question": "这本书的ISBN号是多少？"}\n{"id": "b", "question": "What is the price of the book?"}\n',
                     encoding="utf-8")
    code, out, _ = run(capsys, "search", "--questions", str(qfile), "--json", "-k", "2", "--index", str(book_index))
    assert code == 0
    rows = [json.loads(x) for x in out.splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert all(len(r["results"]) == 2 for r in rows)
    assert "978-7-121-30590-0" in rows[0]["results"][0]["text"]
    assert "69.00元" in rows[1]["answer"]["text"]


def test_search_batch_marks_a_refusal_with_a_null_answer(capsys, book_index, tmp_path):
    qfile = tmp_path / "q.jsonl"
    qfile.write_text('{"id": "x", "question": "怎样做红烧肉？"}\n', encoding="utf-8")
    code, out, _ = run(capsys, "search", "--questions", str(qfile), "--json", "--index", str(book_index))
    row = json.loads(out)
    assert code == 0 and row["answer"] is None
    assert row["refusal"].startswith("这本书里没有找到") and row["results"]
    assert row["confidence"] == "none" and 0 <= row["support"] < 1
    code, out, _ = run(capsys, "search", "--questions", str(qfile), "--json", "--index", str(book_index),
                       "--refusal-threshold", "0")
    row = json.loads(out)
    assert row["answer"] is not None and row["confidence"] == "low", row["support"]


def test_chapter_reading_prints_the_shared_sentence_once(capsys):
    code, out, _ = run(capsys, "chapter", "1")
    assert code == 0
    _, out_json, _ = run(capsys, "chapter", "1", "--json")
    passages = json.loads(out_json)["passages"]
    pairs = [(a, b) for a, b in zip(passages, passages[1:]) if b["start"] < a["end"]]
    assert pairs, "the chapter's passages overlap"
    for a, b in pairs:
        shared = b["text"][: a["end"] - b["start"]].strip().replace("\n", " ")
        assert out.count(shared) == 1, shared


def test_eval_reports_metrics(capsys, book_index, tmp_path):
    qfile = tmp_path / "gold.jsonl"
    qfile.write_text('{"question": "中国在建的自贸区有多少个？", "gold": ["中国在建自贸区20个"]}\n', encoding="utf-8")
    code, out, _ = run(capsys, "eval", str(qfile), "--index", str(book_index), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["questions"] == 1 and report["hit@1"] == 1.0 and report["answer"] == 1.0


@pytest.mark.parametrize("line,expected", [
    ("{bad json", "line 1: not valid JSON"),
    ('{"question": ""}', 'line 1: needs a non-empty "question"'),
    ('{"question": "x"}', 'line 1: needs "gold"'),
])
def test_eval_refuses_bad_question_files(capsys, book_index, tmp_path, line, expected):
    qfile = tmp_path / "bad.jsonl"
    qfile.write_text(line + "\n", encoding="utf-8")
    code, _, err = run(capsys, "eval", str(qfile), "--index", str(book_index))
    assert code == 1 and expected in err


def test_index_for_another_model_is_refused(capsys, book_index):
    code, _, err = run(capsys, "ask", "问题", "--index", str(book_index), "--model", "some/other-model")
    assert code == 1
    assert "built with model" in err and "docqa build" in err


def test_missing_index_dir_is_built_and_bad_paths_refused(capsys, tmp_path):
    code, _, err = run(capsys, "build", str(tmp_path / "nope.txt"), "--index", str(tmp_path / "i"))
    assert code == 1 and "nope.txt" in err
    assert not (tmp_path / "i").exists()


@pytest.mark.parametrize("command", [["list"], ["add", "book.txt"], ["remove", "book"], ["ask", "书的定价是多少？"]])
def test_a_store_uri_given_as_index_is_refused_and_nothing_is_made(command, capsys, tmp_path, monkeypatch):
    """`--index milvus-lite:///…` was read as a relative folder "milvus-lite:": `list` offered to
    create a library there and `add` built one under the current directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "book.txt").write_text("第一章 开端\n\n书的定价是六十九元。\n", encoding="utf-8")
    assert main([*command, "--index", f"milvus-lite://{tmp_path}/books.db/shelf"]) == 1
    err = capsys.readouterr().err.strip()
    assert "is a store URI" in err and "\n" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.txt"]


def test_search_needs_a_question(capsys, book_index):
    code, _, err = run(capsys, "search", "--index", str(book_index))
    assert code == 1 and "QUESTION" in err


@pytest.mark.parametrize("argv, words", [
    (["ask", "外汇", "-k", "51"], ["-k must be from 1 to 50", "51"]),
    (["search", "外汇", "-k", "0"], ["-k must be from 1 to 50"]),
    (["ask", "   "], ["question must not be blank"]),
    (["ask", "\u200b\u200d\ufeff"], ["question must not be blank"]),
    (["ask", "外汇", "--chapter", "99"], ["no chapter 99", "docqa chapters"]),
    (["ask", "外汇", "--doc-id", "nope"], ["'nope' is not in the corpus"]),
])
def test_bad_questions_and_options_exit_1_with_one_line(capsys, book_index, argv, words):
    code, out, err = run(capsys, *argv, "--index", str(book_index))
    assert code == 1 and out == "" and "Traceback" not in err
    last = err.splitlines()[-1]  # (the model's loading bar may come first)
    assert last.startswith("docqa: error: ") and err.count("docqa: error") == 1
    for w in words:
        assert w in last, err


def test_question_too_long_for_the_limit(capsys, book_index, monkeypatch):
    monkeypatch.setenv("DOCQA_MAX_QUESTION_CHARS", "10")
    code, _, err = run(capsys, "ask", "外" * 11, "--index", str(book_index))
    assert code == 1 and "11 characters" in err and "DOCQA_MAX_QUESTION_CHARS" in err


def test_a_bug_is_not_swallowed(capsys, monkeypatch):
    """Only DocqaError becomes a one-line message; a bare ValueError is a bug and keeps its traceback."""
    import docqa.service.cli as cli

    def broken(args, settings):
        raise ValueError("a bug")

    monkeypatch.setitem(cli.COMMANDS, "chapters", broken)
    with pytest.raises(ValueError, match="a bug"):
        main(["chapters"])


def test_a_closed_pipe_ends_the_output_quietly(book_index):
    """`docqa ask … | head -1` must not end in a BrokenPipeError traceback. The reader is gone
    before docqa writes anything, so every write meets a closed pipe."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    ask = subprocess.Popen([sys.executable, "-m", "docqa.service.cli", "ask", "中国外汇储备大约有多少？",
                            "--index", str(book_index)], stdout=write_end, stderr=subprocess.PIPE)
    os.close(write_end)
    err = ask.communicate(timeout=120)[1].decode()
    assert ask.returncode == 141
    assert err == ""


def test_a_question_from_the_command_line_does_not_load_jiebas_dictionary(book_index):
    """The index carries its keyword dictionary as a table that loads in milliseconds."""
    code = ("import sys\nfrom docqa.service.cli import main\n"
            f"assert main(['ask', '中国外汇储备大约有多少？', '--index', {str(book_index)!r}]) == 0\n"
            "from docqa.index.store.tokenize import _base_dictionary\n"
            "print('loaded', _base_dictionary.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "loaded 0"


def test_chapter_numbers_repeating_in_parts_need_the_part(capsys, tmp_path):
    from tests.ingest.test_structure import CODE

    path = tmp_path / "code.md"
    path.write_text(CODE, encoding="utf-8")
    code, _, err = run(capsys, "chapter", "1", str(path))
    assert code == 1 and "several parts" in err and "--part" in err
    code, out, _ = run(capsys, "chapter", "1", str(path), "--part", "第二分编", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["part"] == "第二编 物权 › 第二分编 所有权"
    assert [p["unit"] for p in data["passages"]] == ["第七条"]
    code, out, _ = run(capsys, "chapter", "2", str(path), "--part", "第一编", "--json")
    assert [p["unit"] for p in json.loads(out)["passages"]] == ["第四条"]
    code, out, _ = run(capsys, "chapters", str(path))
    assert out.index("第二编 物权 › 第一分编 通则") < out.index("第二章 物权的设立")


def test_chapter_article_shows_one_numbered_unit(capsys, tmp_path):
    from tests.ingest.test_structure import CODE

    path = tmp_path / "code.md"
    path.write_text(CODE, encoding="utf-8")
    code, out, _ = run(capsys, "chapter", "--article", "七", str(path), "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["unit"], data["number"]) == ("第七条", 7)
    assert [p["text"].splitlines()[-1] for p in data["passages"]] == ["第七条 所有权人享有权利。第三条规定的事项除外。"]
    code, out, _ = run(capsys, "chapter", "--article", "6", str(path), "--json")
    assert json.loads(out)["unit"] == "第6条"
    code, _, err = run(capsys, "chapter", "--article", "99", str(path))
    assert code == 1 and "no unit 99" in err
    code, _, err = run(capsys, "chapter", "--article", "x", str(path))
    assert code == 1 and "17 or 十七" in err


def cli(*argv, **kwargs):
    """The installed command as a user runs it: a child process, its stdout, stderr and exit code."""
    return subprocess.run([sys.executable, "-m", "docqa.service.cli", *argv], capture_output=True, text=True,
                          timeout=kwargs.pop("timeout", 300), **kwargs)


def test_chapters_of_a_chinese_book_speak_chinese():
    done = cli("chapters")
    assert done.returncode == 0, done.stderr
    body = done.stdout.splitlines()[1:]  # the first line is the title, id and file name
    assert "  书前部分" in body and "  各章" in body and "  书后部分" in body
    assert any(line.endswith("（正文未收录，目录第 9 页）") for line in body)
    for words in ("Front matter", "Chapters", "Back matter", "not in corpus", "(p."):
        assert words not in done.stdout


def test_ask_shows_the_answer_and_its_source_and_more_only_when_asked(book_index):
    done = cli("ask", "本书的责任编辑是谁？", "--index", str(book_index))
    assert done.returncode == 0, done.stderr
    answer, source = done.stdout.splitlines()
    assert "秦绪军" in answer
    assert source.startswith("  — ") and "版权页" in source
    for more in (["-v"], ["-k", "3"]):
        done = cli("ask", "本书的责任编辑是谁？", "--index", str(book_index), *more)
        assert done.stdout.splitlines()[0] == answer
        shown = [line for line in done.stdout.splitlines() if line.startswith("[")]
        assert len(shown) == (5 if more == ["-v"] else 3)


def test_ask_refusal_is_one_line_and_a_listed_chapter_is_named_as_the_book_does(book_index):
    done = cli("ask", "澳大利亚的首都是哪里？", "--index", str(book_index))
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1 and "没有" in done.stdout
    done = cli("ask", "第五章的主要内容是什么？", "--index", str(book_index))
    assert done.stdout.startswith("第五章“产能合作典型企业案例”"), done.stdout
    assert "第5章" not in done.stdout


def test_a_busy_port_is_one_line_and_exit_1(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("serve", "--index", str(tmp_path / "shelf"), "--port", str(port), timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("docqa: error: ") and f"port {port}" in done.stderr and "--port" in done.stderr


def test_serve_logs_a_library_change_in_one_line_and_no_polls(tmp_path, cache_dir):
    import time

    import httpx

    from tests.serving import served

    book = "小书\n\n第一章 开始\n\n这是一本很小的书。它讲的是如何开始读一本书。\n".encode()
    with served(tmp_path / "shelf", cache_dir, log_path=tmp_path / "serve.log") as server, \
            httpx.Client(base_url=server.base_url, trust_env=False, timeout=30) as http:
        for _ in range(20):
            assert http.get("/readyz").status_code == 200
            assert http.get("/healthz").status_code == 200
        job = http.post("/documents", files={"file": ("small-book.txt", book)}).json()["job"]["job_id"]
        deadline = time.monotonic() + 240
        while (status := http.get(f"/documents/jobs/{job}").json()["status"]) not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert status == "done"
        assert http.get("/no-such-page").status_code == 404
        time.sleep(0.5)
        log = (tmp_path / "serve.log").read_text()
    assert "/readyz" not in log and "/healthz" not in log and "/documents/jobs" not in log, log
    assert '"POST /documents HTTP/1.1" 202' in log and '"GET /no-such-page HTTP/1.1" 404' in log
    library = [line for line in log.splitlines() if "library:" in line]
    assert len(library) == 1 and "added 小书 [small-book]" in library[0], log
    assert "DEBUG" not in log


def test_build_keeps_progress_on_stderr_and_json_for_json(tmp_path, cache_dir):
    book = tmp_path / "small.txt"
    book.write_text("小书\n\n第一章 开始\n\n这是一本很小的书。它讲的是如何开始读一本书。\n", encoding="utf-8")
    done = cli("build", str(book), "--index", str(tmp_path / "a"))
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert not line.startswith("{") and str(tmp_path / "a") in line and "1 documents" in line
    assert "embedding" in done.stderr  # progress goes to stderr
    done = cli("build", str(book), "--index", str(tmp_path / "b"), "--json")
    assert json.loads(done.stdout)["counts"]["documents"] == 1
