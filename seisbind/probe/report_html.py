"""report.html: report.md rendered for a browser as one file that needs nothing else (no script, font or style
sheet fetched, the figures inlined as base64 PNG), so it can be mailed or opened offline and shows what report.md
says. Markdown is rendered with markdown-it-py (CommonMark plus tables, a line break kept as one), raw HTML in the
text left as text."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from markdown_it import MarkdownIt

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a;
       line-height: 1.45; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #c8c8c8; padding: 0.2rem 0.5rem; text-align: right; }
th { background: #eef1f5; }
img { max-width: 100%; border: 1px solid #ddd; }
hr { margin: 2rem 0; }
"""


def to_html(markdown: str, folder: Path) -> str:
    """The page: `markdown` rendered, every image whose source is a PNG file name in `folder` inlined."""
    body = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable("table").render(markdown)
    body = re.sub(r'src="([^"/]+\.png)"', lambda m: f'src="{_data_uri(folder / html.unescape(m[1]))}"', body)
    title = html.escape(markdown.splitlines()[0].lstrip("# ") if markdown else "report")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n")


def _data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")
