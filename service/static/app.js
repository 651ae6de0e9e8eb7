// docqa chat page: asks through the OpenAI-compatible endpoint (so follow-ups keep their
// context) and opens cited passages in their chapter. No framework, no network beyond this server.
"use strict";

const KEY_STORE = "docqa.apiKey";
const $ = (id) => document.getElementById(id);
const turns = [];
let current = null; // {id, chapter, doc_id}, the passage open in the reader
let chapterShown = null; // "doc_id/chapter" rendered in the reader

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

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
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
    throw new ApiError(0, "无法连接服务器：" + e.message);
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
    const detail = reason || res.status + " " + res.statusText;
    if (res.status === 401) showKeyBar("需要 API 密钥：" + detail);
    throw new ApiError(res.status, detail);
  }
  return data;
}

// ---- API key ------------------------------------------------------------------------------

function showKeyBar(note) {
  $("key-bar").hidden = false;
  if (note) $("key-note").textContent = note;
  $("api-key").value = localStorage.getItem(KEY_STORE) || "";
  $("api-key").focus();
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
  for (;;) {
    try {
      const r = await fetch("readyz");
      const data = await r.json().catch(() => ({}));
      if (r.ok) {
        setStatus("");
        return true;
      }
      if (!/loading/.test(data.detail || "")) {
        setStatus("索引不可用：" + (data.detail || r.status), true);
        return false;
      }
      setStatus("正在加载索引…");
    } catch (e) {
      setStatus("无法连接服务器", true);
    }
    await new Promise((ok) => setTimeout(ok, 1500));
  }
}

function setStatus(text, bad = false) {
  $("status").textContent = text;
  $("status").classList.toggle("bad", bad);
}

async function loadBook() {
  if (!(await waitReady())) return;
  try {
    const outline = await api("chapters");
    const docs = outline.documents || [];
    const title = docs.length === 1 ? docs[0].title : docs.length > 1 ? `书架 · ${docs.length} 本书` : "";
    if (title) {
      $("book-title").textContent = title;
      document.title = title + " · docqa";
    }
    await loadLibrary();
  } catch (e) {
    if (e.status !== 401) setStatus(e.message, true);
  }
}

// ---- library: the books, upload, outline, remove, and the scope of a question ------------------

let books = [];

async function loadLibrary() {
  const data = await api("documents");
  books = data.documents;
  const scope = $("scope");
  const chosen = scope.value;
  scope.replaceChildren(el("option", { value: "" }, `全部书籍（${books.length}）`),
    ...books.map((b) => el("option", { value: b.doc_id }, b.title)));
  scope.value = books.some((b) => b.doc_id === chosen) ? chosen : "";
  const list = $("library-list");
  list.replaceChildren(...books.map((b) => el("li", { dataset: { docId: b.doc_id } },
    el("span", { class: "book-title", title: b.source }, b.title),
    el("span", { class: "note" }, `${b.format}${b.pages ? "，" + b.pages + " 页" : ""}，${b.passages} 段`),
    el("button", { type: "button", class: "outline-button", onclick: () => showOutline(b) }, "目录"),
    data.writable ? el("button", { type: "button", class: "remove-button", onclick: () => removeBook(b) }, "删除") : null,
  )));
  $("upload-form").hidden = !data.writable;
  $("library-note").hidden = data.writable;
  $("library-note").textContent = data.writable ? "" : "此服务器的书架只读：" + (data.read_only_reason || "");
}

$("library-toggle").addEventListener("click", () => {
  const panel = $("library");
  panel.hidden = !panel.hidden;
  $("library-toggle").setAttribute("aria-expanded", String(!panel.hidden));
  if (!panel.hidden) loadLibrary().catch((e) => setStatus(e.message, true));
});

async function removeBook(b) {
  if (!confirm(`从书架删除《${b.title}》？此操作不能撤销。`)) return;
  try {
    await api("documents/" + encodeURIComponent(b.doc_id), undefined, "DELETE");
    $("upload-note").textContent = `已删除《${b.title}》`;
    await loadBook();
  } catch (e) {
    $("upload-note").textContent = e.message;
  }
}

function uploadFile(file, onProgress) {
  // XMLHttpRequest, not fetch: only it reports upload progress.
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "documents");
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(0, "无法连接服务器"));
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, (data && data.detail) || xhr.status + " " + xhr.statusText));
    };
    const form = new FormData();
    form.append("file", file);
    xhr.send(form);
  });
}

$("upload-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) return;
  const bar = $("upload-progress"), note = $("upload-note");
  bar.hidden = false;
  bar.value = 0;
  $("upload-button").disabled = true;
  note.textContent = "正在上传…";
  try {
    const out = await uploadFile(file, (share) => { bar.value = share * 0.3; });
    if (out.status === "exists") {
      note.textContent = `《${out.document.title}》已在书架中`;
      return;
    }
    for (;;) {
      const job = await api("documents/jobs/" + out.job.job_id);
      bar.value = 0.3 + 0.7 * job.progress;
      note.textContent = job.stage;
      if (job.status === "done") {
        const added = (job.result && job.result.added) || [];
        note.textContent = added.length ? `已添加《${added[0].title}》` : "书架中已有这本书";
        break;
      }
      if (job.status === "failed") {
        note.textContent = "未能添加：" + job.error;
        break;
      }
      await new Promise((ok) => setTimeout(ok, 700));
    }
    $("upload-file").value = "";
    await loadBook();
  } catch (err) {
    note.textContent = err.message;
  } finally {
    bar.hidden = true;
    $("upload-button").disabled = false;
  }
});

async function showOutline(b) {
  const reader = $("reader");
  reader.hidden = false;
  document.body.classList.add("reading");
  chapterShown = null;
  $("reader-crumb").textContent = b.source;
  $("reader-title").textContent = b.title;
  $("reader-where").textContent = "目录";
  try {
    const outline = await api("chapters?doc_id=" + encodeURIComponent(b.doc_id));
    const doc = outline.documents[0];
    const list = el("ol", { class: "outline" });
    for (const ch of doc.chapters) {
      const label = `第 ${ch.number} 章 ${ch.title}`;
      const item = ch.in_corpus
        ? el("button", { type: "button", onclick: () => openChapter(b, ch.number) }, label)
        : el("span", { class: "absent" }, label + "（只在目录中）");
      const sections = el("ol", {}, ...(ch.sections || []).map((s) => el("li", {}, s.title)));
      list.append(el("li", {}, item, sections));
    }
    if (!doc.chapters.length) list.append(el("li", { class: "note" }, "这本书没有分章。"));
    $("reader-body").replaceChildren(list);
  } catch (e) {
    $("reader-body").replaceChildren(el("p", { class: "error" }, e.message));
  }
}

async function openChapter(b, number) {
  try {
    const ch = await api(`chapters/${number}?doc_id=${encodeURIComponent(b.doc_id)}`);
    if (ch.passages.length) openPassage(ch.passages[0].passage_id);
  } catch (e) {
    $("reader-body").replaceChildren(el("p", { class: "error" }, e.message));
  }
}

// ---- asking --------------------------------------------------------------------------------

function addMessage(cls, ...children) {
  const item = el("li", { class: "msg " + cls }, ...children);
  $("log").append(item);
  item.scrollIntoView({ block: "end", behavior: "smooth" });
  return item;
}

function whereText(c) {
  // pages as service/format.py's page_text writes them in Chinese
  let page = "";
  if (c.page != null) {
    const last = c.page_end != null && c.page_end !== c.page && !c.page_label ? `–${c.page_end}` : "";
    page = `，第 ${c.page_label || c.page}${last} 页`;
  }
  return `${c.source}${page}，第 ${c.start}–${c.end} 字`;
}

function citationList(citations, answer) {
  const list = el("ol", { class: "citations" });
  citations.forEach((c, i) => {
    const snippet = c.text.replace(/\s+/g, " ").slice(0, 90) + (c.text.length > 90 ? "…" : "");
    const button = el(
      "button",
      {
        type: "button",
        class: "cite" + (c.passage_id === answer.passage_id ? " answer-source" : ""),
        dataset: { passageId: c.passage_id },
        title: "在章节中打开",
        onclick: () => openPassage(c.passage_id, answer.text),
      },
      el("span", { class: "num" }, `[${i + 1}]`),
      el("span", { class: "heading" }, el("span", { class: "book" }, `《${c.title}》 `),
        c.heading && c.heading !== c.title ? c.heading : ""),
      el("span", { class: "where" }, whereText(c)),
      el("span", { class: "snippet" }, snippet),
    );
    list.append(el("li", {}, button));
  });
  return list;
}

async function ask(question) {
  question = question.trim();
  if (!question) return;
  addMessage("user", el("p", {}, question));
  const pending = addMessage("assistant pending", el("p", {}, "正在书中查找…"));
  $("ask-button").disabled = true;
  const messages = [...turns, { role: "user", content: question }];
  const docId = $("scope").value;
  try {
    const data = await api("v1/chat/completions", { model: "docqa", messages, ...(docId ? { doc_id: docId } : {}) });
    pending.classList.remove("pending");
    pending.replaceChildren();
    if (data.answer === null) {
      // "Not in this book": a distinct state; the nearest passages are shown as such, not as citations.
      pending.classList.add("refusal");
      pending.append(el("p", { class: "answer refusal-text" }, data.refusal));
      if (data.closest && data.closest.length) {
        pending.append(el("p", { class: "closest-label" }, "最接近的段落（并不回答这个问题）"));
        pending.append(citationList(data.closest, { passage_id: null, text: "" }));
      }
      turns.push({ role: "user", content: question }, { role: "assistant", content: data.refusal });
      return;
    }
    const answer = data.answer;
    const ref = data.citations.findIndex((c) => c.passage_id === answer.passage_id);
    const text = el("p", { class: "answer" }, answer.text);
    if (ref >= 0) {
      text.append(
        " ",
        el("button", { type: "button", class: "ref", onclick: () => openPassage(answer.passage_id, answer.text) },
          `[${ref + 1}]`),
      );
    }
    pending.append(text);
    if (data.citations.length) pending.append(citationList(data.citations, answer));
    turns.push({ role: "user", content: question }, { role: "assistant", content: answer.text });
  } catch (e) {
    pending.classList.remove("pending");
    pending.classList.add("error");
    pending.replaceChildren(el("p", {}, e.message));
  } finally {
    $("ask-button").disabled = false;
    pending.scrollIntoView({ block: "end", behavior: "smooth" });
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
for (const b of document.querySelectorAll(".example")) {
  b.addEventListener("click", () => ask(b.textContent));
}

// ---- reader --------------------------------------------------------------------------------

function markText(node, text, needle) {
  const at = needle ? text.indexOf(needle.replace(/…$/, "")) : -1;
  if (at < 0) {
    node.textContent = text;
    return;
  }
  const n = needle.replace(/…$/, "").length;
  node.replaceChildren(text.slice(0, at), el("mark", {}, text.slice(at, at + n)), text.slice(at + n));
}

function passageNode(p, highlight) {
  const body = el("div", { class: "ptext" });
  markText(body, p.text, highlight);
  return el(
    "article",
    { class: "passage", id: "p-" + p.passage_id, dataset: { passageId: p.passage_id },
      onclick: () => select(p.passage_id) },
    el("div", { class: "pmeta" }, whereText(p)),
    body,
  );
}

async function openPassage(passageId, highlight) {
  const reader = $("reader");
  reader.hidden = false;
  document.body.classList.add("reading");
  try {
    const p = await api("passages/" + encodeURIComponent(passageId));
    const key = p.chapter == null ? null : p.doc_id + "/" + p.chapter;
    if (key === null) {
      chapterShown = null;
      $("reader-crumb").textContent = p.title;
      $("reader-title").textContent = p.heading || p.section || p.title;
      $("reader-body").replaceChildren(passageNode(p, highlight));
    } else if (key !== chapterShown || highlight) {
      const ch = await api(`chapters/${p.chapter}?doc_id=${encodeURIComponent(p.doc_id)}`);
      renderChapter(ch, p, highlight);
      chapterShown = key;
    }
    current = p;
    focusPassage(p);
  } catch (e) {
    $("reader-body").replaceChildren(el("p", { class: "error" }, e.message));
  }
}

function renderChapter(ch, p, highlight) {
  $("reader-crumb").textContent = p.title;
  $("reader-title").textContent = ch.heading || `第 ${ch.number} 章 ${ch.title}`;
  const body = [];
  let heading = null;
  for (const q of ch.passages) {
    const h = [q.section, q.subsection].filter(Boolean).join(" › ");
    if (h && h !== heading) body.push(el("h3", { class: "sec" }, h));
    heading = h;
    body.push(passageNode(q, q.passage_id === p.passage_id ? highlight : null));
  }
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

loadBook();
