"""An EPUB (2 or 3): spine documents in reading order, the nav/NCX contents as heading levels.

Read with zipfile and lxml: container.xml names the package file, whose spine gives the
order and whose nav document (EPUB 3) or NCX (EPUB 2) gives the contents. Each spine
document's body is read like HTML (`BlockWalker`), keeping navigation-like elements since
in a book they are part of the text; images, scripts and styles are skipped.
"""
from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from urllib.parse import unquote, urldefrag

from docqa.ingest.formats.extracted import Extracted, TextBuilder, file_author
from docqa.ingest.formats.html import BlockWalker, main_element, parse_html
from docqa.ingest.model import IngestError

_DAMAGED = "re-download or re-export it (e.g. with Calibre or pandoc)"


def _xml(z: zipfile.ZipFile, name: str, source: str):
    from lxml import etree

    try:
        return etree.fromstring(z.read(name), etree.XMLParser(recover=True, resolve_entities=False))
    except KeyError:
        raise IngestError(f"{source}: the EPUB is damaged: {name} is missing; {_DAMAGED}") from None
    except (etree.XMLSyntaxError, ValueError, zipfile.BadZipFile, OSError) as e:
        raise IngestError(f"{source}: the EPUB is damaged: {name} cannot be read ({e}); {_DAMAGED}") from None


def _local(el) -> str:
    return el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""


def _toc_levels(z, opf_dir: str, nav_href: str | None, ncx_href: str | None, source: str) -> dict[str, dict[str, int]]:
    """file -> {element id ('' for the file's start) -> depth}, from the nav or the NCX."""
    levels: dict[str, dict[str, int]] = {}

    def add(base: str, href: str, depth: int) -> None:
        target, frag = urldefrag(unquote(href))
        name = posixpath.normpath(posixpath.join(posixpath.dirname(base), target)) if target else base
        levels.setdefault(name, {}).setdefault(frag, depth)

    if nav_href:
        name = posixpath.normpath(posixpath.join(opf_dir, nav_href))
        root = _xml(z, name, source)
        navs = [n for n in root.iter() if _local(n) == "nav" and any(
            k.endswith("type") and "toc" in v for k, v in n.attrib.items())] or \
            [n for n in root.iter() if _local(n) == "nav"]
        if navs:
            def walk(ol, depth):
                for li in (c for c in ol if _local(c) == "li"):
                    for a in (c for c in li if _local(c) == "a" and c.get("href")):
                        add(name, a.get("href"), depth)
                    for sub in (c for c in li if _local(c) == "ol"):
                        walk(sub, depth + 1)
            for ol in (c for c in navs[0] if _local(c) == "ol"):
                walk(ol, 1)
            return levels
    if ncx_href:
        name = posixpath.normpath(posixpath.join(opf_dir, ncx_href))
        root = _xml(z, name, source)

        def walk_ncx(parent, depth):
            for point in (c for c in parent if _local(c) == "navPoint"):
                content = next((c for c in point if _local(c) == "content"), None)
                if content is not None and content.get("src"):
                    add(name, content.get("src"), depth)
                walk_ncx(point, depth + 1)
        for nav_map in (c for c in root if _local(c) == "navMap"):
            walk_ncx(nav_map, 1)
    return levels


def read_epub(path: Path, source: str) -> Extracted:
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise IngestError(f"{source}: the EPUB is damaged (not a readable ZIP: {e}); {_DAMAGED}") from None
    with z:
        container = _xml(z, "META-INF/container.xml", source)
        rootfile = next((el.get("full-path") for el in container.iter() if _local(el) == "rootfile"), None)
        if not rootfile:
            raise IngestError(f"{source}: the EPUB is damaged: container.xml names no package file; {_DAMAGED}")
        opf = _xml(z, rootfile, source)
        opf_dir = posixpath.dirname(rootfile)
        manifest = {el.get("id"): el for el in opf.iter() if _local(el) == "item"}
        spine = next((el for el in opf.iter() if _local(el) == "spine"), None)
        if spine is None:
            raise IngestError(f"{source}: the EPUB is damaged: its package has no spine; {_DAMAGED}")
        title_el = next((el for el in opf.iter() if _local(el) == "title"), None)
        title = (title_el.text or "").strip() or None if title_el is not None else None
        metadata = next((el for el in opf.iter() if _local(el) == "metadata"), None)
        author = file_author(*(el.text for el in (metadata.iter() if metadata is not None else ()) if _local(el) == "creator"))
        nav = next((el.get("href") for el in manifest.values() if "nav" in (el.get("properties") or "").split()), None)
        ncx_item = manifest.get(spine.get("toc") or "")
        levels = _toc_levels(z, opf_dir, nav, ncx_item.get("href") if ncx_item is not None else None, source)
        nav_name = posixpath.normpath(posixpath.join(opf_dir, nav)) if nav else None
        builder = TextBuilder()
        for ref in (el for el in spine if _local(el) == "itemref"):
            if ref.get("linear") == "no":
                continue
            item = manifest.get(ref.get("idref"))
            if item is None or "html" not in (item.get("media-type") or ""):
                continue
            name = posixpath.normpath(posixpath.join(opf_dir, unquote(item.get("href"))))
            if name == nav_name:
                continue  # the contents page is kept as the outline, not as text
            try:
                data = z.read(name)
            except KeyError:
                raise IngestError(f"{source}: the EPUB is damaged: {name} is missing; {_DAMAGED}") from None
            except Exception as e:  # noqa: BLE001 - zlib and CRC errors alike
                raise IngestError(f"{source}: the EPUB is damaged: {name} cannot be read ({e}); {_DAMAGED}") from None
            root = parse_html(data, f"{source}: {name}")
            ids = dict(levels.get(name, {}))
            start = ids.pop("", None)
            walker = BlockWalker(builder, drop_chrome=False, levels=ids)
            walker.pending_level = start
            walker.walk(main_element(root))
            walker.flush()
    out = builder.result(title, author)
    if not out.text.strip():
        raise IngestError(f"{source}: the EPUB has no text in its reading order; {_DAMAGED}")
    return out
