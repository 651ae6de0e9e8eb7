// docqa chat page: asks through the OpenAI-compatible endpoint (so follow-ups keep their
// context) and opens cited passages in their chapter. No framework, no network beyond this server.
// Every word the page shows comes from T, in the browser's language (Chinese unless it asks for English);
// the server's own messages (English, for developers) are kept in tooltips only.
"use strict";

const KEY_STORE = "docqa.apiKey";
const CHAT_STORE = "docqa.chat";
const LANG = /^en\b/i.test(navigator.language || "") ? "en" : "zh";
const $ = (id) => document.getElementById(id);

const T = {
  zh: {
    appTitle: "书中问答", askIn: "问", scopeTitle: "在一本书中提问，或在全部书中提问", allBooksPlain: "全部书籍",
    allBooks: (n) => `全部书籍（${n}）`, shelf: "书架", shelfCount: (n) => `书架 · ${n} 本书`, newChat: "新对话",
    apiKey: "API 密钥", apiKeyTitle: "服务器要求密钥时，在这里填写", save: "保存", clear: "清除",
    keyNote: "只保存在这个浏览器里。", needKey: "这个服务器需要 API 密钥：请向它的管理员索取，填在上面。",
    wrongKey: "API 密钥不对：请检查后重新填写。", chatLabel: "问答", readerLabel: "原文", close: "关闭",
    hint: "用中文或英文提问，回答会附上出处：点击出处，在旁边打开它所在的章节。", examples: "例如：",
    placeholder: "输入问题，按 Enter 发送（Shift+Enter 换行）", send: "提问", prev: "← 上一段", next: "下一段 →",
    searching: "正在书中查找…", loading: (s) => `正在打开书架…（${s} 秒）`, cannotConnect: "无法连接服务器，请稍后再试。",
    broken: "书架打不开：服务器的索引有问题，请查看服务器的日志。", busy: "服务器正忙，请稍后再问一次。",
    emptyShelf: "书架是空的，上传一本书开始", emptyHint: "书放上书架后，就可以用中文或英文向它提问。", emptyAsk: "书架是空的：请先在书架中上传一本书。",
    chooseFiles: "选择文件", dropHere: "或把文件拖到这里（PDF、EPUB、DOCX、ODT、HTML、TXT、Markdown，可多选）",
    dropNow: "松开鼠标，把这些文件加到书架", uploading: "正在上传…", queued: "排队中", reading: "正在读取…",
    embedding: (d, t) => `正在理解文本（${d} / ${t}）…`, indexing: "正在建立索引…", saving: "正在保存…",
    opening: "正在打开新书架…", working: "正在处理…", added: (t) => `已添加《${t}》`, exists: (t) => `《${t}》已在书架中`,
    addedMany: (n) => `已添加 ${n} 本书`, failed: (name, why) => `未能添加 ${name}：${why}`,
    tooBig: "文件太大", notBook: "不是能读的文件类型（请上传 PDF、EPUB、DOCX、ODT、HTML、TXT 或 Markdown）",
    noText: "文件里没有可读的文字", encrypted: "文件加了密码，请先去掉密码", scanned: "这是扫描版，服务器没有安装文字识别",
    unreadable: "文件无法读取，可能已损坏", encoding: "文件的文字编码无法识别，请另存为 UTF-8",
    readOnly: "这个服务器的书架是只读的，不能添加或删除书。", generic: "出了点问题，请再试一次。",
    removeConfirm: (t) => `从书架删除《${t}》？此操作不能撤销。`, removed: (t) => `已删除《${t}》`, removing: (t) => `正在删除《${t}》…`, stopped: "已停止（超时或被取消）",
    lastBook: "这是书架上唯一的一本书，不能删除。", remove: "删除", outline: "目录", notInText: "（只在目录中）",
    noChapters: "这本书没有分章。", pages: (p) => `第 ${p} 页`, sources: "出处", answerSource: "回答出自这里",
    openInChapter: "在章节中打开", closest: "书中最接近的段落（它并不回答这个问题）", copy: "复制", copied: "已复制",
    notFound: "找不到这段内容，书架可能已经改变。", format: (b) => `${b.author ? b.author + "，" : ""}${b.format.toUpperCase()}${b.pages ? "，" + b.pages + " 页" : ""}`,
    exampleAbout: (h) => (/[“”"《]/.test(h) ? `${h}讲了什么？` : `“${h}”讲了什么？`), exampleAuthor: (t) => `《${t}》的作者是谁？`, tooLong: "问题太长了，请缩短一些。",
  },
  en: {
    appTitle: "Ask the book", askIn: "Ask", scopeTitle: "Ask within one book, or across all of them", allBooksPlain: "All books",
    allBooks: (n) => `All books (${n})`, shelf: "Shelf", shelfCount: (n) => `Shelf · ${n} books`, newChat: "New chat",
    apiKey: "API key", apiKeyTitle: "Enter the key when the server asks for one", save: "Save", clear: "Clear",
    keyNote: "Kept in this browser only.", needKey: "This server needs an API key: ask its administrator and enter it above.",
    wrongKey: "That API key is not right: check it and enter it again.", chatLabel: "Questions", readerLabel: "Source", close: "Close",
    hint: "Ask in English or Chinese; each answer names its source: click a source to read it in its chapter.", examples: "For example:",
    placeholder: "Type a question, press Enter to send (Shift+Enter for a new line)", send: "Ask", prev: "← Previous", next: "Next →",
    searching: "Searching the books…", loading: (s) => `Opening the shelf… (${s} s)`, cannotConnect: "Cannot reach the server; try again shortly.",
    broken: "The shelf cannot be opened: its index has a problem (see the server's log).", busy: "The server is busy; ask again in a moment.",
    emptyShelf: "The shelf is empty: upload a book to start", emptyHint: "Once a book is on the shelf, ask it anything in English or Chinese.", emptyAsk: "The shelf is empty: upload a book on the shelf first.",
    chooseFiles: "Choose files", dropHere: "or drop files here (PDF, EPUB, DOCX, ODT, HTML, TXT, Markdown; several at once)",
    dropNow: "Release to add these files to the shelf", uploading: "Uploading…", queued: "Queued", reading: "Reading…",
    embedding: (d, t) => `Understanding the text (${d} / ${t})…`, indexing: "Building the index…", saving: "Saving…",
    opening: "Opening the new shelf…", working: "Working…", added: (t) => `Added “${t}”`, exists: (t) => `“${t}” is already on the shelf`,
    addedMany: (n) => `Added ${n} books`, failed: (name, why) => `Could not add ${name}: ${why}`,
    tooBig: "the file is too large", notBook: "not a kind of file this reads (upload PDF, EPUB, DOCX, ODT, HTML, TXT or Markdown)",
    noText: "the file holds no readable text", encrypted: "the file is password-protected; remove the password first",
    scanned: "it is a scan and the server has no text recognition installed", unreadable: "the file cannot be read; it may be damaged",
    encoding: "its text encoding is not recognised; save it as UTF-8", readOnly: "This server's shelf is read-only: books cannot be added or removed.",
    generic: "Something went wrong; try again.", removeConfirm: (t) => `Remove “${t}” from the shelf? This cannot be undone.`,
    removed: (t) => `Removed “${t}”`, removing: (t) => `Removing “${t}”…`, stopped: "it was stopped (over its time, or cancelled)", lastBook: "This is the only book on the shelf; it cannot be removed.", remove: "Remove",
    outline: "Contents", notInText: " (in the contents only)", noChapters: "This book has no chapters.", pages: (p) => `p. ${p}`,
    sources: "Sources", answerSource: "The answer comes from here", openInChapter: "Open in its chapter",
    closest: "The closest passage in the books (it does not answer the question)", copy: "Copy", copied: "Copied",
    notFound: "This passage cannot be found; the shelf may have changed.", format: (b) => `${b.author ? b.author + ", " : ""}${b.format.toUpperCase()}${b.pages ? ", " + b.pages + " pages" : ""}`,
    exampleAbout: (h) => `What does the book say about ${h}?`, exampleAuthor: (t) => `Who wrote “${t}”?`, tooLong: "The question is too long; shorten it.",
  },
};

function t(key, ...args) {
  const v = T[LANG][key];
  return typeof v === "function" ? v(...args) : v;
}

function translatePage() {
  document.documentElement.lang = LANG === "en" ? "en" : "zh-CN";
  for (const n of document.querySelectorAll("[data-i18n]")) n.textContent = t(n.dataset.i18n);
  for (const n of document.querySelectorAll("[data-i18n-placeholder]")) n.placeholder = t(n.dataset.i18nPlaceholder);
  for (const n of document.querySelectorAll("[data-i18n-title]")) n.title = t(n.dataset.i18nTitle);
  for (const n of document.querySelectorAll("[data-i18n-aria]")) n.setAttribute("aria-label", t(n.dataset.i18nAria));
  document.title = "docqa · " + t("appTitle");
}

let current = null; // the passage open in the reader
let chapterShown = null; // "doc_id/chapter" rendered in the reader
let books = [];
let writable = false;
let uploading = 0; // upload batches in flight

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

class ApiError extends Error {
  // `message` is for the reader (in the page's language); `detail` is the server's own words.
  constructor(status, detail, message) {
    super(message || readerMessage(status, detail));
    this.status = status;
    this.detail = detail || "";
  }
}

function fileProblem(detail) {
  // The server's reasons for refusing a file, in the reader's words.
  const d = detail || "";
  if (/too (big|large)|exceeds|bytes|unpacks/i.test(d)) return t("tooBig");
  if (/not a kind of file|unsupported|not what its extension/i.test(d)) return t("notBook");
  if (/encrypt|password/i.test(d)) return t("encrypted");
  if (/ocr|no text layer/i.test(d)) return t("scanned");
  if (/encoding|decode|iconv/i.test(d)) return t("encoding");
  if (/no text|empty/i.test(d)) return t("noText");
  return t("unreadable");
}

function readerMessage(status, detail) {
  const d = detail || "";
  if (status === 0) return t("cannotConnect");
  if (status === 401) return localStorage.getItem(KEY_STORE) ? t("wrongKey") : t("needKey");
  if (status === 409 && /empty/.test(d)) return t("emptyAsk");
  if (status === 409 || /read-only|never changed|cache index/.test(d)) return t("readOnly");
  if (status === 413 || status === 415) return fileProblem(d);
  if (status === 422 && /characters/.test(d)) return t("tooLong");
  if (status === 404) return t("notFound");
  if (status === 503) return /loading/.test(d) ? t("loading", "…") : /busy|waiting/.test(d) ? t("busy") : t("broken");
  return t("generic");
}

function authHeaders() {
  const headers = { Accept: "application/json" };
  const key = localStorage.getItem(KEY_STORE);
  if (key) headers.Authorization = "Bearer " + key;
  return headers;
}

async function api(path, body, method) {
  const headers = authHeaders();
  const init = { headers };
  if (body !== undefined) {
    init.method = "POST";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method) init.method = method;
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, e.message);
  }
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    data = null;
  }
  if (!res.ok) {
    // docqa's routes say {"detail"}; the OpenAI-compatible ones {"error": {"message"}}
    const reason = data && (data.detail || (data.error && data.error.message));
    const err = new ApiError(res.status, typeof reason === "string" ? reason : res.status + " " + res.statusText);
    if (res.status === 401) showKeyBar(err.message);
    throw err;
  }
  return data;
}

// ---- API key ------------------------------------------------------------------------------

function showKeyBar(note) {
  $("key-toggle").hidden = false;
  $("key-bar").hidden = false;
  $("key-note").textContent = note || t("keyNote");
  $("api-key").value = localStorage.getItem(KEY_STORE) || "";
  $("api-key").focus();
}

async function offerKey() {
  // The key button only on a server that asks for a key (it says so on /healthz, which needs none);
  // a 401 shows it anyway (showKeyBar).
  try {
    const health = await (await fetch("healthz")).json();
    if (health.key_required) $("key-toggle").hidden = false;
  } catch (e) {
    /* the status line reports an unreachable server */
  }
}

$("key-toggle").addEventListener("click", () => {
  if ($("key-bar").hidden) showKeyBar();
  else $("key-bar").hidden = true;
});
$("key-bar").addEventListener("submit", (e) => {
  e.preventDefault();
  const key = $("api-key").value.trim();
  if (key) localStorage.setItem(KEY_STORE, key);
  else localStorage.removeItem(KEY_STORE);
  $("key-bar").hidden = true;
  loadBook();
});
$("key-clear").addEventListener("click", () => {
  localStorage.removeItem(KEY_STORE);
  $("api-key").value = "";
});

// ---- status and book title -----------------------------------------------------------------

async function waitReady() {
  const since = Date.now();
  for (;;) {
    try {
      const r = await fetch("readyz");
      const data = await r.json().catch(() => ({}));
      if (r.ok) {
        setStatus("");
        return true;
      }
      if (!/loading/.test(data.detail || "")) {
        setStatus(t("broken"), true, data.detail);
        return false;
      }
      setStatus(t("loading", Math.round((Date.now() - since) / 1000)));
    } catch (e) {
      setStatus(t("cannotConnect"), true);
    }
    await sleep(1500);
  }
}

function setStatus(text, bad = false, detail = "") {
  $("status").textContent = text;
  $("status").title = detail || "";
  $("status").classList.toggle("bad", bad);
}

async function loadBook() {
  if (!(await waitReady())) return;
  try {
    await loadLibrary();
    const title = books.length === 1 ? books[0].title : books.length > 1 ? t("shelfCount", books.length) : t("appTitle");
    $("book-title").textContent = title;
    $("book-title").title = title;
    document.title = title + " · docqa";
    await showExamples();
  } catch (e) {
    if (e.status !== 401) setStatus(e.message, true, e.detail);
  }
}

// ---- library: the books, upload, outline, remove, and the scope of a question ------------------

function bookLabel(b) {
  // Two books of one title are told apart by their authors, else by their files.
  const twins = books.filter((o) => o.title === b.title);
  if (twins.length < 2) return b.title;
  const byAuthor = b.author && new Set(twins.map((o) => o.author)).size === twins.length;
  return `${b.title}（${byAuthor ? b.author : b.source}）`;
}

async function loadLibrary() {
  const data = await api("documents");
  books = data.documents;
  writable = data.writable;
  const scope = $("scope");
  const chosen = scope.value;
  scope.replaceChildren(el("option", { value: "" }, t("allBooks", books.length)),
    ...books.map((b) => el("option", { value: b.doc_id }, bookLabel(b))));
  scope.value = books.some((b) => b.doc_id === chosen) ? chosen : "";
  const list = $("library-list");
  list.replaceChildren(...books.map((b) => el("li", { dataset: { docId: b.doc_id } },
    el("span", { class: "book-title", title: b.source }, bookLabel(b)),
    el("span", { class: "note book-meta" }, t("format", b)),
    el("span", { class: "book-actions" },
      el("button", { type: "button", class: "outline-button", onclick: () => showOutline(b) }, t("outline")),
      writable ? el("button", { type: "button", class: "remove-button", onclick: () => removeBook(b) }, t("remove")) : null),
  )));
  $("upload-form").hidden = !writable;
  $("library-note").hidden = writable;
  $("library-note").textContent = writable ? "" : t("readOnly");
  $("library-note").title = data.read_only_reason || "";
  const empty = books.length === 0;
  $("library-empty").hidden = !empty || uploading > 0;  // not "empty" while its first books arrive
  $("library-empty").textContent = t("emptyShelf");
  document.body.classList.toggle("empty", empty);
  if (empty && writable) openLibrary();
}

function openLibrary() {
  $("library").hidden = false;
  $("library-toggle").setAttribute("aria-expanded", "true");
}

$("library-toggle").addEventListener("click", () => {
  const panel = $("library");
  panel.hidden = !panel.hidden;
  $("library-toggle").setAttribute("aria-expanded", String(!panel.hidden));
  if (!panel.hidden) loadLibrary().catch((e) => setStatus(e.message, true, e.detail));
});

async function removeBook(b) {
  if (!confirm(t("removeConfirm", bookLabel(b)))) return;
  try {
    const out = await api("documents/" + encodeURIComponent(b.doc_id), undefined, "DELETE");
    $("upload-note").textContent = t("removing", bookLabel(b));
    for (;;) {  // the remove runs in the background: 202 with a job
      const job = await api("documents/jobs/" + out.job.job_id);
      if (job.status === "done") break;
      if (job.status === "failed" || job.status === "cancelled") throw new ApiError(400, job.error);
      await sleep(500);
    }
    $("upload-note").textContent = t("removed", bookLabel(b));
    await loadBook();
  } catch (e) {
    $("upload-note").textContent = /empty/.test(e.detail) ? t("lastBook") : e.message;
    $("upload-note").title = e.detail;
  }
}

function uploadFile(file, onProgress) {
  // XMLHttpRequest, not fetch: only it reports upload progress.
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "documents");
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(0, "network error"));
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else {
        const detail = (data && data.detail) || xhr.status + " " + xhr.statusText;
        if (xhr.status === 401) showKeyBar(readerMessage(401, detail));
        reject(new ApiError(xhr.status, detail, xhr.status === 422 ? fileProblem(detail) : undefined));
      }
    };
    const form = new FormData();
    form.append("file", file);
    xhr.send(form);
  });
}

function stageText(job) {
  // The library job's stage (server words) as the reader's.
  const s = job.stage || "";
  const m = /embedding: (\d+) of (\d+)/.exec(s);
  if (job.status === "queued") return t("queued");
  if (m) return t("embedding", m[1], m[2]);
  if (/^embedding/.test(s)) return t("embedding", 0, "…");
  if (/^reading|^starting/.test(s)) return t("reading");
  if (/^tokeniz|keyword|^building/.test(s)) return t("indexing");
  if (/^writ|^sav|^added/.test(s)) return t("saving");
  if (/^opening/.test(s)) return t("opening");
  return t("working");
}

async function uploadOne(file) {
  const bar = el("progress", { max: "1", value: "0" });
  const note = el("span", { class: "note" }, t("uploading"));
  const row = el("li", {}, el("span", { class: "job-name" }, file.name), bar, note);
  $("upload-jobs").append(row);
  const finish = (text, ok, detail) => {
    bar.remove();
    note.textContent = text;
    note.title = detail || "";
    row.classList.add(ok ? "done" : "failed");
    return ok;
  };
  try {
    const out = await uploadFile(file, (share) => { bar.value = share * 0.2; });
    if (out.status === "exists") return finish(t("exists", out.document.title), true) && null;
    for (;;) {
      const job = await api("documents/jobs/" + out.job.job_id);
      // Waiting behind other books is no progress: no bar (its share would be a made-up number).
      bar.hidden = job.status === "queued";
      bar.value = 0.2 + 0.8 * job.progress;
      note.textContent = stageText(job);
      if (job.status === "done") {
        const added = (job.result && job.result.added) || [];
        const title = added.length ? added[0].title : file.name;
        finish(added.length ? t("added", title) : t("exists", title), true);
        // On the shelf at once: it can be asked while the other files are still being added.
        if (added.length) loadBook().catch(() => {});
        return added.length ? title : null;
      }
      if (job.status === "failed" || job.status === "cancelled") {
        const why = job.status === "cancelled" ? t("stopped") : fileProblem(job.error);
        return finish(t("failed", file.name, why), false, job.error) && null;
      }
      await sleep(500);
    }
  } catch (err) {
    return finish(t("failed", file.name, err.message), false, err.detail) && null;
  }
}


async function uploadFiles(files) {
  files = [...files];
  if (!files.length) return;
  uploading += 1;
  $("upload-note").textContent = "";
  $("library-empty").hidden = true;
  // Sent together; the server adds them one after another, each row shows its own progress.
  const titles = (await Promise.all(files.map(uploadOne))).filter(Boolean);
  uploading -= 1;
  $("upload-file").value = "";
  if (titles.length) $("upload-note").textContent = titles.length === 1 ? t("added", titles[0]) : t("addedMany", titles.length);
  await loadBook();
}

$("upload-file").addEventListener("change", () => uploadFiles($("upload-file").files));
$("upload-form").addEventListener("submit", (e) => e.preventDefault());
$("upload-button").addEventListener("keydown", (e) => {
  if (e.key === "Enter" || e.key === " ") {
    e.preventDefault();
    $("upload-file").click();
  }
});

// Drag and drop: anywhere on the page while the shelf can change.
let dragDepth = 0;
document.addEventListener("dragenter", (e) => {
  if (!writable || !e.dataTransfer || ![...e.dataTransfer.types].includes("Files")) return;
  dragDepth += 1;
  openLibrary();
  document.body.classList.add("dropping");
});
document.addEventListener("dragleave", () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) document.body.classList.remove("dropping");
});
document.addEventListener("dragover", (e) => { if (writable) e.preventDefault(); });
document.addEventListener("drop", (e) => {
  dragDepth = 0;
  document.body.classList.remove("dropping");
  if (!writable || !e.dataTransfer || !e.dataTransfer.files.length) return;
  e.preventDefault();
  uploadFiles(e.dataTransfer.files);
});

function chapterLabel(ch) {
  if (/^第.+[章回讲篇卷部编]/.test(ch.title) || LANG === "en") return ch.title;
  return `第 ${ch.number} 章 ${ch.title}`;
}

async function showOutline(b) {
  openReader();
  chapterShown = null;
  $("reader-crumb").textContent = b.source;
  $("reader-title").textContent = b.title;
  $("reader-where").textContent = t("outline");
  try {
    const outline = await api("chapters?doc_id=" + encodeURIComponent(b.doc_id));
    const doc = outline.documents[0];
    const list = el("ol", { class: "outline" });
    for (const ch of doc.chapters) {
      const label = chapterLabel(ch);
      const item = ch.in_corpus
        ? el("button", { type: "button", onclick: () => openChapter(b, ch.number) }, label)
        : el("span", { class: "absent" }, label + t("notInText"));
      const sections = el("ol", {}, ...(ch.sections || []).map((s) => el("li", {}, s.title)));
      list.append(el("li", {}, item, sections));
    }
    if (!doc.chapters.length) list.append(el("li", { class: "note" }, t("noChapters")));
    $("reader-body").replaceChildren(list);
  } catch (e) {
    $("reader-body").replaceChildren(el("p", { class: "error", title: e.detail }, e.message));
  }
}

async function openChapter(b, number) {
  try {
    const ch = await api(`chapters/${number}?doc_id=${encodeURIComponent(b.doc_id)}`);
    if (ch.passages.length) openPassage(ch.passages[0].passage_id);
  } catch (e) {
    $("reader-body").replaceChildren(el("p", { class: "error", title: e.detail }, e.message));
  }
}

// ---- example questions, from the shelf's own headings -----------------------------------------

let examplesAsked = 0;

async function showExamples() {
  // Shelf refreshes overlap (each finished upload, then the batch): only the latest one draws,
  // and it replaces the examples in one step, so they are never listed twice.
  const mine = ++examplesAsked;
  const box = $("examples");
  $("hint-text").textContent = books.length ? t("hint") : t("emptyHint");
  if (!books.length) {
    box.replaceChildren();
    return;
  }
  const scope = $("scope").value;
  const outline = await api("chapters" + (scope ? "?doc_id=" + encodeURIComponent(scope) : ""));
  if (mine !== examplesAsked) return;
  const headings = [];
  for (const doc of outline.documents) {
    for (const ch of doc.chapters.filter((c) => c.in_corpus)) {
      for (const s of ch.sections || []) headings.push(s.title);
      headings.push(ch.title);
    }
  }
  const clean = [...new Set(headings.map((h) => h.replace(/^(第\S+?[章节回讲篇卷部编]|[一二三四五六七八九十]+、|\d+(\.\d+)*)\s*/, "").trim()))]
    .filter((h) => h.length >= 2 && h.length <= 24);
  // Spread over the book, not its first pages only.
  const picked = clean.length <= 2 ? clean : [clean[0], clean[Math.floor(clean.length / 2)]];
  const questions = picked.map((h) => t("exampleAbout", h));
  const doc = outline.documents[0];
  if (outline.documents.length === 1 && doc) questions.push(t("exampleAuthor", doc.title));
  box.replaceChildren(t("examples"), ...questions.map((q) => el("button", { type: "button", class: "example", onclick: () => ask(q) }, q)));
}

$("scope").addEventListener("change", () => showExamples().catch(() => {}));

// ---- asking --------------------------------------------------------------------------------

let history = []; // [{question, data}] kept in localStorage across reloads

function saveHistory() {
  try {
    localStorage.setItem(CHAT_STORE, JSON.stringify(history.slice(-50)));
  } catch (e) {
    // a full storage loses the history, never the page
  }
}

function turnsOf() {
  const turns = [];
  for (const h of history) {
    if (!h.data) continue;
    const reply = h.data.answer ? h.data.answer.text : h.data.refusal;
    turns.push({ role: "user", content: h.question }, { role: "assistant", content: reply || "" });
  }
  return turns.slice(-8);
}

function addMessage(cls, ...children) {
  const item = el("li", { class: "msg " + cls }, ...children);
  $("log").append(item);
  return item;
}

function pageText(c) {
  if (c.page == null) return "";
  const last = c.page_end != null && c.page_end !== c.page && !c.page_label ? `–${c.page_end}` : "";
  return t("pages", `${c.page_label || c.page}${last}`);
}

function whereText(c) {
  // the file and its page, never character offsets (they are in the API for programs)
  return [c.source, pageText(c)].filter(Boolean).join(LANG === "en" ? ", " : "，");
}

function sentencesOf(text) {
  return text.match(/[^。！？!?；;\n]+[。！？!?；;]*[”’」』）)]*|\n+/g) || [text];
}

function bigrams(text) {
  const s = text.replace(/\s+/g, "").toLowerCase();
  const out = new Set();
  for (let i = 0; i + 1 < s.length; i++) out.add(s.slice(i, i + 2));
  return out;
}

function snippetOf(c, answerText, question) {
  // The sentence of the passage that bears on the answer, with a little context either side.
  const text = c.text.replace(/\s+/g, " ").trim();
  const want = bigrams(question + answerText);
  const core = answerText ? answerText.replace(/\s+/g, " ").slice(0, 40) : "";
  let best = null;
  let bestScore = -1;
  let at = 0;
  for (const s of sentencesOf(text)) {
    const start = text.indexOf(s, at);
    at = start + s.length;
    let score = 0;
    for (const g of bigrams(s)) if (want.has(g)) score += 1;
    if (core && s.includes(core.slice(0, 12))) score += 1000;
    if (score > bestScore) [best, bestScore] = [{ start, end: start + s.length }, score];
  }
  const WIDTH = 120;
  if (!best) return text.slice(0, WIDTH);
  const room = Math.max(0, WIDTH - (best.end - best.start));
  const from = Math.max(0, best.start - Math.floor(room / 2));
  const to = Math.min(text.length, Math.max(best.end, from + WIDTH));
  return (from > 0 ? "…" : "") + text.slice(from, to).trim() + (to < text.length ? "…" : "");
}

const SUPPORT_MARGIN = 1.0;
const MAX_SOURCES = 3;

function supporting(citations, answer) {
  // The sources that support the answer: its own passage, then those scoring close to the best
  // (within SUPPORT_MARGIN of the fused z-score), at most MAX_SOURCES.
  if (!citations.length) return [];
  const top = Math.max(...citations.map((c) => (c.score == null ? -Infinity : c.score)));
  const own = citations.filter((c) => c.passage_id === answer.passage_id);
  const rest = citations.filter((c) => c.passage_id !== answer.passage_id && c.score != null && c.score >= top - SUPPORT_MARGIN);
  return [...own, ...rest].slice(0, MAX_SOURCES);
}

function citationList(citations, answer, question) {
  const list = el("ol", { class: "citations" });
  citations.forEach((c, i) => {
    const own = c.passage_id === answer.passage_id;
    const heading = c.heading && c.heading !== c.title ? c.heading : "";
    const button = el(
      "button",
      {
        type: "button",
        class: "cite" + (own ? " answer-source" : ""),
        dataset: { passageId: c.passage_id },
        title: own ? t("answerSource") : t("openInChapter"),
        onclick: () => openPassage(c.passage_id, own ? answer.text : null),
      },
      el("span", { class: "num" }, `[${i + 1}]`),
      el("span", { class: "heading" }, el("span", { class: "book" }, `《${c.title}》 `), heading),
      el("span", { class: "where" }, whereText(c)),
      el("span", { class: "snippet" }, snippetOf(c, own ? answer.text : "", question)),
    );
    list.append(el("li", {}, button));
  });
  return list;
}

function copyText(text, button) {
  const done = () => {
    button.textContent = t("copied");
    setTimeout(() => { button.textContent = t("copy"); }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
  } else fallbackCopy(text, done);
}

function fallbackCopy(text, done) {
  const area = el("textarea", { class: "visually-hidden" });
  area.value = text;
  document.body.append(area);
  area.select();
  try { document.execCommand("copy"); done(); } finally { area.remove(); }
}

function renderReply(box, question, data) {
  box.classList.remove("pending");
  box.replaceChildren();
  if (data.answer === null) {
    // "Not in this book": a distinct state; at most the nearest passage, folded, never as a citation.
    box.classList.add("refusal");
    box.append(el("p", { class: "answer refusal-text" }, data.refusal));
    if (data.closest && data.closest.length) {
      const near = el("details", { class: "closest" }, el("summary", { class: "closest-label" }, t("closest")),
        citationList(data.closest.slice(0, 1), { passage_id: null, text: "" }, question));
      box.append(near);
    }
    return;
  }
  const answer = data.answer;
  const shown = supporting(data.citations, answer);
  const ref = shown.findIndex((c) => c.passage_id === answer.passage_id);
  const text = el("p", { class: "answer" }, answer.text);
  if (ref >= 0) {
    text.append(" ", el("button", { type: "button", class: "ref", onclick: () => openPassage(answer.passage_id, answer.text) },
      `[${ref + 1}]`));
  }
  const copy = el("button", { type: "button", class: "copy ghost" }, t("copy"));
  copy.addEventListener("click", () => {
    const lines = shown.map((c, i) => `[${i + 1}] 《${c.title}》 ${c.heading && c.heading !== c.title ? c.heading : ""} ${pageText(c)}`.trim());
    copyText([answer.text, "", t("sources") + ":", ...lines].join("\n"), copy);
  });
  box.append(text);
  if (shown.length) box.append(citationList(shown, answer, question));
  box.append(el("div", { class: "msg-tools" }, copy));
}

function showTurn(question, data) {
  const user = addMessage("user", el("p", {}, question));
  const reply = addMessage("assistant");
  renderReply(reply, question, data);
  return user;
}

function restoreHistory() {
  try {
    history = JSON.parse(localStorage.getItem(CHAT_STORE) || "[]").filter((h) => h && h.question && h.data);
  } catch (e) {
    history = [];
  }
  for (const h of history) showTurn(h.question, h.data);
  const last = $("log").lastElementChild;
  if (history.length && last) last.scrollIntoView({ block: "end" });
}

$("new-chat").addEventListener("click", () => {
  history = [];
  saveHistory();
  for (const n of [...$("log").children]) if (n.id !== "hint") n.remove();
  $("question").focus();
});

async function askServer(body, pending) {
  // Questions asked while the shelf opens wait for it, instead of failing.
  const since = Date.now();
  for (;;) {
    try {
      return await api("v1/chat/completions", body);
    } catch (e) {
      if (e.status !== 503 || !/loading/.test(e.detail) || Date.now() - since > 300_000) throw e;
      pending.firstChild.textContent = t("loading", Math.round((Date.now() - since) / 1000));
      await sleep(1500);
    }
  }
}

async function ask(question) {
  question = question.trim();
  if (!question) return;
  const user = addMessage("user", el("p", {}, question));
  if (!books.length && writable) {
    addMessage("assistant error", el("p", {}, t("emptyAsk")));
    openLibrary();
    user.scrollIntoView({ block: "start", behavior: "smooth" });
    return;
  }
  const pending = addMessage("assistant pending", el("p", {}, t("searching")));
  user.scrollIntoView({ block: "start", behavior: "smooth" });
  $("ask-button").disabled = true;
  const messages = [...turnsOf(), { role: "user", content: question }];
  const docId = $("scope").value;
  try {
    const data = await askServer({ model: "docqa", messages, ...(docId ? { doc_id: docId } : {}) }, pending);
    const keep = { answer: data.answer, refusal: data.refusal, citations: data.citations || [], closest: (data.closest || []).slice(0, 1) };
    renderReply(pending, question, keep);
    history.push({ question, data: keep });
    saveHistory();
  } catch (e) {
    pending.classList.remove("pending");
    pending.classList.add("error");
    pending.replaceChildren(el("p", { title: e.detail }, e.message));
  } finally {
    $("ask-button").disabled = false;
    // The question and the start of its answer in view (not the last citation).
    user.scrollIntoView({ block: "start", behavior: "smooth" });
  }
}

$("ask-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = $("question").value;
  $("question").value = "";
  ask(q);
});
$("question").addEventListener("keydown", (e) => {
  // isComposing: Enter that confirms a pinyin candidate must not send the question.
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
    e.preventDefault();
    $("ask-form").requestSubmit();
  }
});

// ---- reader --------------------------------------------------------------------------------

function openReader() {
  $("reader").hidden = false;
  document.body.classList.add("reading");
}

function markText(node, text, needle) {
  const at = needle ? text.indexOf(needle.replace(/…$/, "")) : -1;
  if (at < 0) {
    node.textContent = text;
    return false;
  }
  const n = needle.replace(/…$/, "").length;
  node.replaceChildren(text.slice(0, at), el("mark", {}, text.slice(at, at + n)), text.slice(at + n));
  return true;
}

function passageNode(p, text, highlight) {
  const body = el("div", { class: "ptext" });
  markText(body, text, highlight);
  const where = pageText(p);
  return el(
    "article",
    { class: "passage", id: "p-" + p.passage_id, dataset: { passageId: p.passage_id },
      onclick: () => select(p.passage_id) },
    where ? el("div", { class: "pmeta" }, where) : null,
    body,
  );
}

function overlap(prev, next) {
  // Passages overlap by a sentence: the length of `next`'s start that repeats `prev`'s end.
  const a = prev.replace(/\s+$/, "");
  const b = next.replace(/^\s+/, "");
  for (let k = Math.min(a.length, b.length, 400); k >= 4; k--) {
    if (a.endsWith(b.slice(0, k))) return next.length - b.length + k;
  }
  return 0;
}

async function openPassage(passageId, highlight) {
  openReader();
  try {
    const p = await api("passages/" + encodeURIComponent(passageId));
    const key = p.chapter == null ? null : p.doc_id + "/" + p.chapter;
    if (key === null) {
      chapterShown = null;
      $("reader-crumb").textContent = p.title;
      $("reader-title").textContent = p.heading || p.section || p.title;
      $("reader-body").replaceChildren(passageNode(p, p.text, highlight));
    } else if (key !== chapterShown || highlight) {
      const ch = await api(`chapters/${p.chapter}?doc_id=${encodeURIComponent(p.doc_id)}`);
      renderChapter(ch, p, highlight);
      chapterShown = key;
    }
    current = p;
    focusPassage(p);
  } catch (e) {
    $("reader-body").replaceChildren(el("p", { class: "error", title: e.detail }, e.message));
  }
}

function renderChapter(ch, p, highlight) {
  $("reader-crumb").textContent = p.title;
  $("reader-title").textContent = ch.heading || chapterLabel(ch);
  // Each passage shows only what the one before did not (the shared sentence once), except
  // that the highlighted sentence stays in the cited passage.
  const texts = ch.passages.map((q) => q.text);
  for (let i = 1; i < texts.length; i++) {
    if (ch.passages[i].section_number !== ch.passages[i - 1].section_number) continue;
    const n = overlap(ch.passages[i - 1].text, ch.passages[i].text);
    if (!n) continue;
    const shared = ch.passages[i].text.slice(0, n);
    const needle = highlight ? highlight.replace(/…$/, "") : "";
    if (ch.passages[i].passage_id === p.passage_id && needle && shared.includes(needle.slice(0, 12))) {
      texts[i - 1] = texts[i - 1].replace(/\s+$/, "").slice(0, -shared.trim().length) || texts[i - 1];
    } else {
      texts[i] = ch.passages[i].text.slice(n).replace(/^\s+/, "");
    }
  }
  const body = [];
  let heading = null;
  ch.passages.forEach((q, i) => {
    const h = [q.section, q.subsection].filter(Boolean).join(" › ");
    if (h && h !== heading) body.push(el("h3", { class: "sec" }, h));
    heading = h;
    body.push(passageNode(q, texts[i], q.passage_id === p.passage_id ? highlight : null));
  });
  $("reader-body").replaceChildren(...body);
}

function focusPassage(p) {
  for (const old of document.querySelectorAll(".passage.current")) old.classList.remove("current");
  const node = document.getElementById("p-" + p.passage_id);
  if (node) {
    node.classList.add("current");
    node.scrollIntoView({ block: "center", behavior: "smooth" });
  }
  $("prev-passage").disabled = !p.prev_id;
  $("next-passage").disabled = !p.next_id;
  $("prev-passage").dataset.target = p.prev_id || "";
  $("next-passage").dataset.target = p.next_id || "";
  $("reader-where").textContent = p.heading || "";
}

function select(passageId) {
  if (!current || current.passage_id !== passageId) openPassage(passageId);
}

for (const id of ["prev-passage", "next-passage"]) {
  $(id).addEventListener("click", (e) => {
    const target = e.currentTarget.dataset.target;
    if (target) openPassage(target);
  });
}
$("reader-close").addEventListener("click", () => {
  $("reader").hidden = true;
  document.body.classList.remove("reading");
});

translatePage();
restoreHistory();
offerKey();
loadBook();
