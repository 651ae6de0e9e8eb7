"""Make real PDF, EPUB and DOCX books from a plain-text book with real tools.

python-docx writes the DOCX (a running header with the book's title and a page-number
footer, first-line indents, optional heading styles); LibreOffice prints it to PDF; pandoc
turns the DOCX into an EPUB. Used by the tests and the benchmarks, so both judge files the
way readers have them, not strings made to suit the readers.

    python benchmarks/make_books.py BOOK.txt OUTDIR [--headings]
"""
from __future__ import annotations

import argparse
import random
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

_HEADING = re.compile(r"^(第\s*[0-9一二三四五六七八九十百]+\s*[章节]|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[)）])")


_WORDS = ("山川", "河流", "湖泊", "城市", "街道", "田野", "农人", "商旅", "古道", "驿站", "书院", "集市",
          "桥梁", "渡口", "港湾", "灯塔", "森林", "草原", "雪峰", "溪谷", "村落", "庙宇", "茶园", "瓷窑")
_VERBS = ("见证了", "连接着", "养育了", "环绕着", "记录了", "改变了", "守护着", "滋润了")
MARKERS = [f"标记句{c}说明此处独有的内容" for c in "甲乙丙丁戊己庚辛"]


def _paragraph(rng: random.Random, sentences: int, marker: str | None = None) -> str:
    out = []
    for k in range(sentences):
        a, b, c = rng.sample(_WORDS, 3)
        out.append(f"{a}{rng.choice(_VERBS)}{b}和{c}，{rng.choice(_WORDS)}因此{rng.choice(_VERBS)}远方的{rng.choice(_WORDS)}。")
        if marker and k == sentences // 2:
            out.append(marker + "。")
    return "".join(out)


def cn_numeral(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return (digits[tens] if tens > 1 else "") + "十" + (digits[ones] if ones else "")


def book_text(chapters: int = 2, seed: int = 7, section_paras: int = 3) -> tuple[str, list[str]]:
    """A made-up Chinese book as plain text (one paragraph a line) and its body paragraphs.

    Contents with page numbers, chapters of two sections (the first with 一、二、 subsections),
    paragraphs of 12-20 sentences (so many run across a page end), a marker sentence in some,
    and 参考文献 at the end. Chapters after the second have two sections of paragraphs
    each (`section_paras`), to make long books.
    """
    rng = random.Random(seed)
    markers = iter(MARKERS)
    paras: list[str] = []

    def body(n: int, mark: bool = True) -> list[str]:
        ps = [_paragraph(rng, rng.randint(12, 20), next(markers, None) if mark and i == 0 else None)
              for i in range(n)]
        paras.extend(ps)
        return ps

    extra = [(n, rng.choice(_WORDS) + rng.choice(_WORDS)) for n in range(3, chapters + 1)]
    toc = [f"第{cn_numeral(n)}章 {t} / {4 * n - 3:03d}" for n, t in extra]
    lines = ["山河图志", "内容简介", _paragraph(rng, 3), "目录",
             "第一章 山川 / 001", "第一节 河流 / 001", "第二节 湖泊 / 003",
             "第二章 城市 / 005", "第一节 街道 / 005", "第二节 集市 / 007", *toc,
             f"参考文献 / {4 * chapters + 1:03d}",
             "第一章 山川", *body(1), "第一节 河流", *body(3), "第二节 湖泊", "一、源头", *body(2),
             "二、下游", *body(2), "第二章 城市", *body(1), "第一节 街道", *body(3), "第二节 集市", *body(3)]
    for n, title in extra:
        lines += [f"第{cn_numeral(n)}章 {title}", "第一节 由来", *body(section_paras, False), "第二节 现状", *body(section_paras, False)]
    lines += ["参考文献", "[1] 张三. 山河志. 北京: 某出版社, 2001.", "[2] 李四. 城市史. 上海: 某出版社, 2005."]
    return "\n".join(lines) + "\n", paras


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def make_docx(text: str, out: Path, *, header: str = "", headings: bool = False) -> Path:
    """One paragraph per line of `text` (blank lines dropped); a running header and page numbers.

    With `headings`, lines that look like 第X章/第X节/一、/（一） headings get Heading 1-4 styles.
    """
    from docx import Document
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    section = doc.sections[0]
    if header:
        section.header.paragraphs[0].text = header
    footer = section.footer.paragraphs[0]
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.text = "1"
    run.append(t)
    field.append(run)
    footer._p.append(field)
    footer.alignment = 1
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        listed = re.search(r"(\s[/／]\s*|\s)\d{1,4}$", line)  # a contents entry, not a heading
        m = _HEADING.match(line) if headings and not listed else None
        if m:
            marker = m.group(1)
            level = 1 if marker.endswith("章") else 2 if marker.endswith("节") else 3 if "、" in marker else 4
            doc.add_heading(line, level=level)
            continue
        p = doc.add_paragraph(line)
        if len(line) > 40:
            p.paragraph_format.first_line_indent = Pt(21)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc.save(out)
    return out


def to_pdf(docx: Path, outdir: Path, kind: str = "pdf") -> Path:
    """LibreOffice prints the DOCX to PDF, or saves it as `kind` ("odt": its own format), with a
    private profile, so parallel runs do not clash."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless",
                        "--convert-to", kind, "--outdir", str(outdir), str(docx)],
                       check=True, capture_output=True, timeout=600)
    return outdir / f"{docx.stem}.{kind}"


def to_epub(docx: Path, out: Path, title: str = "") -> Path:
    cmd = ["pandoc", str(docx), "-o", str(out), "--toc"]
    if title:
        cmd += ["--metadata", f"title={title}"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("book", type=Path)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--headings", action="store_true", help="give heading lines Word heading styles")
    ap.add_argument("--header", default="", help="running header text (default: none)")
    args = ap.parse_args()
    text = args.book.read_text(encoding="utf-8")
    stem = args.book.stem
    docx = make_docx(text, args.outdir / f"{stem}.docx", header=args.header, headings=args.headings)
    print(docx)
    print(to_pdf(docx, args.outdir))
    print(to_pdf(docx, args.outdir, "odt"))
    print(to_epub(docx, args.outdir / f"{stem}.epub", title=args.header or stem))


if __name__ == "__main__":
    main()
