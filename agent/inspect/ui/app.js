// wsgrok inspector: the list follows /api/events (Server-Sent Events); the
// detail comes from /api/requests/{id}. Plain DOM, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { entries: new Map(), order: [], selected: 0, detail: null, tab: "request", info: {}, filter: "" };

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function fmtSize(n) {
  if (n < 1024) return n + " B";
  if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + " KB";
  return (n / 1048576).toFixed(1) + " MB";
}
function fmtMS(ms) {
  if (ms < 1) return ms.toFixed(2) + " ms";
  if (ms < 1000) return ms.toFixed(ms < 10 ? 1 : 0) + " ms";
  return (ms / 1000).toFixed(2) + " s";
}
function fmtTime(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour12: false });
}
function statusClass(en) {
  if (en.state === "error" && !en.status) return "s-err";
  if (!en.status) return "s-pending";
  return "s" + String(en.status)[0];
}
function statusText(en) {
  if (en.status) return String(en.status);
  if (en.state === "error") return "failed";
  return "…";
}

function toast(msg) {
  const t = $("toast");
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 2600);
}

// ---- the list ----

function matches(en) {
  const f = state.filter;
  if (!f) return true;
  return (en.method + " " + en.path + " " + (en.status || "") + " " + en.tunnel).toLowerCase().includes(f);
}

function rowFor(en) {
  const tr = el("tr", { "data-id": en.id, onclick: () => select(en.id) },
    el("td", { class: "c-time", title: new Date(en.start).toLocaleString() }, fmtTime(en.start)),
    el("td", { class: "method m-" + en.method }, en.method),
    el("td", { class: "path", title: en.path }, en.path,
      en.replay ? el("span", { class: "tag replay", title: en.replay_of ? "Replay of #" + en.replay_of : "Replay" }, "replay") : null,
      en.truncated ? el("span", { class: "tag cut", title: "A body was longer than the capture limit" }, "truncated") : null),
    el("td", { class: "c-status" }, el("span", { class: "status " + statusClass(en), title: en.error || "" }, statusText(en))),
    el("td", { class: "c-num" }, en.state === "pending" ? "" : fmtMS(en.duration_ms)),
    el("td", { class: "c-num" }, fmtSize(en.resp_size)));
  if (en.id === state.selected) tr.classList.add("sel");
  if (!matches(en)) tr.hidden = true;
  return tr;
}

function upsert(en, fresh) {
  const rows = $("rows");
  const had = state.entries.has(en.id);
  state.entries.set(en.id, en);
  const tr = rowFor(en);
  const old = rows.querySelector(`tr[data-id="${en.id}"]`);
  if (old) {
    old.replaceWith(tr);
  } else {
    if (fresh) tr.classList.add("fresh");
    // newest first: ids grow with time
    let before = null;
    for (const r of rows.children) {
      if (Number(r.dataset.id) < en.id) { before = r; break; }
    }
    rows.insertBefore(tr, before);
  }
  if (!had) trim();
  counts();
  if (en.id === state.selected) refreshDetail();
}

// trim drops rows past the inspector's limit (it has evicted them).
function trim() {
  const max = state.info.max_requests || 500;
  const rows = $("rows");
  while (rows.children.length > max) {
    const last = rows.lastElementChild;
    state.entries.delete(Number(last.dataset.id));
    last.remove();
  }
}

function counts() {
  const n = state.entries.size;
  $("count").textContent = n === 1 ? "1 request" : n + " requests";
  $("empty").hidden = n > 0;
}

async function loadList() {
  const r = await fetch("/api/requests");
  if (!r.ok) return;
  const list = await r.json();
  state.info = list;
  $("rows").replaceChildren();
  state.entries.clear();
  for (const en of list.requests) {
    state.entries.set(en.id, en);
    $("rows").append(rowFor(en));
  }
  $("limits").textContent = `keeps the newest ${list.max_requests} · bodies up to ${fmtSize(list.max_body)}` + (list.redact ? " · credentials redacted" : "");
  counts();
  if (state.selected && !state.entries.has(state.selected)) showPlaceholder();
}

function clearAll() {
  state.entries.clear();
  $("rows").replaceChildren();
  counts();
  showPlaceholder();
}

// ---- live updates ----

function connect() {
  const es = new EventSource("/api/events");
  const live = $("live");
  es.addEventListener("hello", (ev) => {
    state.info = Object.assign(state.info, JSON.parse(ev.data));
    live.dataset.state = "live";
    $("live-text").textContent = "Live";
    loadList();
  });
  es.addEventListener("request", (ev) => upsert(JSON.parse(ev.data), true));
  es.addEventListener("clear", clearAll);
  es.addEventListener("resync", loadList);
  es.onerror = () => {
    live.dataset.state = "reconnecting";
    $("live-text").textContent = "Reconnecting";
  };
}

// ---- the detail ----

function showPlaceholder() {
  state.selected = 0;
  delete $("detail").dataset.id;
  delete $("detail").dataset.path;
  state.detail = null;
  for (const r of document.querySelectorAll("#rows tr.sel")) r.classList.remove("sel");
  $("detail").replaceChildren(el("div", { class: "placeholder", id: "placeholder" },
    el("p", null, "Select a request to see its headers, bodies and timing."), el("p", { class: "muted" }, "↑ ↓ move through the list.")));
}

async function select(id) {
  state.selected = id;
  for (const r of $("rows").children) r.classList.toggle("sel", Number(r.dataset.id) === id);
  const row = $("rows").querySelector(`tr[data-id="${id}"]`);
  if (row) row.scrollIntoView({ block: "nearest" });
  await refreshDetail();
}

async function refreshDetail() {
  const id = state.selected;
  if (!id) return;
  const r = await fetch("/api/requests/" + id);
  if (id !== state.selected) return;
  if (!r.ok) { showPlaceholder(); return; }
  state.detail = await r.json();
  renderDetail();
}

function renderDetail() {
  const d = state.detail;
  const pane = $("detail");
  const scroll = pane.scrollTop;
  const head = el("div", { class: "d-head" },
    el("div", { class: "d-title" },
      el("span", { class: "method m-" + d.method }, d.method),
      el("span", { class: "d-path" }, d.path),
      el("span", { class: "status " + statusClass(d), id: "d-status" }, statusText(d)),
      d.replay ? el("span", { class: "tag replay" }, d.replay_of ? "replay of #" + d.replay_of : "replay") : null),
    el("div", { class: "d-meta" },
      el("span", null, "#", el("b", null, d.id)),
      el("span", null, "Tunnel ", el("b", null, d.tunnel)),
      el("span", null, "Host ", el("b", null, d.host || "—")),
      el("span", null, "From ", el("b", null, d.client_addr || "—")),
      el("span", null, el("b", null, new Date(d.start).toLocaleString())),
      el("span", null, el("b", null, d.proto || "HTTP/1.1"))),
    el("div", { class: "d-actions" },
      el("button", { class: "btn primary", id: "btn-replay", type: "button", disabled: !state.info.can_replay, onclick: () => replay(d.id, null) }, "Replay"),
      el("button", { class: "btn", id: "btn-edit", type: "button", disabled: !state.info.can_replay, onclick: () => openEdit(d) }, "Edit and replay"),
      el("button", { class: "btn", id: "btn-curl", type: "button", onclick: () => showCurl(d.id) }, "Copy as curl")));
  const body = el("div", { class: "d-body" });
  if (d.error) body.append(el("div", { class: "banner bad" }, d.error));
  body.append(timingCard(d));
  const tabs = el("div", { class: "tabs", role: "tablist" },
    tabButton("request", "Request"), tabButton("response", d.status ? "Response · " + d.status : "Response"));
  const msg = state.tab === "request" ? d.request : d.response;
  const card = el("div", { class: "card", id: "msg-card" }, tabs,
    d.state === "pending" && state.tab === "response" ? el("div", { class: "none" }, "Waiting for the local service to answer…") : [
      headersBlock(msg.header),
      bodyBlock(msg.body, state.tab === "request" ? "req-body" : "resp-body")]);
  body.append(card);
  pane.replaceChildren(head, body);
  pane.dataset.id = d.id;
  pane.dataset.path = d.path;
  pane.scrollTop = scroll;
}

function tabButton(name, label) {
  return el("button", { type: "button", role: "tab", id: "tab-" + name, "aria-selected": String(state.tab === name),
    onclick: () => { state.tab = name; renderDetail(); } }, label);
}

function timingCard(d) {
  const t = d.timing;
  const parts = [["edge", "Edge", t.edge_ms], ["tunnel", "Tunnel", t.tunnel_ms], ["local", "Local service", t.local_ms], ["transfer", "Response transfer", t.transfer_ms]];
  const sum = parts.reduce((a, p) => a + p[2], 0) || 1;
  const bar = el("div", { class: "timing-bar", title: "Total " + fmtMS(t.total_ms) });
  for (const [k, , v] of parts) {
    if (v <= 0) continue;
    const s = el("span", { class: "tb-" + k });
    s.style.flexGrow = String(v / sum);
    bar.append(s);
  }
  const label = { edge: t.tunnel_known ? "Edge" : "Edge + tunnel in", tunnel: "Tunnel", local: "Local service", transfer: "Response transfer" };
  const known = { edge: t.edge_known, tunnel: t.tunnel_known, local: true, transfer: true };
  const why = d.replay ? "A replay goes straight to the local service" : "Not measured yet";
  const legend = el("div", { class: "legend" }, parts.map(([k, , v]) =>
    el("div", { title: known[k] ? "" : why }, el("b", null, known[k] ? fmtMS(v) : "—"), el("i", { class: "tb-" + k }), label[k])));
  return el("div", { class: "card", id: "timing" },
    el("h3", null, "Timing", el("span", { class: "right" }, "Total ", el("b", null, fmtMS(t.total_ms)))),
    el("div", { class: "inner" }, bar, legend));
}

function headersBlock(pairs) {
  if (!pairs || !pairs.length) return el("div", { class: "none" }, "No headers.");
  return el("table", { class: "hdrs" }, el("tbody", null, pairs.map(([k, v]) => el("tr", null, el("td", null, k), el("td", null, v)))));
}

function bodyBlock(b, id) {
  const kindLabel = { json: "JSON", form: "Form", text: "Text", binary: "Binary", empty: "Empty" }[b.kind] || b.kind;
  const h = el("h4", { class: "sub-h" }, "Body", el("span", { class: "right" }, kindLabel + (b.kind === "empty" ? "" : " · " + fmtSize(b.size)) + (b.content_type ? " · " + b.content_type : "")));
  const wrap = el("div", { id: id, "data-kind": b.kind });
  if (b.truncated) {
    wrap.append(el("div", { class: "banner warn", id: id + "-truncated" },
      `Truncated: the first ${fmtSize(b.captured)} of ${fmtSize(b.size)} were captured (the limit is ${fmtSize(state.info.max_body || b.captured)}).`));
  }
  switch (b.kind) {
    case "empty":
      wrap.append(el("div", { class: "none" }, "No body."));
      break;
    case "json":
      wrap.append(b.truncated ? el("pre", { class: "code" }, b.text) : jsonPre(b.text));
      break;
    case "form":
      wrap.append(b.form && b.form.length
        ? el("table", { class: "kv" }, el("tbody", null, b.form.map(([k, v]) => el("tr", null, el("td", null, k), el("td", null, v)))))
        : el("pre", { class: "code" }, b.text));
      break;
    case "binary":
      wrap.append(el("div", { class: "banner info" }, `Binary body, ${fmtSize(b.size)}. The first ${fmtSize(Math.min(b.captured, 512))} as hex:`),
        el("pre", { class: "code" }, b.hex));
      break;
    default:
      wrap.append(el("pre", { class: "code" }, b.text));
  }
  return el("div", null, h, wrap);
}

// jsonPre colours pretty-printed JSON without innerHTML.
function jsonPre(text) {
  const pre = el("pre", { class: "code json" });
  const re = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  let last = 0, m;
  while ((m = re.exec(text))) {
    pre.append(text.slice(last, m.index));
    if (m[1]) {
      pre.append(el("span", { class: m[2] ? "j-key" : "j-str" }, m[1]));
      if (m[2]) pre.append(m[2]);
    } else if (m[3]) pre.append(el("span", { class: "j-lit" }, m[3]));
    else pre.append(el("span", { class: "j-num" }, m[4]));
    last = re.lastIndex;
  }
  pre.append(text.slice(last));
  return pre;
}

// ---- actions ----

async function replay(id, edit) {
  const r = await fetch(`/api/requests/${id}/replay`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(edit || {}),
  });
  const out = await r.json().catch(() => ({ error: "bad answer from the inspector" }));
  if (!r.ok && !out.id) throw new Error(out.error || "replay failed: " + r.status);
  toast(out.error ? "Replay failed: " + out.error : `Replayed #${id} → ${out.status}`);
  if (out.id) {
    state.tab = "response";
    await select(out.id);
  }
  return out;
}

function openEdit(d) {
  const dlg = $("edit");
  $("edit-method").value = d.method;
  $("edit-path").value = d.path;
  $("edit-headers").value = d.request.header.map(([k, v]) => k + ": " + v).join("\n");
  const b = d.request.body;
  const note = $("edit-note");
  note.hidden = true;
  $("edit-error").hidden = true;
  $("edit-body").value = b.kind === "binary" ? "" : (b.text || "");
  $("edit-body").dataset.binary = b.kind === "binary" ? "1" : "";
  if (b.kind === "binary") { note.hidden = false; note.textContent = "The body is binary: leave the field empty to send it as captured, or type a new one."; }
  if (b.truncated) { note.hidden = false; note.textContent = `The body was truncated to ${fmtSize(b.captured)} of ${fmtSize(b.size)}: only the captured part is sent.`; }
  if (state.info.redact) { note.hidden = false; note.textContent = (note.textContent ? note.textContent + " " : "") + "Credentials were redacted: type the real ones to send them."; }
  dlg.dataset.id = d.id;
  dlg.showModal();
  $("edit-path").focus();
}

function parseHeaders(text) {
  const h = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const i = line.indexOf(":", 1);
    if (i < 0) throw new Error(`“${line.trim()}” is not Name: value`);
    const k = line.slice(0, i).trim(), v = line.slice(i + 1).trim();
    (h[k] = h[k] || []).push(v);
  }
  return h;
}

async function sendEdit(ev) {
  ev.preventDefault();
  const dlg = $("edit");
  const err = $("edit-error");
  err.hidden = true;
  let edit;
  try {
    edit = { method: $("edit-method").value.trim(), path: $("edit-path").value.trim(), header: parseHeaders($("edit-headers").value) };
    const body = $("edit-body").value;
    if (!($("edit-body").dataset.binary && body === "")) edit.body = body;
  } catch (e) {
    err.textContent = e.message; err.hidden = false; return;
  }
  $("edit-send").disabled = true;
  try {
    await replay(Number(dlg.dataset.id), edit);
    dlg.close();
  } catch (e) {
    err.textContent = e.message; err.hidden = false;
  } finally {
    $("edit-send").disabled = false;
  }
}

async function showCurl(id) {
  const r = await fetch(`/api/requests/${id}/curl`);
  $("curl-text").textContent = r.ok ? await r.text() : "Not available: " + r.status;
  $("curl").showModal();
}

async function copyCurl() {
  const text = $("curl-text").textContent;
  try {
    await navigator.clipboard.writeText(text);
    toast("Copied to the clipboard");
  } catch {
    const range = document.createRange();
    range.selectNodeContents($("curl-text"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    toast("Press Ctrl+C to copy");
  }
}

async function clearList() {
  const r = await fetch("/api/requests", { method: "DELETE" });
  if (r.ok) clearAll();
}

function move(delta) {
  const rows = [...$("rows").children].filter((r) => !r.hidden);
  if (!rows.length) return;
  let i = rows.findIndex((r) => Number(r.dataset.id) === state.selected);
  i = i < 0 ? 0 : Math.max(0, Math.min(rows.length - 1, i + delta));
  select(Number(rows[i].dataset.id));
}

document.addEventListener("DOMContentLoaded", () => {
  $("btn-clear").addEventListener("click", clearList);
  $("edit-form").addEventListener("submit", sendEdit);
  $("edit-cancel").addEventListener("click", () => $("edit").close());
  $("curl-copy").addEventListener("click", copyCurl);
  $("filter").addEventListener("input", (e) => {
    state.filter = e.target.value.trim().toLowerCase();
    for (const r of $("rows").children) r.hidden = !matches(state.entries.get(Number(r.dataset.id)));
  });
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, textarea, dialog")) return;
    if (e.key === "ArrowDown" || e.key === "j") { e.preventDefault(); move(1); }
    if (e.key === "ArrowUp" || e.key === "k") { e.preventDefault(); move(-1); }
  });
  counts();
  connect();
});
