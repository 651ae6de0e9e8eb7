"""The bundled book, shipped as package data so an installed docqa finds it too."""
from pathlib import Path

BUNDLED = Path(__file__).resolve().parent


def bundled_files() -> list[Path]:
    return sorted(p for p in BUNDLED.iterdir() if p.suffix in {".txt", ".md", ".jsonl"})
