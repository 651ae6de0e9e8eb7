"""Open WebUI in front of docqa, end to end, offline on 127.0.0.1 (issue 23; not part of pytest).

Starts `docqa serve` (with an API key) and Open WebUI (its own venv, offline settings), makes the
admin user through Open WebUI's API, checks that docqa is listed as a model, asks N questions in
ONE chat in Chromium (the real frontend, so Open WebUI sends its own title/tags/follow-up task
requests), counts the source chips under each reply, opens one chip's pop-up, takes screenshots,
adds docqa's `/mcp` as an MCP (Streamable HTTP) tool server and lists its tools, and finally reads
docqa's access log for 4xx answers. Prints one line per check and exits non-zero if one failed.

    python3.11 -m venv /work/owui-venv && /work/owui-venv/bin/pip install open-webui==0.12.4
    /work/venv/bin/python benchmarks/openwebui_e2e.py --owui /work/owui-venv/bin/open-webui \
        --docqa "$(which docqa)" --questions 20 --shots /tmp/owui-shots

The Python running this needs playwright (Debian's chromium at /usr/bin/chromium) and httpx.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
KEY = "owui-e2e-key"
EMAIL, PASSWORD = "admin@example.invalid", "docqa-e2e-Passw0rd"
CHROMIUM = "/usr/bin/chromium"
ACCESS = re.compile(r'"(GET|POST|HEAD|DELETE|PUT|OPTIONS) (\S+) HTTP/[\d.]+" (\d{3})')

OFFLINE_ENV = {
    # Open WebUI's own switch: no update check, no model downloads (sets HF_HUB_OFFLINE=1).
    "OFFLINE_MODE": "true",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    # No local embedding model is loaded at start (engine "openai" has no local model; docqa
    # does the retrieval, Open WebUI's own RAG is not used here).
    "RAG_EMBEDDING_ENGINE": "openai",
    "RAG_EMBEDDING_MODEL_AUTO_UPDATE": "False",
    "RAG_RERANKING_MODEL_AUTO_UPDATE": "False",
    "ENABLE_OLLAMA_API": "False",
    "ENABLE_VERSION_UPDATE_CHECK": "False",
    "ENABLE_WEB_SEARCH": "False",
    "ENABLE_OPENAI_API": "True",
    "ANONYMIZED_TELEMETRY": "False",
    "DO_NOT_TRACK": "True",
    "SCARF_NO_ANALYTICS": "True",
}


def wait_http(url: str, seconds: float, headers: dict | None = None) -> None:
    deadline = time.time() + seconds
    last = ""
    while time.time() < deadline:
        try:
            r = httpx.get(url, headers=headers, timeout=5, trust_env=False)
            if r.status_code < 500:
                return
            last = f"{r.status_code}"
        except httpx.HTTPError as e:
            last = repr(e)
        time.sleep(1)
    raise SystemExit(f"{url} did not answer in {seconds:.0f} s ({last})")


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    out = open(log, "w")
    return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def __call__(self, ok: bool, what: str, detail: str = "") -> bool:
        print(f"{'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail else ""), flush=True)
        if not ok:
            self.failed.append(what)
        return ok


def questions(n: int) -> list[str]:
    """Answerable questions from the bundled book's dev set, with a short complete question and a
    follow-up among them (what issue 23 saw go wrong)."""
    rows = [json.loads(line) for line in (HERE / "data" / "book-dev.jsonl").read_text("utf-8").splitlines() if line]
    qs = [r["question"] for r in rows]
    picked = qs[:3] + ["那东洋航线呢？", "书的定价是多少？", "作者是谁？"] + qs[3:]
    return picked[:n]


class OpenWebUI:
    """The admin's calls to Open WebUI's own API (what its settings pages send)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=120, trust_env=False)
        self.token = ""

    def _h(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def signup(self) -> dict:
        r = self.http.post("/api/v1/auths/signup", json={"name": "Admin", "email": EMAIL, "password": PASSWORD})
        if r.status_code >= 400:  # a data folder kept from an earlier run: sign in
            r = self.http.post("/api/v1/auths/signin", json={"email": EMAIL, "password": PASSWORD})
        r.raise_for_status()
        self.token = r.json()["token"]
        return r.json()

    def post(self, path: str, body: dict) -> httpx.Response:
        return self.http.post(path, json=body, headers=self._h())

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path, headers=self._h())


def connect_docqa(owui: OpenWebUI, docqa: str, check: Checks) -> None:
    """Admin Panel › Settings › Connections › OpenAI API: verify, then save docqa."""
    url = f"{docqa}/v1"
    bad = owui.post("/openai/verify", {"url": url, "key": "wrong-key"})
    check(bad.status_code >= 400 and "DOCQA_API_KEY" in bad.text, "verify with a wrong key shows docqa's 401 wording",
          bad.text[:160])
    good = owui.post("/openai/verify", {"url": url, "key": KEY})
    check(good.status_code == 200 and "docqa" in good.text, "verify with the key lists docqa", good.text[:120])
    r = owui.post("/openai/config/update", {"ENABLE_OPENAI_API": True, "OPENAI_API_BASE_URLS": [url],
                                             "OPENAI_API_KEYS": [KEY], "OPENAI_API_CONFIGS": {"0": {"enable": True}}})
    check(r.status_code == 200, "connection saved", str(r.status_code))
    models = owui.get("/api/models").json().get("data", [])
    check(any(m.get("id") == "docqa" for m in models), "docqa is in Open WebUI's model list",
          ", ".join(m.get("id", "?") for m in models))


def connect_mcp(owui: OpenWebUI, docqa: str, check: Checks) -> list[str]:
    """Admin Panel › Settings › External Tools › + › MCP (Streamable HTTP): verify, save, list."""
    conn = {"url": f"{docqa}/mcp", "path": "", "type": "mcp", "auth_type": "bearer", "key": KEY,
            "config": {"enable": True}, "info": {"id": "docqa", "name": "docqa",
                                                  "description": "docqa: search and read the books"}}
    v = owui.post("/api/v1/configs/tool_servers/verify", conn)
    specs = v.json().get("specs", []) if v.status_code == 200 else []
    check(v.status_code == 200 and bool(specs), "MCP connection verified", f"{v.status_code} {v.text[:120]}")
    wrong = owui.post("/api/v1/configs/tool_servers/verify", {**conn, "key": "wrong-key"})
    check(wrong.status_code >= 400, "MCP with a wrong key is refused", f"{wrong.status_code}")
    s = owui.post("/api/v1/configs/tool_servers", {"TOOL_SERVER_CONNECTIONS": [conn]})
    check(s.status_code == 200, "MCP connection saved", str(s.status_code))
    tools = owui.get("/api/v1/tools/").json()
    check(any(t.get("id") == "server:mcp:docqa" for t in tools), "docqa's MCP server is among Open WebUI's tools",
          ", ".join(t.get("id", "?") for t in tools))
    listed = owui.get("/api/v1/tools/id/server:mcp:docqa/specs")
    names = [s["name"] for s in listed.json().get("specs", [])] if listed.status_code == 200 else []
    check(len(names) == 6, "its tools listed", ", ".join(names) or listed.text[:120])
    return names


def access_lines(log: Path, since: int = 0) -> list[tuple[str, str, int]]:
    out = []
    for line in log.read_text("utf-8", "replace").splitlines()[since:]:
        m = ACCESS.search(line)
        if m:
            out.append((m.group(1), m.group(2), int(m.group(3))))
    return out


def chat_messages(owui: OpenWebUI, chat_id: str) -> list[dict]:
    """The chat as Open WebUI stored it, oldest first (its messages form a tree; one branch here)."""
    chat = owui.get(f"/api/v1/chats/{chat_id}").json().get("chat", {})
    msgs = chat.get("history", {}).get("messages", {})
    return sorted(msgs.values(), key=lambda m: m.get("timestamp", 0))


def wait_reply(owui: OpenWebUI, chat_id: str, n: int, seconds: float) -> dict | None:
    """The n-th assistant reply once Open WebUI marks it done."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        replies = [m for m in chat_messages(owui, chat_id) if m.get("role") == "assistant"]
        if len(replies) >= n and replies[n - 1].get("done"):
            return replies[n - 1]
        time.sleep(0.5)
    return None


def dismiss_dialogs(page, until: str | None = None, seconds: float = 30) -> None:
    """Open WebUI greets a user with its changelog in a modal, a few seconds after the page loads;
    close it as a person would (its "Okay, Let's Go!" button), until `until` text is on screen."""
    deadline = time.time() + seconds
    quiet = 0
    while time.time() < deadline:
        dialog = page.locator('div[role="dialog"]')
        if dialog.count() and dialog.first.is_visible():
            ok = dialog.locator("button", has_text=re.compile(r"Okay|确认|开始"))
            (ok.last if ok.count() else dialog.locator("button").first).click()
            quiet = 0
        elif until is not None and page.get_by_text(re.compile(until)).count():
            quiet += 1
            if quiet >= 3:
                return
        else:
            quiet += 1
            if until is None and quiet >= 6:
                return
        page.wait_for_timeout(500)


def shoot_sources(page, shots: Path, theme: str, check: Checks) -> None:
    """The last reply's source list opened and its first source's pop-up, in one screenshot."""
    page.evaluate(f"localStorage.theme = '{theme}'")
    page.reload(wait_until="load")
    sources = r"\d+\s*(Sources|个引用来源)"
    dismiss_dialogs(page, until=sources)
    toggle = page.get_by_text(re.compile(sources)).last
    check(toggle.count() > 0, f"the source list toggle is shown ({theme})")
    if not toggle.count():
        return
    toggle.scroll_into_view_if_needed()
    toggle.click()
    page.wait_for_timeout(800)
    page.screenshot(path=str(shots / f"owui-sources-{theme}.png"))
    chip = page.locator("button", has_text=re.compile(r"《")).last
    if chip.count():
        chip.click()
        page.wait_for_timeout(1200)
    dialog = page.locator('div[role="dialog"]')
    check(dialog.count() > 0 and "《" in dialog.last.inner_text(), f"a source opens a pop-up with its passage ({theme})")
    page.screenshot(path=str(shots / f"owui-popup-{theme}.png"))
    page.keyboard.press("Escape")


def ask_in_browser(owui: OpenWebUI, qs: list[str], shots: Path, check: Checks) -> str:
    """Type the questions into one chat in Chromium, as a person would; returns the chat id."""
    from playwright.sync_api import sync_playwright

    chat_id = ""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        ctx.add_init_script(f"localStorage.token = {json.dumps(owui.token)}; localStorage.theme = 'light';")
        outside: list[str] = []
        ctx.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), lambda r: (outside.append(r.request.url), r.abort()))
        page = ctx.new_page()
        page.goto(f"{owui.base}/?models=docqa", wait_until="load")
        box = page.locator("#chat-input")
        box.wait_for(timeout=60_000)
        dismiss_dialogs(page)
        chips: list[int] = []
        for i, q in enumerate(qs, 1):
            dismiss_dialogs(page, seconds=2)
            box.click()
            page.keyboard.insert_text(q)
            page.keyboard.press("Enter")
            if not chat_id:
                page.wait_for_url(re.compile(r"/c/"), timeout=60_000)
                chat_id = page.url.rstrip("/").split("/c/")[-1]
            reply = wait_reply(owui, chat_id, i, 180)
            text = (reply or {}).get("content", "")
            n_src = len((reply or {}).get("sources") or [])
            chips.append((n_src, "[1]" in text))
            print(f"  {i:2d} {q} -> {text[:60]!r}… sources {n_src}", flush=True)
            if reply is None:
                page.screenshot(path=str(shots / "owui-failed.png"))
                check(False, f"question {i} answered", q)
                break
            page.wait_for_timeout(800)
        check(len(chips) == len(qs) and all(n or not cited for n, cited in chips),
              f"{len(qs)} questions answered in one chat, each cited reply with sources",
              str([n for n, _ in chips]) + f"; {sum(1 for n, c in chips if not c)} without [n] (refusals)")
        shown = page.locator("button", has_text="《")
        check(shown.count() > 0, "source chips on screen", f"{shown.count()} chips labelled 《book》 …")
        page.screenshot(path=str(shots / "owui-chips-light.png"))
        for theme in ("light", "dark"):
            shoot_sources(page, shots, theme, check)
        favicons = [u for u in outside if "/favicons" in u]
        check(len(outside) == len(favicons), "nothing but favicons asked for outside 127.0.0.1 (all refused)",
              ", ".join(u for u in outside if u not in favicons)[:200])
        if favicons:
            print(f"note Open WebUI's page asked {len(favicons)} times for a source's favicon from "
                  f"{favicons[0].split('?')[0]} (refused here; offline it shows no icon)")
        browser.close()
    return chat_id


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--owui", default="/work/owui-venv/bin/open-webui", help="Open WebUI's command (its own venv)")
    ap.add_argument("--docqa", default=shutil.which("docqa") or "docqa", help="docqa's command")
    ap.add_argument("--index", help="docqa --index (default: the bundled book)")
    ap.add_argument("--docqa-port", type=int, default=8601)
    ap.add_argument("--owui-port", type=int, default=8602)
    ap.add_argument("--questions", type=int, default=20)
    ap.add_argument("--work", type=Path, help="Open WebUI's data folder and the logs (default: a new temp folder)")
    ap.add_argument("--shots", type=Path, default=Path("/tmp/owui-shots"))
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="owui-e2e-"))
    work.mkdir(parents=True, exist_ok=True)
    args.shots.mkdir(parents=True, exist_ok=True)
    docqa_url, owui_url = f"http://127.0.0.1:{args.docqa_port}", f"http://127.0.0.1:{args.owui_port}"
    check = Checks()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"))}
    docqa_log = work / "docqa.log"
    cmd = [args.docqa, "serve", "--host", "127.0.0.1", "--port", str(args.docqa_port)]
    if args.index:
        cmd += ["--index", args.index]
    docqa = start(cmd, {**env, "DOCQA_API_KEY": KEY}, docqa_log)
    owui_env = {**env, **OFFLINE_ENV, "DATA_DIR": str(work / "data"), "WEBUI_SECRET_KEY": "e2e-secret",
                "NO_PROXY": "127.0.0.1,localhost"}
    owui_proc = start([args.owui, "serve", "--host", "127.0.0.1", "--port", str(args.owui_port)], owui_env,
                      work / "open-webui.log")
    try:
        t0 = time.time()
        wait_http(f"{docqa_url}/readyz", 600)
        wait_http(f"{owui_url}/health", 900)
        print(f"services up in {time.time() - t0:.0f} s (logs in {work})", flush=True)
        owui = OpenWebUI(owui_url)
        user = owui.signup()
        check(user.get("role") == "admin", "first user is the admin", user.get("role", "?"))
        connect_docqa(owui, docqa_url, check)
        before = len(docqa_log.read_text("utf-8", "replace").splitlines())
        chat_id = ask_in_browser(owui, questions(args.questions), args.shots, check)
        lines = access_lines(docqa_log, before)
        chats = [(m, p, s) for m, p, s in lines if p.startswith("/v1/chat/completions")]
        bad = [(m, p, s) for m, p, s in lines if s >= 400]
        print(f"docqa saw {len(chats)} chat requests for {args.questions} questions "
              f"({len(chats) - args.questions} of them Open WebUI's task requests)")
        check(not bad, "no 4xx/5xx in docqa's log during the chat", str(bad[:5]))
        if chat_id:
            title = owui.get(f"/api/v1/chats/{chat_id}").json().get("title", "")
            check(bool(title) and title != "New Chat", "the chat got a title from docqa's task answer", title)
        connect_mcp(owui, docqa_url, check)
    finally:
        stop(owui_proc)
        stop(docqa)
    print(f"{'all checks passed' if not check.failed else 'FAILED: ' + '; '.join(check.failed)}")
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
