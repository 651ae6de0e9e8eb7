"""/read/{passage_id}: a cited passage as a page a browser opens, the link chat frontends show.

Without DOCQA_API_KEY the page carries the passage (readable without JavaScript). With a key
the key is never put in a URL (links get copied, logged and shared): the page is a shell, like
the chat page, that fetches the passage with the key this browser saved on the chat page
(localStorage), and says how to enter it when there is none.
"""
from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from docqa.errors import NotFoundError
from docqa.service import format as fmt
from docqa.service import lookup

router = APIRouter(tags=["book"])

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="{root}static/style.css">
<style>main{{max-width:42rem;margin:2rem auto;padding:0 1rem;line-height:1.8}}
.where{{color:#666;font-size:.9rem}} .text{{white-space:pre-wrap}} nav a{{margin-right:1.5rem}}</style>
</head><body><main>{body}</main>{script}</body></html>"""

_SCRIPT = """<script>
(async () => {
  const id = %s, root = %s, main = document.querySelector("main");
  const key = localStorage.getItem("docqa.apiKey");
  const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})[c]);
  if (!key) { main.innerHTML = '<p>这台 docqa 服务器需要 API 密钥：请先在<a href="' + root + '">问答页</a>点“API 密钥”保存（只存在本浏览器），再刷新本页。<br>This docqa server needs its API key: save it on the <a href="' + root + '">chat page</a> (“API 密钥”), then reload.</p>'; return; }
  const r = await fetch(root + "passages/" + encodeURIComponent(id).replace(/%%2F/g, "/"), {headers: {Authorization: "Bearer " + key}});
  const p = await r.json();
  if (!r.ok) { main.innerHTML = "<p>" + esc(p.detail) + "</p>"; return; }
  document.title = p.heading || p.title;
  const link = (pid, label) => pid ? '<a href="' + root + "read/" + encodeURIComponent(pid).replace(/%%2F/g, "/") + '">' + label + "</a>" : "";
  main.innerHTML = "<p class=where>" + esc(p.title) + "</p><h1>" + esc(p.heading || p.title) + "</h1><p class=where>"
    + esc(p.source) + (p.page ? ", p. " + esc(p.page_label || p.page) : "") + ", chars " + p.start + "–" + p.end
    + "</p><p class=text>" + esc(p.text) + "</p><nav>" + link(p.prev_id, "← 上一段") + link(p.next_id, "下一段 →") + "</nav>";
})();
</script>"""


def _js(value: str) -> str:
    """A JSON string literal safe inside <script> (no "</script>" can close it)."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _root(request: Request) -> str:
    return str(request.base_url)


def passage_html(p: Any, prev_id: str | None, next_id: str | None, root: str) -> str:
    d = fmt.passage_dict(p)
    chinese = fmt.is_chinese(p.text)
    link = lambda pid, label: f'<a href="{root}read/{quote(pid, safe="/:")}">{label}</a>' if pid else ""  # noqa: E731
    body = (f'<p class="where">{html.escape(fmt.book_title(d) or p.title)}</p>'
            f"<h1>{html.escape(d['heading'] or p.title)}</h1>"
            f'<p class="where">{html.escape(fmt.location(d, chinese))}</p>'
            f'<p class="text">{html.escape(p.text)}</p>'
            f"<nav>{link(prev_id, '← 上一段')}{link(next_id, '下一段 →')}"
            f'<a href="{root}">问答页</a></nav>')
    return _PAGE.format(title=html.escape(d["heading"] or p.title), root=root, body=body, script="")


@router.get("/read/{passage_id:path}", response_class=HTMLResponse, include_in_schema=False)
async def read(request: Request, passage_id: str) -> HTMLResponse:
    state = request.app.state.docqa
    root = _root(request)
    if state.settings.api_key:
        script = _SCRIPT % (_js(passage_id), _js(root))
        return HTMLResponse(_PAGE.format(title="docqa", root=root, body="<p>…</p>", script=script))
    s = state.require()
    try:
        p = lookup.passage(s, passage_id)
    except NotFoundError as exc:
        body = f"<p>{html.escape(str(exc))}</p><p><a href=\"{root}\">问答页</a></p>"
        return HTMLResponse(_PAGE.format(title="docqa", root=root, body=body, script=""), status_code=404)
    prev_id, next_id = s.neighbours(passage_id)
    return HTMLResponse(passage_html(p, prev_id, next_id, root))
