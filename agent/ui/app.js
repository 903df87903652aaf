// The egsd status page. Everything it shows and does goes through the
// agent's JSON API (docs/api.md) with the session of the user who logged
// in here, so it sees and may do exactly what that user's role allows.
// The session token lives in this tab's sessionStorage and is sent only as
// an Authorization header. Text from the API is always set with
// textContent, never parsed as markup.
"use strict";

const REFRESH_MS = 3000;
const RECENT_DOCUMENTS = 10;
const SHOWN_INCIDENTS = 10;

const $ = (id) => document.getElementById(id);

let session = null; // {token, user, role}
let timer = null;
let refreshing = false;
let refreshFailed = false; // the message on show says the last refresh failed
// Panels whose data the user's role may not read: hidden, and not asked again.
const denied = new Set();

class APIError extends Error {
  constructor(status, problem) {
    super(problemText(status, problem));
    this.status = status;
    this.problem = problem;
  }
}

// problemText makes one sentence of an RFC 9457 problem document: its
// title, and the detail that says what happened and what to do.
function problemText(status, p) {
  if (!p || typeof p !== "object") {
    return "The agent answered " + status + " without an explanation; see its log.";
  }
  let text = p.title || "Error " + status;
  if (p.detail) {
    text += ": " + p.detail;
  }
  return text;
}

async function api(method, path, body) {
  const headers = {Accept: "application/json"};
  if (session) {
    headers.Authorization = "Bearer " + session.token;
  }
  // A hung request must not stop the refreshes for good; a test page
  // waits for the printer's confirmation, so actions get longer.
  const timeout = method === "GET" ? 15000 : 120000;
  const init = {method, headers, cache: "no-store", credentials: "omit", signal: AbortSignal.timeout(timeout)};
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new APIError(0, {title: "The agent does not answer", detail: "check that egsd is running on this till (" + e.message + ")"});
  }
  const type = res.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await res.json().catch(() => null) : null;
  if (res.ok) {
    return data;
  }
  if (res.status === 401 && session && path !== "/v1/sessions") {
    endSession("Your session has ended (" + problemText(401, data) + "). Log in again.");
  }
  throw new APIError(res.status, data);
}

// --- elements -------------------------------------------------------------

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) {
    e.append(c);
  }
  return e;
}

function setText(id, text) {
  const e = $(id);
  if (e.textContent !== text) {
    e.textContent = text;
  }
}

function show(e, visible) {
  e.hidden = !visible;
}

function message(text, ok) {
  refreshFailed = false;
  const m = $("message");
  m.textContent = text;
  m.className = ok ? "ok" : "problem";
  m.setAttribute("role", ok ? "status" : "alert");
  show(m, true);
}

// --- formats --------------------------------------------------------------

function fmtTime(iso) {
  if (!iso) {
    return "–";
  }
  return new Date(iso).toLocaleString();
}

function fmtDuration(ms) {
  const min = Math.floor(Math.abs(ms) / 60000);
  if (min < 1) {
    return "less than a minute";
  }
  const d = Math.floor(min / 1440), h = Math.floor((min % 1440) / 60), m = min % 60;
  const parts = [];
  if (d) parts.push(d + " d");
  if (h) parts.push(h + " h");
  if (m && !d) parts.push(m + " min");
  return parts.join(" ");
}

function words(s) {
  return String(s || "").replaceAll("_", " ");
}

// --- session --------------------------------------------------------------

function startSession(s) {
  session = s;
  sessionStorage.setItem("egsd.session", JSON.stringify(s));
  denied.clear();
  setText("user", s.user + " (" + s.role + ")");
  show($("who"), true);
  show($("login"), false);
  show($("main"), true);
  show($("message"), false);
  refresh();
  timer = setInterval(refresh, REFRESH_MS);
}

function endSession(why) {
  session = null;
  sessionStorage.removeItem("egsd.session");
  clearInterval(timer);
  timer = null;
  show($("who"), false);
  show($("main"), false);
  show($("login"), true);
  const err = $("login-error");
  err.textContent = why || "";
  show(err, !!why);
  $("login-password").value = "";
}

async function logIn(ev) {
  ev.preventDefault();
  const user = $("login-user").value.trim();
  const password = $("login-password").value;
  show($("login-error"), false);
  try {
    const s = await api("POST", "/v1/sessions", {user, password});
    $("login-password").value = "";
    startSession({token: s.token, user: s.user, role: s.role});
  } catch (e) {
    $("login-error").textContent = e.message;
    show($("login-error"), true);
    $("login-password").value = "";
    $("login-password").focus();
  }
}

async function logOut() {
  try {
    await api("DELETE", "/v1/sessions");
  } catch (e) {
    // The session is forgotten here either way.
  }
  endSession("");
  $("login-user").value = "";
}

// --- refresh --------------------------------------------------------------

// load calls the API for a panel; a 403 hides the panel for this session.
async function load(panel, path, optional404) {
  if (denied.has(panel)) {
    return null;
  }
  try {
    return await api("GET", path);
  } catch (e) {
    if (e.status === 403) {
      denied.add(panel);
      show($(panel), false);
      return null;
    }
    if (e.status === 404 && optional404) {
      return null;
    }
    throw e;
  }
}

async function refresh() {
  if (!session || refreshing) {
    return;
  }
  refreshing = true;
  try {
    const [health, status] = await Promise.all([
      fetch("/healthz", {cache: "no-store"}).then((r) => r.ok, () => false),
      api("GET", "/v1/status"),
    ]);
    renderUnit(health, status);
    renderOutbox(status);
    renderRejected(status.rejected);
    renderPrinter(status.printer);
    renderCertificate(status.onboarding);
    const [incidents, replay, documents] = await Promise.all([
      load("incidents", "/v1/incidents"),
      load("replay", "/v1/replay", true),
      load("documents", "/v1/documents?since=" + Math.max(0, status.counter - RECENT_DOCUMENTS) + "&limit=" + RECENT_DOCUMENTS),
    ]);
    if (incidents) renderIncidents(incidents.incidents, status);
    if (!denied.has("replay")) renderReplay(replay);
    if (documents) renderDocuments(documents.documents);
    setText("updated", new Date().toLocaleTimeString());
    if (refreshFailed) {
      show($("message"), false);
      refreshFailed = false;
    }
  } catch (e) {
    if (session) {
      message("Could not refresh: " + e.message, false);
      refreshFailed = true;
    }
  } finally {
    refreshing = false;
  }
}

// --- panels ---------------------------------------------------------------

function renderUnit(health, st) {
  const state = $("state");
  setText("state", words(st.state));
  state.dataset.state = st.state;
  setText("issuing", st.issuing ? "— sales are being issued" : "— sales cannot be issued now");
  setText("state-detail", st.state_detail || "Everything works: documents are issued and delivered.");
  setText("health", health ? "running" + (st.version ? ", version " + st.version : "") : "not answering its health check");
  setText("regime", st.regime + " (" + st.stamp_mode + " stamping)");
  setText("device", st.device_id);
  setText("counter", String(st.counter));
  setText("last-contact", fmtTime(st.submission.last_contact));
  setText("last-error", st.submission.last_error || "none");
}

function renderOutbox(st) {
  const ob = st.outbox;
  setText("outbox-pending", String(ob.pending));
  setText("outbox-unit", ob.pending === 1 ? "document waiting for the authority" : "documents waiting for the authority");
  setText("outbox-oldest", ob.pending ? fmtTime(ob.oldest) : "–");
  const dl = st.delivery_deadline;
  const d = $("deadline");
  let text, level = "";
  if (!dl) {
    text = "this regime sets no delivery deadline";
  } else if (!ob.pending) {
    text = "nothing waiting: every document is delivered (each must be within " + Math.round(dl.within_seconds / 3600) + " h of its issue)";
  } else {
    const left = new Date(dl.oldest_due) - Date.now();
    if (dl.overdue) {
      text = "overdue since " + fmtTime(dl.oldest_due) + ": notify the authority of the delay";
      level = "overdue";
    } else {
      text = "due by " + fmtTime(dl.oldest_due) + " — " + fmtDuration(left) + " left";
      level = left < 3600000 ? "soon" : "";
    }
  }
  setText("deadline", text);
  d.dataset.level = level;
}

// noticeText is the notification a manager files with the authority about
// an incident: at the failure, and again at its resolution.
function noticeText(inc, st) {
  const data = inc.data || {};
  const open = !inc.end;
  const lines = [
    (open ? "Notification of a failure" : "Notification of the resolution of a failure") + " of an e-invoicing device",
    "Device: " + st.device_id + " (egsd, " + st.regime + ")",
    "Failure: " + inc.title,
    "Started: " + new Date(inc.start).toISOString(),
    open ? "Ended: not yet" : "Ended: " + new Date(inc.end).toISOString(),
  ];
  if (data.last_error) {
    lines.push("Cause: " + data.last_error);
  }
  if (data.counter_at_start) {
    lines.push("Document counter when the failure began: " + data.counter_at_start);
  }
  if (open) {
    lines.push("The device keeps issuing; every document issued during the failure will be submitted once the connection is restored.");
  } else if (inc.summary) {
    lines.push("Resolution: " + inc.summary);
  }
  return lines.join("\n");
}

const incidentItems = new Map(); // incident id → its list item

function renderIncidents(all, st) {
  const list = $("incident-list");
  const shown = all.slice().sort((a, b) => b.id - a.id).slice(0, SHOWN_INCIDENTS);
  show($("incidents-none"), shown.length === 0);
  const keep = new Set();
  shown.forEach((inc, i) => {
    keep.add(inc.id);
    let li = incidentItems.get(inc.id);
    if (!li) {
      li = newIncidentItem(inc.id);
      incidentItems.set(inc.id, li);
    }
    if (list.children[i] !== li) {
      list.insertBefore(li, list.children[i] || null);
    }
    updateIncident(li, inc, st);
  });
  for (const [id, li] of incidentItems) {
    if (!keep.has(id)) {
      li.remove();
      incidentItems.delete(id);
    }
  }
}

function newIncidentItem(id) {
  const li = $("incident-template").content.firstElementChild.cloneNode(true);
  li.id = "incident-" + id;
  li.querySelector(".notice-copy").addEventListener("click", async () => {
    const text = li.querySelector(".notice-text");
    text.select();
    try {
      await navigator.clipboard.writeText(text.value);
      message("The notification of incident " + id + " is copied: paste it into the authority's form.", true);
    } catch (e) {
      message("Copying is not allowed here: the text is selected, copy it with Ctrl+C.", false);
    }
  });
  li.querySelector(".notice-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = li.querySelector(".notice-ref");
    const reference = input.value.trim();
    try {
      await api("POST", "/v1/incidents/" + id + "/notifications", {reference});
      input.value = "";
      message("Reference " + reference + " recorded on incident " + id + ".", true);
      refresh();
    } catch (e) {
      message("The reference was not recorded. " + e.message, false);
    }
  });
  return li;
}

function updateIncident(li, inc, st) {
  const open = !inc.end;
  li.dataset.kind = inc.kind;
  li.dataset.open = String(open);
  li.querySelector(".incident-title").textContent = inc.title;
  const badge = li.querySelector(".incident-state");
  badge.textContent = open ? "open" : "closed";
  badge.dataset.state = open ? "open" : "closed";
  li.querySelector(".incident-when").textContent = "#" + inc.id + " " + words(inc.kind) + ", since " + fmtTime(inc.start) +
    (open ? "" : ", closed " + fmtTime(inc.end));
  li.querySelector(".incident-detail").textContent = inc.detail;
  const summary = li.querySelector(".incident-summary");
  summary.textContent = inc.summary || "";
  show(summary, !!inc.summary);
  const text = li.querySelector(".notice-text");
  const notice = noticeText(inc, st);
  if (text.value !== notice) {
    text.value = notice;
  }
  const refs = li.querySelector(".notice-refs");
  refs.replaceChildren(...(inc.notifications || []).map((n) =>
    el("li", {className: "notice-recorded"}, "Notified: ", el("strong", {textContent: n.reference}), " — recorded by " + n.by + ", " + fmtTime(n.at))));
  if (!inc.notifications || inc.notifications.length === 0) {
    refs.replaceChildren(el("li", {className: "warn", textContent: "No notification recorded yet: file the text above with the authority, then record its reference."}));
  }
}

function renderReplay(r) {
  const box = $("replay-progress");
  if (!r) {
    show(box, false);
    return;
  }
  const p = r.replay;
  show(box, true);
  const bar = $("replay-bar");
  bar.max = Math.max(p.total, 1);
  bar.value = p.total ? p.done : 1;
  let text = p.done + " of " + p.total + " answered: " + p.accepted + " accepted, " +
    p.accepted_with_warnings + " with warnings, " + p.rejected + " rejected";
  text += p.finished ? " — finished " + fmtTime(p.finished) + "." : " — running; " + r.pending + " still waiting.";
  setText("replay-text", text);
  $("replay-progress").dataset.finished = String(!!p.finished);
  const err = $("replay-error");
  let why = "";
  if (p.paused) {
    why = "Submission is paused: " + p.paused;
  } else if (p.last_error && !p.finished) {
    why = "The authority keeps failing since " + fmtTime(p.failing_since) + ": " + p.last_error + ". Next attempt " + fmtTime(p.next_attempt) + ".";
  }
  err.textContent = why;
  show(err, !!why);
}

async function replayNow() {
  try {
    const p = await api("POST", "/v1/replay");
    message("Replay started: " + p.total + " documents to send.", true);
    refresh();
  } catch (e) {
    message("The replay did not start. " + e.message, false);
  }
}

function renderRejected(rej) {
  let summary = rej.count === 0 ? "The authority has rejected no document." :
    rej.count + " rejected by the authority; " + rej.without_credit_note + " still without the credit note that corrects them.";
  if (rej.without_credit_note) {
    summary += " Issue the corrective credit note, then issue the sale again, corrected.";
  }
  setText("rejected-summary", summary);
  show($("rejected-table"), rej.newest.length > 0);
  $("rejected-rows").replaceChildren(...rej.newest.map((d) => {
    let correction;
    if (d.credit_note) {
      correction = el("span", {className: "ok", textContent: "corrected by credit note " + d.credit_note});
    } else if (d.kind === "credit_note") {
      correction = el("span", {textContent: "none needed: issue the return again"});
    } else {
      correction = el("button", {type: "button", className: "credit-note", textContent: "Issue corrective credit note"});
      correction.addEventListener("click", () => creditNote(d));
    }
    const tr = el("tr", {},
      el("td", {textContent: d.number}), el("td", {textContent: words(d.kind)}),
      el("td", {textContent: fmtTime(d.issued_at)}), el("td", {textContent: d.message || ""}), el("td", {}, correction));
    tr.dataset.counter = String(d.counter);
    return tr;
  }));
}

async function creditNote(d) {
  try {
    const note = await api("POST", "/v1/documents/" + d.counter + "/credit-note");
    message("Credit note " + (note.number || note.counter) + " issued for rejected document " + d.number + ". Now issue the sale again, corrected.", true);
    refresh();
  } catch (e) {
    message("No credit note was issued. " + e.message, false);
  }
}

function renderPrinter(p) {
  const state = $("printer-state");
  if (!p) {
    setText("printer-state", "no printer");
    state.dataset.state = "none";
    setText("printer-detail", "this unit has no receipt printer configured");
    show($("printer-facts"), false);
    return;
  }
  show($("printer-facts"), true);
  setText("printer-state", words(p.state));
  state.dataset.state = p.state;
  setText("printer-detail", p.detail || "");
  setText("printer-queue", p.queue.queued + " queued, " + p.queue.awaiting_answer + " awaiting the printer, " + p.queue.failed + " failed");
  setText("printer-paper", p.paper === "low" ? "low: change the roll soon" : "ok");
}

async function printTestPage() {
  message("Printing the test page…", true);
  try {
    await api("POST", "/v1/printer/test");
    message("The printer confirmed the test page.", true);
  } catch (e) {
    message("The test page did not print. " + e.message, false);
  }
  refresh();
}

async function reprint(id) {
  try {
    const r = await api("POST", "/v1/documents/" + encodeURIComponent(id) + "/print");
    message("A copy of document " + id + " is queued for printing (copy " + r.job.copy + ").", true);
    refresh();
  } catch (e) {
    message("Document " + id + " was not reprinted. " + e.message, false);
  }
}

function renderCertificate(ob) {
  const warn = $("certificate-warning");
  if (!ob) {
    setText("certificate-text", "This regime has no certificate to renew.");
    show(warn, false);
    return;
  }
  let text = "Onboarding: " + words(ob.state) + ".";
  if (ob.not_after) {
    const left = new Date(ob.not_after) - Date.now();
    text += " The certificate is valid until " + fmtTime(ob.not_after) + (left > 0 ? " (" + fmtDuration(left) + " left)." : ".");
  }
  setText("certificate-text", text);
  warn.textContent = ob.warning || "";
  show(warn, !!ob.warning);
}

function renderDocuments(docs) {
  show($("documents-none"), docs.length === 0);
  $("document-rows").replaceChildren(...docs.slice().reverse().map((d) => {
    const b = el("button", {type: "button", className: "reprint", textContent: "Reprint"});
    b.addEventListener("click", () => reprint(String(d.counter)));
    return el("tr", {},
      el("td", {textContent: String(d.counter)}), el("td", {textContent: d.number || ""}),
      el("td", {textContent: words(d.kind)}), el("td", {textContent: fmtTime(d.issued_at)}),
      el("td", {textContent: d.user}), el("td", {textContent: words(d.status)}), el("td", {}, b));
  }));
}

// --- start ----------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", logIn);
  $("logout").addEventListener("click", logOut);
  $("replay-now").addEventListener("click", replayNow);
  $("printer-test").addEventListener("click", printTestPage);
  $("reprint-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = $("reprint-id").value.trim();
    if (id) reprint(id);
  });
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem("egsd.session"));
  } catch (e) {
    saved = null;
  }
  if (saved && saved.token) {
    startSession(saved);
  } else {
    endSession("");
  }
});
