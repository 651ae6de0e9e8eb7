"""A PDF's text layer as a book's text: reading order, no running heads, paragraphs whole.

pypdfium2 (PDFium, BSD/Apache) gives every character with its box; lines are rebuilt from
the boxes (a content stream's order is not reading order: typesetters often draw quotes in
another font afterwards), then general book rules apply:

- a page set in columns (empty vertical gutters that most lines stop at) is read column by
  column, each shifted onto the first column's margin, so the rules below see one column;
- a line repeated at the same height at the top or bottom of several pages (a running
  header or footer) and a lone page number there are dropped;
- a line that reaches the right margin continues on the next line, unless the next line is
  indented, a heading, or set in another size; CJK wraps join without a space and Latin
  hyphenation is undone (`join_wrapped`);
- a paragraph still open at a page's end is continued by the next page's first paragraph
  when that one is not indented.

The PDF's own bookmarks mark heading levels; page labels are kept when the file defines
them. Pages are read one at a time and closed, so memory grows with the text, not the file.
"""
from __future__ import annotations

import ctypes
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Callable, Iterable

from docqa.ingest.formats.extracted import Extracted, TextBuilder, file_author
from docqa.ingest.model import IngestError, TooLargeError

_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f“”‘’]")
_PAGE_NUMBER = re.compile(
    r"^(?:[-–—·•\s]*(?:\d{1,4}|[ivxlcdm]{1,7})[-–—·•\s]*|第\s*\d{1,4}\s*页(?:\s*共\s*\d+\s*页)?"
    r"|(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?|\d{1,4}\s*/\s*\d{1,4})$", re.I)
_HEADING_START = re.compile(r"^(第\s*[0-9一二三四五六七八九十百零〇两]+\s*[章节篇部编]|chapter\s+\w+\b)", re.I)
_TOC_TAIL = re.compile(r"(?:[.．·…‥⋯_・•]{3,}|\s[/／|｜])\s*\d{1,4}$")


@dataclass
class PdfLine:
    text: str
    x0: float
    x1: float
    y: float  # baseline, PDF units from the page bottom
    size: float


def open_pdf(path: Path, source: str):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        code = getattr(e, "err_code", None)
        if code == 4:
            raise IngestError(f"{source}: the PDF is encrypted with a password; remove the password "
                              "(e.g. `qpdf --decrypt --password=... in.pdf out.pdf`) and read it again") from None
        raise IngestError(f"{source}: the PDF is damaged and cannot be read ({e}); "
                          "re-download or re-export it, or repair it with `qpdf in.pdf out.pdf`") from None


def page_lines(textpage) -> list[PdfLine]:
    """The page's characters grouped into lines by baseline, each line ordered left to right."""
    import pypdfium2.raw as raw

    n = textpage.count_chars()
    chars = []
    x, y = ctypes.c_double(), ctypes.c_double()
    spaced = False  # PDFium put a word gap (a generated space) before the next character
    for i in range(n):
        u = raw.FPDFText_GetUnicode(textpage, i)
        if u in (0, 0xFFFE, 0xFFFF):
            continue
        if raw.FPDFText_IsGenerated(textpage, i) == 1:
            spaced = spaced or u == 0x20
            continue
        ch = chr(u)
        if ch in "\r\n\x02\ufffe\u00ad":
            spaced = False
            continue
        left, _b, right, _t = textpage.get_charbox(i, loose=True)
        raw.FPDFText_GetCharOrigin(textpage, i, x, y)
        size = raw.FPDFText_GetFontSize(textpage, i) or (_t - _b) or 10.0
        chars.append((y.value, left, right, size, ch, spaced))
        spaced = False
    if not chars:
        return []
    chars.sort(key=lambda c: -c[0])
    groups: list[list[tuple]] = []
    for c in chars:
        if groups and abs(groups[-1][0][0] - c[0]) <= 0.45 * max(c[3], groups[-1][0][3]):
            groups[-1].append(c)
        else:
            groups.append([c])
    for g in groups:
        g.sort(key=lambda c: c[1])
    lines = []
    for g in _in_columns(groups):
        size = median(c[3] for c in g if not c[4].isspace()) if any(not c[4].isspace() for c in g) else g[0][3]
        base = median(c[0] for c in g)
        # raised small print inside a line is a note mark: dropped, never spliced into the sentence
        g = [c for c in g if not (c[3] < 0.75 * size and c[0] > base + 0.15 * size)]
        parts: list[str] = []
        prev = None
        for c in g:
            if c[4].isspace():
                if parts and parts[-1] != " ":
                    parts.append(" ")
                continue
            if prev is not None and parts and parts[-1] != " ":
                gap = c[1] - prev[2]
                both_cjk = bool(_CJK.match(prev[4]) and _CJK.match(c[4]))
                if gap > (0.9 if both_cjk else 0.2) * size or (c[5] and not both_cjk and gap > 0.1 * size):
                    parts.append(" ")
            parts.append(c[4])
            prev = c
        text = "".join(parts).strip()
        if text:
            ink = [c for c in g if not c[4].isspace()]
            lines.append(PdfLine(text, ink[0][1], max(c[2] for c in ink), median(c[0] for c in ink), size))
    return _drop_note_marks(lines)


def _gutters(groups: list[list[tuple]]) -> list[tuple[float, float]]:
    """The empty vertical bands that split a page's text into columns, if it is set in columns.

    A band qualifies when almost no line has ink in it (a title or header across the columns
    may), it is at least 0.8 em wide, at least a quarter of the lines have ink on both sides of
    it, each side holds a sixth of the ink in pieces of five or more characters (not a contents
    page's page numbers), and the lines left of it mostly run up to it (justified column text
    does; a table's cells do not)."""
    import numpy as np

    if len(groups) < 6:
        return []
    gapped = 0
    for g in groups:  # cheap first: only lines with a wide gap inside can straddle a gutter
        xs = [c for c in g if not c[4].isspace()]
        gapped += any(b[1] - a[2] >= 0.8 * a[3] for a, b in zip(xs, xs[1:]))
    if gapped < max(3, 0.25 * len(groups)):
        return []
    ink = [(k, c[1], c[2], c[3]) for k, g in enumerate(groups) for c in g if not c[4].isspace()]
    if len(ink) < 60:
        return []
    line, left, right, size = (np.array(v) for v in zip(*ink))
    em = float(np.median(size))
    width = 0.25 * em
    lo = float(left.min())
    a = ((left - lo) // width).astype(np.int64)
    b = np.maximum(((right - lo) // width).astype(np.int64), a)
    nbins = int(b.max()) + 1
    reps = b - a + 1
    bins = np.repeat(a, reps) + (np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps))
    pairs = np.unique(np.repeat(line, reps) * nbins + bins)
    cover = np.bincount(pairs % nbins, minlength=nbins)
    allowed = max(1, int(0.05 * len(groups)))
    empty = cover <= allowed
    out = []
    k = 0
    while k < nbins:
        if not empty[k]:
            k += 1
            continue
        j = k
        while j < nbins and empty[j]:
            j += 1
        if k > 0 and j < nbins and (j - k) * width >= 0.8 * em:
            g0, g1 = lo + k * width, lo + j * width
            lside, rside = right <= g0 + width, left >= g1 - width
            both = len(set(line[lside].tolist()) & set(line[rside].tolist()))
            ends = [right[lside & (line == n)].max() for n in set(line[lside].tolist())]
            runs = [np.bincount(line[side]) for side in (lside, rside)]
            if (both >= max(3, 0.25 * len(groups)) and min(lside.sum(), rside.sum()) >= len(ink) / 6
                    and np.median(ends) >= g0 - 3 * em and min(np.median(r[r > 0]) for r in runs) >= 5):
                out.append((g0, g1))
        k = j
    return out


def _margin_groups(groups: list[list[tuple]], edge: int = 2) -> set[int]:
    """Ids of the lines at the page's top or bottom that are set apart from the body, by a wider
    gap or another type size (headers, footers, page numbers): they span the page, not a
    column, so they are never cut at a gutter."""
    ys = [median(c[0] for c in g) for g in groups]
    gaps = [a - b for a, b in zip(ys, ys[1:])]
    if not gaps:
        return set()
    pitch = median(gaps)
    body = median(c[3] for g in groups for c in g)
    sizes = [median(c[3] for c in g) for g in groups]
    out: set[int] = set()
    for k in range(min(edge, len(gaps))):
        top, bottom = k, len(groups) - 1 - k
        if gaps[k] > 1.5 * pitch or abs(sizes[top] - body) > 0.1 * body:
            out.update(id(g) for g in groups[:top + 1])
        if gaps[-1 - k] > 1.5 * pitch or abs(sizes[bottom] - body) > 0.1 * body:
            out.update(id(g) for g in groups[bottom:])
    return out


def _in_columns(groups: list[list[tuple]]) -> list[list[tuple]]:
    """Baseline groups (top to bottom, each left to right) in reading order: on a page set in
    columns, each line is cut at the gutters and each column is read down before the next,
    between the lines that cross the gutters (titles, headers). Every column is shifted onto the
    first one's left edge, so the margin and indent rules see one column of text."""
    gutters = _gutters(groups)
    if not gutters:
        return groups
    edges = [g[0] for g in gutters]
    margin = _margin_groups(groups)

    def column(c: tuple) -> int:
        mid = (c[1] + c[2]) / 2
        return sum(mid >= e for e in edges)

    starts: list[Counter] = [Counter() for _ in range(len(edges) + 1)]
    cut: list[tuple[str, object]] = []
    for g in groups:
        ink = [c for c in g if not c[4].isspace()]
        if id(g) in margin or any(g0 < c[2] and c[1] < g1 for c in ink for g0, g1 in gutters):
            cut.append(("across", g))
            continue
        parts: dict[int, list[tuple]] = {}
        for c in g:
            parts.setdefault(column(c), []).append(c)
        for n, part in parts.items():
            if any(not c[4].isspace() for c in part):
                starts[n][round(min(c[1] for c in part if not c[4].isspace()))] += 1
        cut.append(("parts", parts))
    base = [cnt.most_common(1)[0][0] if cnt else 0 for cnt in starts]
    shift = [b - base[0] for b in base]
    out: list[list[tuple]] = []
    band: list[list[list[tuple]]] = [[] for _ in starts]

    def flush() -> None:
        for n, col in enumerate(band):
            out.extend([[(c[0], c[1] - shift[n], c[2] - shift[n], *c[3:]) for c in part] for part in col])
            col.clear()

    for kind, item in cut:
        if kind == "across":
            flush()
            out.append(item)
        else:
            for n, part in item.items():
                band[n].append(part)
    flush()
    return out


def _drop_note_marks(lines: list[PdfLine]) -> list[PdfLine]:
    """Superscript note marks (a raised, smaller "1" or "①" grouped as a line of its own) go,
    so a note number is never spliced into the sentence it stands in."""
    out = []
    for i, ln in enumerate(lines):
        near = [n for n in (lines[i - 1] if i else None, lines[i + 1] if i + 1 < len(lines) else None)
                if n is not None and n.size >= 1.25 * ln.size and abs(n.y - ln.y) < n.size]
        if len(ln.text) <= 4 and near:
            continue
        out.append(ln)
    return out


def _has_images(page) -> bool:
    import pypdfium2.raw as raw

    return any(True for _ in page.get_objects(filter=(raw.FPDF_PAGEOBJ_IMAGE,), max_depth=3))


def _key(line: PdfLine) -> tuple[str, int]:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", line.text)), int(line.y // 6)


def running_lines(pages: list[list[PdfLine]], edge: int = 2) -> set[tuple[str, int]]:
    """Keys of lines at a page's top or bottom that recur at the same height on several pages."""
    counts: Counter = Counter()
    for lines in pages:
        ends = {_key(ln) for ln in lines[:edge] + lines[-edge:]}
        counts.update(ends)
    need = 3 if len(pages) >= 6 else 2
    return {k for k, n in counts.items() if n >= need and len(k[0]) > 0}


def _pitch(pages: list[list[PdfLine]]) -> float:
    gaps = [a.y - b.y for lines in pages for a, b in zip(lines, lines[1:])
            if abs(a.size - b.size) < 0.5 and 0 < a.y - b.y < 3 * a.size]
    return median(gaps) if gaps else 14.0


def margin_bands(pages: list[list[PdfLine]]) -> tuple[set[int], set[int]]:
    """Heights (2-unit buckets) where many pages set a line apart from the body above or below it:
    the header and footer bands. A chapter's own running title, on only a few pages, is caught
    here by where it stands even when its text repeats too rarely to be caught by that."""
    pitch = _pitch(pages)
    tops: Counter = Counter()
    bottoms: Counter = Counter()
    firsts: Counter = Counter()
    lasts: Counter = Counter()
    for lines in pages:
        if len(lines) >= 2:
            firsts[round(lines[0].y / 2)] += 1
            lasts[round(lines[-1].y / 2)] += 1
            if lines[0].y - lines[1].y > 1.5 * pitch:
                tops[round(lines[0].y / 2)] += 1
            if lines[-2].y - lines[-1].y > 1.5 * pitch:
                bottoms[round(lines[-1].y / 2)] += 1
    need = max(3, int(0.3 * len(pages)))
    # a band is where the page's end line stands apart nearly always; where the body's first or
    # last line stands too (a paragraph's spacing setting a page's first heading apart), it is not
    return ({y for y, n in tops.items() if n >= need and n >= 0.75 * firsts[y]},
            {y for y, n in bottoms.items() if n >= need and n >= 0.75 * lasts[y]})


def _in_band(line: PdfLine, band: set[int]) -> bool:
    b = round(line.y / 2)
    return b in band or b - 1 in band or b + 1 in band


def strip_running(lines: list[PdfLine], running: set[tuple[str, int]], edge: int = 2,
                  bands: tuple[set[int], set[int]] = (set(), set()), pitch: float = 14.0) -> list[PdfLine]:
    """The page without its running header/footer lines and page-number lines at either end."""
    keep = list(lines)
    top, bottom = bands
    for _ in range(edge):
        if keep and (_key(keep[0]) in running or _PAGE_NUMBER.match(keep[0].text)
                     or (_in_band(keep[0], top) and len(keep) > 1 and keep[0].y - keep[1].y > 1.3 * pitch
                         and keep[0].size <= 1.1 * keep[1].size)):
            keep.pop(0)
    for _ in range(edge):
        if keep and (_key(keep[-1]) in running or _PAGE_NUMBER.match(keep[-1].text)
                     or (_in_band(keep[-1], bottom) and len(keep) > 1 and keep[-2].y - keep[-1].y > 1.3 * pitch
                         and keep[-1].size <= 1.1 * keep[-2].size)):
            keep.pop()
    return keep


@dataclass
class _Layout:
    left: float
    right: float
    pitch: float
    size: float = 0.0  # the body text's font size
    indents: bool = False  # paragraphs start with a first-line indent


def _is_note(para: list[PdfLine], lay: _Layout) -> bool:
    """Small print (footnotes) below the body text."""
    return lay.size > 0 and max(ln.size for ln in para) <= 0.85 * lay.size


def layout(pages: Iterable[list[PdfLine]]) -> _Layout:
    """The body's left and right margins and line pitch, by majority over the whole file."""
    lefts: Counter = Counter()
    sizes: Counter = Counter()
    rights: list[float] = []
    pitches: list[float] = []
    for lines in pages:
        for a, b in zip(lines, lines[1:]):
            if abs(a.size - b.size) < 0.5 and 0 < a.y - b.y < 3 * a.size:
                pitches.append(a.y - b.y)
        for ln in lines:
            lefts[round(ln.x0)] += 1
            sizes[round(ln.size * 2) / 2] += len(ln.text)
            rights.append(ln.x1)
    if not rights:
        return _Layout(0, 0, 12)
    rights.sort()
    left, size = float(lefts.most_common(1)[0][0]), sizes.most_common(1)[0][0]
    indented = sum(n for x, n in lefts.items() if left + 1.5 * size <= x <= left + 2.5 * size)
    return _Layout(left, rights[int(0.95 * (len(rights) - 1))], median(pitches) if pitches else 14.0, size,
                   indented >= max(3, 0.03 * len(rights)))


def _full(line: PdfLine, nxt: PdfLine | None, lay: _Layout) -> bool:
    """Whether `line` runs to the right margin (so its paragraph goes on)."""
    room = lay.right - line.x1
    if room <= 2.5 * line.size:
        return True
    if nxt is not None and not _CJK.match(nxt.text[0]):
        first = _CJK.split(nxt.text.split(" ", 1)[0], 1)[0]  # the Latin word that did not fit
        return room < (len(first) + 1) * 0.6 * line.size
    return False


def _starts_paragraph(prev: PdfLine, line: PdfLine, lay: _Layout) -> bool:
    if abs(prev.size - line.size) > 0.8:
        return True
    if line.x0 > lay.left + 0.8 * line.size or line.x0 < lay.left - 0.8 * line.size:
        return True
    if prev.y - line.y > 1.6 * lay.pitch:
        return True
    if _HEADING_START.match(line.text) or _TOC_TAIL.search(prev.text) or _HEADING_START.match(prev.text):
        return True
    return not _full(prev, line, lay)


def paragraphs(lines: list[PdfLine], lay: _Layout) -> list[tuple[list[PdfLine], bool]]:
    """Lines grouped into paragraphs, each with whether it is still open at the page's end
    (only the last body paragraph can be: footnotes below it do not close it)."""
    out: list[list[PdfLine]] = []
    for i, line in enumerate(lines):
        if out and not _starts_paragraph(lines[i - 1], line, lay):
            out[-1].append(line)
        else:
            out.append([line])
    result = []
    body_last = max((k for k, para in enumerate(out) if not _is_note(para, lay)), default=-1)
    for k, para in enumerate(out):
        last = para[-1]
        open_ = (k == body_last and _full(last, None, lay) and not _HEADING_START.match(last.text)
                 and not _TOC_TAIL.search(last.text)
                 and (lay.indents or last.text[-1] not in "。！？!?：:"))  # with indents the next page tells
        result.append((para, open_))
    return result


def _continues(first: PdfLine, prev_size: float | None, lay: _Layout) -> bool:
    """A page's first line that carries on the paragraph left open on the page before."""
    if prev_size is not None and abs(prev_size - first.size) > 0.8:
        return False
    return abs(first.x0 - lay.left) <= 0.8 * first.size and not _HEADING_START.match(first.text)


_LIST_HEAD = re.compile(r"^([一二三四五六七八九十]+[、．.]|[（(][一二三四五六七八九十\d]+[)）]|\d+[.、．]\S)")


def _heading_like(para: list[PdfLine], lay: _Layout) -> bool:
    """A lone short line or a numbered head: after a finished sentence, a heading, not a widow."""
    return bool(_LIST_HEAD.match(para[0].text)) or (len(para) == 1 and not _full(para[0], None, lay))


def _bookmarks(pdf) -> dict[int, list[tuple[str, int]]]:
    out: dict[int, list[tuple[str, int]]] = {}
    try:
        for item in pdf.get_toc():
            if hasattr(item, "get_title"):  # pypdfium2 5
                dest = item.get_dest()
                title, index = item.get_title(), dest.get_index() if dest is not None else None
            else:  # pypdfium2 4
                title, index = item.title, item.page_index
            if index is None or not title:
                continue
            out.setdefault(index, []).append((title, item.level + 1))
    except Exception:  # noqa: BLE001 - a broken outline only loses the hints
        return {}
    return out


def _compact(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _heading_level(text: str, marks: list[tuple[str, int]]) -> int | None:
    t = _compact(text)
    for title, level in marks:
        c = _compact(title)
        if t and (c == t or c.startswith(t) and len(t) >= 2 or t.startswith(c) and len(t) <= len(c) + 4):
            marks.remove((title, level))
            return level
    return None


def read_pdf(path: Path, source: str, *, ocr: Callable | None = None,
             progress: Callable[[int, int], None] | None = None) -> Extracted:
    """The PDF's text, its bookmarks as heading levels and its page map.

    Pages without a text layer but with images are handed to `ocr(page) -> list[PdfLine]`;
    without it, an `IngestError` lists them and says how to get OCR.
    """
    from docqa.ingest.formats.limits import MAX_PAGE_SETTING, max_page_chars

    page_limit = max_page_chars()
    pdf = open_pdf(path, source)
    try:
        count = len(pdf)
        if count == 0:
            raise IngestError(f"{source}: the PDF has no pages; re-export it")
        pages: list[list[PdfLine]] = []
        scanned: list[int] = []
        labels: list[str | None] = []
        for i in range(count):
            page = None
            try:
                page = pdf[i]  # PDFium refuses a page it cannot load (e.g. a page tree that lists itself)
                textpage = page.get_textpage()
                if textpage.count_chars() > page_limit:
                    raise TooLargeError(
                        f"{source}: page {i + 1} of the PDF has {textpage.count_chars():,} characters, more than "
                        f"the {page_limit:,} one page may have (no printed page is near it; a damaged file or a bomb)",
                        hint=f"re-export the PDF from its source, or raise the limit: set {MAX_PAGE_SETTING}")
                lines = page_lines(textpage)
                textpage.close()
                if not lines and _has_images(page):
                    if ocr is None:
                        scanned.append(i + 1)
                    else:
                        lines = ocr(page)
            except IngestError:
                raise
            except Exception as e:  # noqa: BLE001 - PDFium errors on a broken page
                raise IngestError(f"{source}: page {i + 1} of the PDF is damaged ({e}); "
                                  "re-export the PDF or repair it with `qpdf in.pdf out.pdf`") from None
            finally:
                if page is not None:
                    page.close()
            pages.append(lines)
            try:
                label = pdf.get_page_label(i) or None
            except Exception:  # noqa: BLE001
                label = None
            labels.append(label)
            if progress:
                progress(i + 1, count)
        if scanned:
            raise IngestError(
                f"{source}: {len(scanned)} of {count} pages have no text layer (scanned: pages "
                f"{_ranges(scanned)}); install OCR with `pip install 'docqa[ocr]'` and build again")
        if not any(pages):
            raise IngestError(f"{source}: the PDF has no text at all (no text layer and no images); "
                              "export it again with text, or give the text in another format")
        marks = _bookmarks(pdf)
        title = (pdf.get_metadata_value("Title") or "").strip() or None
        author = file_author(pdf.get_metadata_value("Author"))
    finally:
        pdf.close()

    running = running_lines(pages)
    bands = margin_bands(pages)
    pitch = _pitch(pages)
    pages = [strip_running(lines, running, bands=bands, pitch=pitch) for lines in pages]
    lay = layout(pages)
    builder = TextBuilder()
    prev_size: float | None = None
    notes: list[str] = []  # footnotes wait until the paragraph they interrupt is finished
    for i, lines in enumerate(pages):
        builder.page(i + 1, labels[i])
        page_marks = list(marks.get(i, []))
        paras = paragraphs(lines, lay)
        first = True
        for para, open_ in paras:
            text = _join(para)
            if _is_note(para, lay) and (builder.is_open or notes):
                notes.append(text)
                continue
            level = _heading_level(text, page_marks) if page_marks else None
            if first and level is None and builder.is_open and _continues(para[0], prev_size, lay) \
                    and not (builder.last_char in "。！？!?" and _heading_like(para, lay)):
                builder.continue_(text, open_=open_)
            else:
                builder.close()
                for note in notes:
                    builder.paragraph(note)
                notes = []
                builder.paragraph(text, level, open_=open_)
            first = False
            prev_size = para[-1].size
            if not builder.is_open and notes:
                for note in notes:
                    builder.paragraph(note)
                notes = []
        if not paras:
            builder.close()
    builder.close()
    for note in notes:
        builder.paragraph(note)
    return builder.result(title, author)


def _join(lines: list[PdfLine]) -> str:
    from docqa.ingest.formats.extracted import join_wrapped

    text = lines[0].text
    for ln in lines[1:]:
        text = join_wrapped(text, ln.text)
    return text


def _ranges(numbers: list[int]) -> str:
    out, start = [], numbers[0]
    for a, b in zip(numbers, numbers[1:] + [None]):
        if b != a + 1:
            out.append(str(start) if start == a else f"{start}-{a}")
            start = b
    return ", ".join(out)
