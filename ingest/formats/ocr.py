"""OCR for scanned PDF pages through rapidocr (the optional `docqa[ocr]` extra).

rapidocr ships Chinese detection and recognition models and runs on onnxruntime, so no
model is fetched at run time. Each page is rendered by PDFium and its recognised text lines
become `PdfLine`s, which then go through the same book rules as a text layer.
"""
from __future__ import annotations

from typing import Callable

RENDER_SCALE = 2.0  # 144 dpi: small CJK print stays legible to the recogniser


def ocr_available() -> bool:
    try:
        import rapidocr  # noqa: F401
    except ImportError:
        return False
    return True


def ocr_reader() -> Callable | None:
    """`page -> list[PdfLine]` when rapidocr is installed, else None."""
    if not ocr_available():
        return None
    engine = {}

    def read(page):
        from docqa.ingest.formats.pdf import PdfLine

        if "e" not in engine:
            from rapidocr import RapidOCR
            engine["e"] = RapidOCR(params={"Global.log_level": "error", "Global.use_cls": False})
        import numpy as np

        image = page.render(scale=RENDER_SCALE).to_numpy()
        result = engine["e"](np.ascontiguousarray(image[:, :, :3]))
        boxes = getattr(result, "boxes", None)
        texts = getattr(result, "txts", None)
        if boxes is None or texts is None:
            return []
        height = page.get_height()
        lines = []
        for box, text in zip(boxes, texts):
            xs = [float(p[0]) / RENDER_SCALE for p in box]
            ys = [float(p[1]) / RENDER_SCALE for p in box]
            size = max(ys) - min(ys)
            text = str(text).strip()
            if text:
                lines.append(PdfLine(text, min(xs), max(xs), height - max(ys) + 0.2 * size, size * 0.85))
        return _rows(lines)
    return read


def _rows(lines):
    """Recognised boxes in reading order: top to bottom, boxes on one baseline joined left to
    right; sizes within a quarter of the page's median are taken as the body size (the
    recogniser's box heights jitter, a typesetter's sizes do not)."""
    from statistics import median

    from docqa.ingest.formats.pdf import PdfLine

    if not lines:
        return []
    body = median(ln.size for ln in lines)
    for ln in lines:
        if abs(ln.size - body) <= 0.25 * body:
            ln.size = body
    lines.sort(key=lambda ln: -ln.y)
    rows: list[list] = []
    for ln in lines:
        if rows and abs(rows[-1][0].y - ln.y) < 0.5 * min(ln.size, rows[-1][0].size):
            rows[-1].append(ln)
        else:
            rows.append([ln])
    out = []
    for row in rows:
        row.sort(key=lambda ln: ln.x0)
        out.append(PdfLine(" ".join(ln.text for ln in row), row[0].x0, max(ln.x1 for ln in row),
                           row[0].y, max(ln.size for ln in row)))
    return out
