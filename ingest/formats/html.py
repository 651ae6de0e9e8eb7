"""HTML and XHTML to text: block elements become paragraphs, <h1>-<h6> heading levels.

Scripts, styles, forms and images carry no reading text and are dropped; so are a page's
navigation, header and footer (site chrome), and the main text is taken from <main> or
<article> when the page marks one. Note references (a superscript link to a note) are
dropped so a note number is never spliced into a sentence; the notes themselves stay where
the file puts them, as paragraphs of their own.
"""
from __future__ import annotations

import re
from pathlib import Path

from docqa.ingest.formats.extracted import Extracted, TextBuilder
from docqa.ingest.formats.limits import DEFAULT_MAX_HTML_BYTES, DEFAULT_MAX_HTML_TAGS
from docqa.ingest.model import IngestError, TooLargeError

SKIP = {"script", "style", "noscript", "template", "img", "svg", "math", "head", "iframe", "object",
        "embed", "button", "form", "input", "select", "textarea", "canvas", "video", "audio", "map"}
CHROME = {"nav", "header", "footer", "aside", "menu"}
BLOCKS = {"p", "div", "section", "article", "main", "blockquote", "pre", "li", "ul", "ol", "dl", "dt",
          "dd", "table", "tr", "td", "th", "thead", "tbody", "figure", "figcaption", "caption",
          "address", "hr", "br", "body", "html", "center", "nav", "header", "footer", "aside", "h1",
          "h2", "h3", "h4", "h5", "h6", "hgroup", "details", "summary", "fieldset", "legend"}
_HEADING = re.compile(r"^h([1-6])$")
_NOTE_TYPES = re.compile(r"noteref|doc-noteref|footnote-ref|fnref", re.I)


def _tag(el) -> str:
    tag = el.tag if isinstance(el.tag, str) else ""
    return tag.rsplit("}", 1)[-1].lower()


def _is_noteref(el) -> bool:
    attrs = " ".join(str(v) for k, v in el.attrib.items() if k.rsplit("}", 1)[-1] in ("type", "role", "class")
                     or k.endswith(":type"))
    if _NOTE_TYPES.search(attrs):
        return True
    if _tag(el) == "sup":
        links = [c for c in el if _tag(c) == "a"]
        text = "".join(el.itertext()).strip()
        return bool(links) and len(text) <= 4 and all((a.get("href") or "").startswith("#") or "#" in (a.get("href") or "")
                                                      for a in links)
    return False


class BlockWalker:
    """Walks an element tree, writing paragraphs into a `TextBuilder`."""

    def __init__(self, builder: TextBuilder, *, drop_chrome: bool, levels: dict[str, int] | None = None) -> None:
        self.builder = builder
        self.drop_chrome = drop_chrome
        self.levels = levels or {}  # element id -> heading level from a table of contents
        self.buf: list[str] = []
        self.level: int | None = None
        self.pending_level: int | None = None

    def flush(self) -> None:
        text = "".join(self.buf)
        self.buf = []
        if text.strip():
            self.builder.paragraph(text, self.level or self.pending_level)
            self.pending_level = None
        self.level = None

    def walk(self, el) -> None:
        tag = _tag(el)
        if not tag:  # comments, processing instructions
            if el.tail:
                self.buf.append(el.tail)
            return
        if tag in SKIP or (self.drop_chrome and tag in CHROME) or _is_noteref(el):
            if el.tail:
                self.buf.append(el.tail)
            return
        block = tag in BLOCKS
        m = _HEADING.match(tag)
        el_id = el.get("id")
        if block:
            self.flush()
        if el_id and el_id in self.levels and not m:
            self.pending_level = self.levels[el_id]
        if m:
            self.level = self.levels.get(el_id, int(m.group(1))) if el_id else int(m.group(1))
        if el.text:
            self.buf.append(el.text)
        for child in el:
            self.walk(child)
        if block:
            if m:
                self.level = self.level or int(m.group(1))
            self.flush()
        if el.tail:
            self.buf.append(el.tail)


def main_element(root):
    for name in ("main", "article"):
        found = root.xpath(f"//*[local-name()='{name}']")
        if len(found) == 1:
            return found[0]
    body = root.xpath("//*[local-name()='body']")
    return body[0] if body else root


_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)


def decode_html(data: bytes, source: str) -> str:
    """The page's declared charset when it names one Python knows, else UTF-8, GB18030 or a guess."""
    from docqa.ingest.encoding import decode

    m = _META_CHARSET.search(data[:4096])
    if m and not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode(m.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    return decode(data, source)[0]


def parse_html(data: bytes, source: str):
    import lxml.html
    from lxml import etree

    try:
        return lxml.html.document_fromstring(_XML_DECL.sub("", decode_html(data, source)))
    except (etree.ParserError, ValueError) as e:
        raise IngestError(f"{source}: the HTML cannot be parsed ({e}); save the page again") from None


def read_html(path: Path, source: str, *, max_bytes: int = DEFAULT_MAX_HTML_BYTES,
              max_tags: int = DEFAULT_MAX_HTML_TAGS) -> Extracted:
    """The page's text. A file over `max_bytes`, or with more than `max_tags` tags, is refused
    before it is parsed: parsing holds the whole tree (see `formats.limits`)."""
    size = path.stat().st_size
    if size > max_bytes:
        raise TooLargeError(f"{source}: the HTML file is {size:,} bytes, more than the {max_bytes:,} docqa parses "
                            "in one page (parsing holds the whole page in memory)",
                            hint="split it into one file per chapter, or give the text as .txt")
    data = path.read_bytes()
    tags = data.count(b"<")
    if tags > max_tags:
        raise TooLargeError(f"{source}: the HTML has {tags:,} tags, more than the {max_tags:,} docqa parses in one "
                            "page (no book page is near it; a damaged file or a bomb)",
                            hint="split it into one file per chapter, or give the text as .txt")
    root = parse_html(data, source)
    titles = root.xpath("//*[local-name()='title']")
    title = (titles[0].text_content().strip() or None) if titles else None
    builder = TextBuilder()
    BlockWalker(builder, drop_chrome=True).walk(main_element(root))
    out = builder.result(title)
    if not out.text.strip():
        raise IngestError(f"{source}: the HTML page has no text outside navigation and scripts; "
                          "save the page with its text, or give the text as .txt")
    return out
