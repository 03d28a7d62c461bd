// promptcut seller page: plain JS against the /v1 API (no build step, no dependencies).
// Every request carries the X-Api-Key header, so images and downloads are fetched as blobs and shown through
// object URLs: a plain <img src> or <a href> could not send the key.
"use strict";

const KEY_STORAGE = "promptcut.apiKey";
const JOB_STORAGE = "promptcut.lastJob";
const POLL_MS = 700;
const ACTIVE_STATES = new Set(["queued", "running"]);
// Built-in theme names (`promptcut themes`); replaced by GET /v1/themes when the server offers that route.
const BUILTIN_THEMES = [
  "black-friday", "halloween", "spring", "studio-grey", "studio-white", "summer-sale", "valentines",
  "winter-holidays",
];
const STATE_LABELS = { queued: "Queued", running: "Working…", done: "Done", failed: "Failed" };
const EXTENSIONS = { "image/png": "png", "image/webp": "webp", "image/jpeg": "jpg", "application/zip": "zip" };

const $ = (id) => document.getElementById(id);

const page = {
  files: [],            // [{file, title, preview}] chosen for the next job
  job: null,            // the job being watched (last JSON from the API)
  watchToken: 0,        // bumps when another job is opened, so an older poll loop stops
  renderGeneration: 0,  // bumps after a theme switch: every result is fetched again
  cards: new Map(),     // item id → card element
};

// ---------------------------------------------------------------- API access and errors

class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

const memory = new Map();  // stands in for localStorage when the browser disables it (then: this page only)

function recall(name) {
  try { return localStorage.getItem(name) || ""; } catch { return memory.get(name) || ""; }
}

function remember(name, value) {
  try {
    if (value) localStorage.setItem(name, value); else localStorage.removeItem(name);
  } catch {
    if (value) memory.set(name, value); else memory.delete(name);
  }
}

const storedKey = () => recall(KEY_STORAGE);

const DEFAULT_MESSAGES = {
  0: "Could not reach the promptcut server. Is it running?",
  401: "The API key was not accepted. Check it and save it again.",
  404: "Not found: it does not exist or belongs to another API key.",
  409: "Not ready yet.",
  413: "The upload is too large.",
  415: "That file is not an image promptcut can read.",
  429: "The server is busy.",
  500: "The server hit an internal error.",
  503: "The server is not ready yet.",
};

async function errorFrom(response) {
  let code = `http_${response.status}`;
  let message = "";
  let field;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || "";
      field = body.error.field;
    } else if (body && body.detail) {
      message = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    }
  } catch { /* not JSON: keep the status-based message */ }
  if (!message) message = DEFAULT_MESSAGES[response.status] || `Request failed (HTTP ${response.status}).`;
  if (response.status === 401 && code === "unauthorized") message = DEFAULT_MESSAGES[401];
  const retry = response.headers.get("Retry-After");
  if (response.status === 429 && retry) message += ` Try again in ${retry} s.`;
  return new ApiError(response.status, code, message, field);
}

async function api(path, { method = "GET", json, form } = {}) {
  const headers = { "X-Api-Key": storedKey() };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body });
  } catch {
    throw new ApiError(0, "network", DEFAULT_MESSAGES[0]);
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

const apiJson = async (path, options) => (await api(path, options)).json();

// "unknown theme …" → "Unknown theme …"; a message that starts with a URL or a name is left alone.
function sentence(text) {
  return /^[a-z]+\s/.test(text) ? text[0].toUpperCase() + text.slice(1) : text;
}

function describe(error) {
  if (!(error instanceof ApiError)) return `Unexpected problem: ${error && error.message ? error.message : error}`;
  const field = error.field ? ` (field: ${error.field})` : "";
  return `${sentence(error.message)}${field} [${error.code}]`;
}

function showMessage(text, kind = "error") {
  const box = $("message");
  box.textContent = text;
  box.className = `message ${kind}`;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  box.hidden = false;
}

function clearMessage() {
  $("message").hidden = true;
  $("message").textContent = "";
}

function needKey() {
  if (storedKey()) return true;
  showMessage("Enter your API key first (step 1).");
  $("api-key").focus();
  return false;
}

// ---------------------------------------------------------------- downloads and images

function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function fileNameFrom(response, fallbackStem) {
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  if (match) return decodeURIComponent(match[1]);
  const type = (response.headers.get("Content-Type") || "").split(";")[0].trim();
  return `${fallbackStem}.${EXTENSIONS[type] || "bin"}`;
}

async function download(path, fallbackStem) {
  const response = await api(path);
  saveBlob(await response.blob(), fileNameFrom(response, fallbackStem));
}

// Fetch an image with the key and show it; a newer request for the same <img> wins over a slower older one.
async function showImage(img, url, key) {
  img.dataset.pending = key;
  const response = await api(url);
  const blob = await response.blob();
  if (img.dataset.pending !== key) return;
  const old = img.src;
  img.src = URL.createObjectURL(blob);
  img.dataset.loaded = key;
  img.parentElement.dataset.note = "";
  img.removeAttribute("title");
  if (old.startsWith("blob:")) URL.revokeObjectURL(old);
}

// ---------------------------------------------------------------- step 1: the key

async function saveKey(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (!key) return;
  remember(KEY_STORAGE, key);
  clearMessage();
  $("key-status").textContent = "Checking the key…";
  try {
    await loadRecent();
    $("key-status").textContent = "Key saved in this browser and accepted by the server.";
    loadThemes();
    loadHeld().catch((error) => showMessage(describe(error)));
  } catch (error) {
    $("key-status").textContent = "Key saved, but the server did not accept it.";
    showMessage(describe(error));
  }
}

function forgetKey() {
  remember(KEY_STORAGE, "");
  remember(JOB_STORAGE, "");
  $("api-key").value = "";
  $("key-status").textContent = "Key removed from this browser.";
  $("recent").replaceChildren();
  for (const [id, card] of held.cards) dropHeld(id, card);
  $("held-panel").hidden = true;
}

async function loadThemes() {
  let names = BUILTIN_THEMES;
  try {
    const body = await apiJson("/v1/themes");
    const list = Array.isArray(body) ? body : body.themes;
    if (Array.isArray(list) && list.length) names = list.map((t) => (typeof t === "string" ? t : t.name));
  } catch { /* optional route: the built-in names are the fallback */ }
  $("theme-names").replaceChildren(...names.map((name) => new Option(name, name)));
}

// ---------------------------------------------------------------- step 2: a new job

function titleFromFileName(name) {
  return name.replace(/\.[^.]+$/, "").replace(/[-_]+/g, " ").trim();
}

function addFiles() {
  for (const file of $("files").files) {
    page.files.push({ file, title: titleFromFileName(file.name), preview: URL.createObjectURL(file) });
  }
  $("files").value = "";  // the same file can be picked again; page.files holds the choice
  renderFileList();
}

function renderFileList() {
  const list = $("file-list");
  list.replaceChildren();
  page.files.forEach((entry, index) => {
    const row = document.createElement("li");
    const thumb = document.createElement("img");
    thumb.src = entry.preview;
    thumb.alt = "";
    const label = document.createElement("label");
    const inputId = `file-title-${index}`;
    label.htmlFor = inputId;
    label.textContent = `Title for ${entry.file.name}`;
    const input = document.createElement("input");
    input.id = inputId;
    input.className = "file-title";
    input.value = entry.title;
    input.addEventListener("input", () => { entry.title = input.value; });
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "secondary";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove ${entry.file.name}`);
    remove.addEventListener("click", () => {
      URL.revokeObjectURL(entry.preview);
      page.files.splice(index, 1);
      renderFileList();
    });
    const text = document.createElement("div");
    text.className = "file-fields";
    text.append(label, input);
    row.append(thumb, text, remove);
    list.append(row);
  });
}

// The URL's last path segment, as the item's display reference (and its name in the zip).
function fileNameOf(url) {
  let name = "";
  try { name = decodeURIComponent(new URL(url).pathname.split("/").pop() || ""); } catch { /* keep "" */ }
  return name.slice(0, 200);
}

// "image URL, title" per line; the title may itself contain commas.
function parseUrlLines(text) {
  const items = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (!line) return;
    const comma = line.indexOf(",");
    const url = (comma < 0 ? line : line.slice(0, comma)).trim();
    const title = comma < 0 ? "" : line.slice(comma + 1).trim();
    if (!/^https?:\/\/\S+$/i.test(url)) {
      throw new ApiError(400, "url_invalid", `Line ${index + 1}: "${url}" is not an http(s) image URL.`);
    }
    items.push({ image_url: url, title, ref: fileNameOf(url) });
  });
  return items;
}

function outputOptions() {
  const options = { format: $("format").value };
  const theme = $("theme").value.trim();
  if (theme) options.theme = theme;
  return options;
}

function jobRequest() {
  const urlItems = parseUrlLines($("urls").value);
  if (!page.files.length && !urlItems.length) {
    throw new ApiError(400, "no_items", "Add at least one photo or image URL.");
  }
  const options = outputOptions();
  if (!page.files.length) return { json: { items: urlItems, ...options } };
  // Multipart: the i-th image_file part goes with the i-th entry of `items` that has no image_url;
  // pasted URLs ride along as entries that bring their own image_url.
  const form = new FormData();
  for (const entry of page.files) form.append("image_file", entry.file, entry.file.name);
  const fileItems = page.files.map((entry) => ({ title: entry.title.trim(), ref: entry.file.name }));
  form.append("items", JSON.stringify([...fileItems, ...urlItems]));
  for (const [name, value] of Object.entries(options)) form.append(name, value);
  return { form };
}

async function createJob(event) {
  event.preventDefault();
  if (!needKey()) return;
  clearMessage();
  const button = $("create-job");
  button.disabled = true;
  button.textContent = "Creating…";
  try {
    const request = jobRequest();
    const job = await apiJson("/v1/jobs", { method: "POST", ...request });
    page.files.forEach((entry) => URL.revokeObjectURL(entry.preview));
    page.files = [];
    renderFileList();
    $("urls").value = "";
    showMessage(`Job created with ${job.items ? job.items.length : "its"} items.`, "info");
    openJob(job.id, job);
    $("job-panel").scrollIntoView({ behavior: "smooth", block: "start" });
    loadRecent().catch(() => {});
  } catch (error) {
    showMessage(describe(error));
  } finally {
    button.disabled = false;
    button.textContent = "Create job";
  }
}

// ---------------------------------------------------------------- step 3: watch, fix, re-theme, download

// `resuming`: the job remembered from a previous visit; if it is gone, forget it quietly.
function openJob(jobId, job, resuming = false) {
  page.watchToken += 1;
  page.cards.clear();
  $("grid").replaceChildren();
  remember(JOB_STORAGE, jobId);
  if (job) renderJob(job);
  watch(jobId, page.watchToken, resuming);
}

async function watch(jobId, token, resuming) {
  let failures = 0;
  while (token === page.watchToken) {
    try {
      const job = await apiJson(`/v1/jobs/${encodeURIComponent(jobId)}`);
      if (token !== page.watchToken) return;
      if (failures) clearMessage();  // the server answers again: the earlier error no longer holds
      failures = 0;
      renderJob(job);
      if (!ACTIVE_STATES.has(job.state)) {
        loadRecent().catch(() => {});
        return;
      }
    } catch (error) {
      if (resuming && error.status === 404) {
        remember(JOB_STORAGE, "");
        return;
      }
      showMessage(describe(error));
      failures += 1;
      // A wrong key or a missing job will not fix itself; a busy or restarting server might.
      if ([401, 403, 404].includes(error.status) || failures >= 20) return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS * (failures ? 3 : 1)));
  }
}

function renderJob(job) {
  const opened = !page.job || page.job.id !== job.id;
  page.job = job;
  if (opened) $("job-theme").value = (job.render && job.render.theme) || "";
  $("job-panel").hidden = false;
  $("job-id").textContent = job.id;
  const counts = job.counts || {};
  const total = (job.items || []).length;
  $("progress").value = typeof job.progress === "number" ? job.progress : 0;
  const parts = [`${counts.done || 0} of ${total} done`];
  const review = (job.items || []).filter((item) => item.needs_review).length;
  if (review) parts.push(`${review} need${review === 1 ? "s" : ""} review (listed first)`);
  if (counts.failed) parts.push(`${counts.failed} failed`);
  parts.push(STATE_LABELS[job.state] || job.state);
  $("progress-text").textContent = parts.join(" · ");
  $("job-panel").dataset.state = job.state;
  for (const item of job.items || []) renderItem(item);
  orderCards(job.items || []);
}

// Cuts that need review come first (in job order), then the rest. Cards are only moved when the order
// changes, and keyboard focus stays where it was.
function orderCards(items) {
  const flagged = (item) => (item.needs_review ? 0 : 1);
  const wanted = [...items]
    .sort((a, b) => flagged(a) - flagged(b) || a.position - b.position)
    .map((item) => page.cards.get(item.id))
    .filter(Boolean);
  const grid = $("grid");
  const current = [...grid.children];
  if (wanted.length === current.length && wanted.every((card, index) => card === current[index])) return;
  const focused = document.activeElement;
  grid.append(...wanted);
  if (focused && grid.contains(focused) && document.activeElement !== focused) focused.focus();
}

// The API's review verdict on a done item: a badge, and the reasons as sentences.
function renderReview(card, item) {
  const review = Boolean(item.needs_review);
  card.classList.toggle("needs-review", review);
  card.dataset.review = review ? "needed" : "";
  card.querySelector(".review-badge").hidden = !review;
  const reasons = (item.review_messages && item.review_messages.length ? item.review_messages : item.review_reasons)
    || [];
  const note = card.querySelector(".review-note");
  note.textContent = review ? `Check this cut before using it: ${reasons.join("; ") || "it may be wrong"}.` : "";
  note.hidden = !review;
}

function itemTitle(item) {
  return item.title || item.ref || `Item ${item.position + 1}`;
}

// The API served bytes the browser cannot decode (e.g. a text file uploaded as .jpg): say so in the frame.
function notAPicture(event) {
  const img = event.currentTarget;
  if (!img.src.startsWith("blob:")) return;
  URL.revokeObjectURL(img.src);
  img.removeAttribute("src");
  img.parentElement.dataset.note = "not an image";
}

function newCard(item, list = $("grid"), cards = page.cards) {
  const card = $("item-template").content.firstElementChild.cloneNode(true);
  card.dataset.itemId = item.id;
  card.querySelectorAll(".frame img").forEach((img) => img.addEventListener("error", notAPicture));
  const inputId = `prompt-${item.id}`;
  card.querySelector(".reprompt-label").htmlFor = inputId;
  const input = card.querySelector(".reprompt-input");
  input.id = inputId;
  input.value = item.prompt || "";
  card.querySelector(".reprompt").addEventListener("submit", (event) => {
    event.preventDefault();
    reprompt(card);
  });
  card.querySelector(".download-one").addEventListener("click", () => downloadOne(card));
  card.querySelector(".fix-open").addEventListener("click", (event) => openFix(card.item, event.currentTarget));
  cards.set(item.id, card);
  list.append(card);
  return card;
}

function setCardError(card, text) {
  const box = card.querySelector(".item-error");
  box.textContent = text || "";
  box.hidden = !text;
}

const IMAGE_RETRY_MS = 1000;
const IMAGE_RETRIES = 60;

// Show a picture of `card`'s item. 409 means "not stored yet" (an image URL is downloaded by the worker, not at
// job creation): try again shortly while the item is still in progress. Anything else is noted in the frame; the
// item's own error, if any, stays the message the seller reads.
function loadPicture(card, img, url, key, attempt = 0) {
  showImage(img, url, key).catch((error) => {
    if (img.dataset.pending !== key) return;  // a newer picture was asked for meanwhile
    const state = card.item ? card.item.state : "";
    const mayAppear = ACTIVE_STATES.has(state) || (state === "done" && attempt < 3);
    if (error.status === 409 && mayAppear && attempt < IMAGE_RETRIES) {
      img.parentElement.dataset.note = "waiting…";
      setTimeout(() => loadPicture(card, img, url, key, attempt + 1), IMAGE_RETRY_MS);
      return;
    }
    img.parentElement.dataset.note = [404, 409].includes(error.status) ? "not available" : "could not load";
    img.title = describe(error);
  });
}

function renderItem(item, card = page.cards.get(item.id) || newCard(item)) {
  card.item = item;
  const title = itemTitle(item);
  card.dataset.state = item.state;
  card.dataset.version = item.version;
  card.querySelector(".item-title").textContent = title;
  const badge = card.querySelector(".state");
  badge.textContent = STATE_LABELS[item.state] || item.state;
  badge.className = `state ${item.state}`;
  card.querySelector(".reprompt-label").textContent = `Prompt for ${title}`;
  card.querySelector(".reprompt-button").setAttribute("aria-label", `Re-cut ${title} with this prompt`);
  card.querySelector(".download-one").setAttribute("aria-label", `Download the result for ${title}`);
  card.querySelector(".download-one").disabled = !item.result_url;
  const fixButton = card.querySelector(".fix-open");
  fixButton.setAttribute("aria-label", `Fix the cut of ${title}`);
  fixButton.disabled = !(item.state === "done" && item.result_url);
  // A backend that cannot read text: no prompt box that would only re-cut the same way.
  const deaf = readsText(item) === false;
  card.querySelector(".reprompt").hidden = deaf || item.state === "failed";
  const noText = card.querySelector(".no-text-note");
  noText.hidden = !deaf;
  noText.textContent = deaf
    ? `Cut by the ${backendName(item)} backend, which cannot read text: use “Fix the cut…” to click on the ` +
      "parts to keep or remove."
    : "";
  if (!card.classList.contains("busy")) card.querySelector(".reprompt-button").disabled = item.state !== "done";
  setCardError(card, item.error ? `${sentence(item.error.message || "failed")} [${item.error.code}]` : "");
  renderReview(card, item);

  const before = card.querySelector(".before");
  before.alt = `Original photo: ${title}`;
  if (item.original_url && !before.dataset.pending) {
    loadPicture(card, before, item.original_url, item.original_url);
  }
  const after = card.querySelector(".after");
  if (!after.dataset.loaded || item.state === "failed") {
    after.parentElement.dataset.note = { queued: "waiting…", running: "working…", failed: "no result" }[item.state] || "";
  }
  after.alt = item.result_url ? `Result: ${title}` : "";
  const key = item.result_url ? `${item.result_url}#${page.renderGeneration}` : "";
  if (key && after.dataset.pending !== key) {
    after.dataset.version = item.version;
    loadPicture(card, after, item.result_url, key);
  }
  if (fix.item && fix.item.id === item.id && !fix.busy) renderFix(item);
}

// Put one updated item into the job view (the review count and the order may change) or into its card.
function replaceItem(updated) {
  const heldCard = held.cards.get(updated.id);
  if (heldCard) renderItem(updated, heldCard);  // a held cut fixed from the "Held for review" list
  if (page.job && page.job.items && page.job.items.some((entry) => entry.id === updated.id)) {
    renderJob({ ...page.job, items: page.job.items.map((entry) => (entry.id === updated.id ? updated : entry)) });
  } else if (!heldCard) {
    renderItem(updated);
  }
}

async function reprompt(card) {
  const item = card.item;
  const prompt = card.querySelector(".reprompt-input").value.trim();
  if (!prompt) {
    setCardError(card, "Type a prompt first, e.g. the product's name.");
    return;
  }
  if (readsText(item) === false) {
    setCardError(card, noTextMessage(item));
    return;
  }
  const button = card.querySelector(".reprompt-button");
  card.classList.add("busy");
  button.disabled = true;
  button.textContent = "Re-cutting…";
  try {
    const updated = await apiJson(`/v1/items/${encodeURIComponent(item.id)}/reprompt`, {
      method: "POST", json: { prompt },
    });
    clearMessage();
    replaceItem(updated);
  } catch (error) {
    setCardError(card, describe(error));
  } finally {
    card.classList.remove("busy");
    button.textContent = "Re-cut";
    button.disabled = card.item.state !== "done";
  }
}

async function switchTheme(theme) {
  if (!page.job || !needKey()) return;
  clearMessage();
  const buttons = [$("apply-theme"), $("original-theme")];
  buttons.forEach((b) => { b.disabled = true; });
  $("progress-text").textContent = "Re-rendering every item…";
  try {
    const job = await apiJson(`/v1/jobs/${encodeURIComponent(page.job.id)}/theme`, {
      method: "POST", json: { theme },
    });
    page.renderGeneration += 1;
    renderJob(job);
    $("job-theme").value = (job.render && job.render.theme) || "";
    showMessage(theme === "original" ? "Back to the job's original look." : `Theme "${theme}" applied.`, "info");
  } catch (error) {
    showMessage(describe(error));
    if (page.job) renderJob(page.job);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

// `<position>-<ref or id>`, as the API names the item in results.zip (service/api/uploads.py archive_name).
function archiveStem(item) {
  const stem = (item.ref || "").replace(/\.(jpe?g|png|webp|gif|bmp|tiff?|avif|heic)$/i, "")
    .replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._-]+|[._-]+$/g, "").slice(0, 80);
  return `${item.position}-${stem || item.id}`;
}

async function downloadOne(card) {
  const item = card.item;
  if (!item || !item.result_url) return;
  try {
    await download(item.result_url, archiveStem(item));
  } catch (error) {
    setCardError(card, describe(error));
  }
}

async function downloadZip() {
  if (!page.job) return;
  clearMessage();
  try {
    await download(`/v1/jobs/${encodeURIComponent(page.job.id)}/results.zip`, `promptcut-${page.job.id}`);
  } catch (error) {
    showMessage(describe(error));
  }
}

// ---------------------------------------------------------------- the fix view: clicks, undo, prompt

// Where a point on an <img> falls on the photo, and back. Pure functions (no DOM), exported for tests.
//   box: the <img> element's rectangle in CSS pixels {left, top, width, height} (getBoundingClientRect);
//   natural: [naturalWidth, naturalHeight] of the decoded image;
//   photo: [width, height] of the photo in the API's pixels (metadata.photo_size), or `natural` when unknown;
//   fit: the <img>'s CSS object-fit, with object-position at the centre (the default).
// CSS pixels on both sides, so the browser zoom and devicePixelRatio do not matter.
function pictureRect(box, natural, fit = "contain") {
  const [nw, nh] = natural;
  let sx = box.width / nw;
  let sy = box.height / nh;
  if (fit === "contain" || fit === "scale-down") sx = sy = Math.min(sx, sy);
  if (fit === "cover") sx = sy = Math.max(sx, sy);
  if (fit === "none" || (fit === "scale-down" && sx > 1)) sx = sy = 1;
  const width = nw * sx;
  const height = nh * sy;
  return { x: (box.width - width) / 2, y: (box.height - height) / 2, width, height };
}

// clientX/clientY → {x, y} in photo pixels; null outside the picture (e.g. on the letterbox bars).
function toPhotoPoint(clientX, clientY, box, natural, photo = natural, fit = "contain") {
  const shown = pictureRect(box, natural, fit);
  const u = (clientX - box.left - shown.x) / shown.width;
  const v = (clientY - box.top - shown.y) / shown.height;
  if (!(u >= 0 && u <= 1 && v >= 0 && v <= 1)) return null;
  return { x: u * photo[0], y: v * photo[1] };
}

// Photo pixels → {left, top} in CSS pixels from the box's top-left corner.
function toDisplayPoint(x, y, box, natural, photo = natural, fit = "contain") {
  const shown = pictureRect(box, natural, fit);
  return { left: shown.x + (x / photo[0]) * shown.width, top: shown.y + (y / photo[1]) * shown.height };
}

window.promptcut = { pictureRect, toPhotoPoint, toDisplayPoint };

// metadata.prompts_read: true, false, or undefined (older results: assume the prompt still works).
function readsText(item) {
  const value = item && item.metadata ? item.metadata.prompts_read : undefined;
  return typeof value === "boolean" ? value : undefined;
}

function backendName(item) {
  return (item && item.metadata && item.metadata.backend) || "automatic";
}

function noTextMessage(item) {
  return `This photo was cut by the ${backendName(item)} backend, which cannot read text. Retyping the prompt ` +
    "will not change the cut — click on the photo to keep or remove parts instead.";
}

const fix = {
  item: null,       // the item shown in the fix view (last JSON from the API)
  opener: null,     // the button that opened it: focus goes back there on close
  busy: false,      // a request is running: no second one
  cursor: null,     // keyboard cross, in photo pixels
  pending: null,    // the click being sent, in photo pixels, shown until the answer arrives
};

function corrections(item) {
  const value = item && item.metadata && item.metadata.corrections;
  return {
    points: (value && Array.isArray(value.points)) ? value.points : [],
    steps: (value && Array.isArray(value.steps)) ? value.steps : [],
    box: value ? value.box || null : null,
  };
}

// The photo's size in the API's pixels: metadata.photo_size, else what the browser decoded.
function photoSize(img) {
  const size = fix.item && fix.item.metadata && fix.item.metadata.photo_size;
  if (Array.isArray(size) && size.length === 2 && size[0] > 0 && size[1] > 0) return size;
  return [img.naturalWidth, img.naturalHeight];
}

// `box`: the photo's <img> in viewport pixels (for pointer events); `layout`: its untransformed size (for dots).
function fixGeometry() {
  const img = $("fix-original");
  if (!img.naturalWidth || !img.naturalHeight || !img.src.startsWith("blob:")) return null;
  const rect = img.getBoundingClientRect();
  const box = { left: rect.left, top: rect.top, width: rect.width, height: rect.height };
  const layout = { left: 0, top: 0, width: img.clientWidth, height: img.clientHeight };
  const fit = getComputedStyle(img).objectFit || "fill";
  return { img, box, layout, natural: [img.naturalWidth, img.naturalHeight], photo: photoSize(img), fit };
}

function placeDot(element, point, geometry) {
  const at = toDisplayPoint(point.x, point.y, geometry.layout, geometry.natural, geometry.photo, geometry.fit);
  element.style.left = `${geometry.img.offsetLeft + at.left}px`;
  element.style.top = `${geometry.img.offsetTop + at.top}px`;
}

// Green dots where the seller said "keep", red where "remove"; the click in flight is drawn hollow.
function drawMarkers() {
  const layer = $("fix-markers");
  layer.replaceChildren();
  const geometry = fixGeometry();
  const cursor = $("fix-cursor");
  if (!geometry) {
    cursor.hidden = true;
    return;
  }
  const points = corrections(fix.item).points.map((point) => ({ ...point, pending: false }));
  if (fix.pending) points.push({ ...fix.pending, pending: true });
  for (const point of points) {
    const dot = document.createElement("span");
    dot.className = `dot ${point.keep ? "keep" : "remove"}${point.pending ? " pending" : ""}`;
    dot.title = `${point.keep ? "Keep" : "Remove"} (${Math.round(point.x)}, ${Math.round(point.y)})`;
    placeDot(dot, point, geometry);
    layer.append(dot);
  }
  cursor.hidden = !fix.cursor;
  if (fix.cursor) placeDot(cursor, fix.cursor, geometry);
}

function setFixBusy(busy, text = "") {
  fix.busy = busy;
  const view = $("fix-view");
  view.classList.toggle("busy", busy);
  view.setAttribute("aria-busy", busy ? "true" : "false");
  $("fix-status").textContent = text;
  view.querySelectorAll("input, button:not(#fix-close)").forEach((control) => { control.disabled = busy; });
  if (!busy && fix.item) renderFixControls(fix.item);
}

function setFixError(text) {
  $("fix-error").textContent = text || "";
  $("fix-error").hidden = !text;
}

function renderFixControls(item) {
  const { steps } = corrections(item);
  const done = item.state === "done" && Boolean(item.result_url);
  $("fix-undo").disabled = fix.busy || !steps.length;
  $("fix-clear").disabled = fix.busy || !steps.length;
  $("fix-undo").setAttribute("aria-label", steps.length ? `Undo the last correction (${steps.length} so far)` : "Undo");
  const deaf = readsText(item) === false;
  $("fix-reprompt").disabled = fix.busy || deaf || !done;
  $("fix-prompt-note").hidden = !deaf;
  $("fix-prompt-note").textContent = deaf ? noTextMessage(item) : "";
  $("fix-photo").setAttribute("aria-disabled", fix.busy || !done ? "true" : "false");
}

function renderFix(item) {
  const previous = fix.item;
  fix.item = item;
  const view = $("fix-view");
  const title = itemTitle(item);
  view.dataset.itemId = item.id;
  view.dataset.version = item.version;
  $("fix-title").textContent = title;
  const { steps } = corrections(item);
  view.dataset.steps = steps.length;

  const reasons = (item.review_messages && item.review_messages.length ? item.review_messages : item.review_reasons)
    || [];
  $("fix-review").hidden = !item.needs_review;
  $("fix-review-list").replaceChildren(...(item.needs_review ? reasons : []).map((reason) => {
    const row = document.createElement("li");
    row.textContent = reason;
    return row;
  }));

  if (!previous || previous.id !== item.id) $("fix-prompt").value = item.prompt || "";
  const original = $("fix-original");
  original.alt = `Original photo: ${title}`;
  if (item.original_url && original.dataset.pending !== item.original_url) {
    showImage(original, item.original_url, item.original_url).catch((error) => setFixError(describe(error)));
  }
  const result = $("fix-result");
  result.alt = item.result_url ? `Current cut: ${title}` : "";
  if (item.result_url && result.dataset.pending !== item.result_url) {
    showImage(result, item.result_url, item.result_url).catch((error) => {
      if (result.dataset.pending === item.result_url) result.parentElement.dataset.note = "could not load";
      result.title = describe(error);
    });
  }
  $("fix-result-caption").textContent = steps.length
    ? `Current cut (version ${item.version}, ${steps.length} correction${steps.length === 1 ? "" : "s"})`
    : `Current cut (version ${item.version}, automatic)`;
  renderFixControls(item);
  drawMarkers();
}

function openFix(item, opener) {
  if (!item || !needKey()) return;
  fix.opener = opener || null;
  fix.cursor = null;
  fix.pending = null;
  const original = $("fix-original");
  if (!fix.item || fix.item.id !== item.id) {
    // another item: do not show the previous photo meanwhile
    for (const img of [original, $("fix-result")]) {
      delete img.dataset.pending;
      delete img.dataset.loaded;
      if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
      img.removeAttribute("src");
    }
    fix.item = null;
  }
  setFixError("");
  $("fix-status").textContent = "";
  renderFix(item);
  const view = $("fix-view");
  if (!view.open) view.showModal();
  $("fix-photo").focus();
}

function closeFix() {
  const view = $("fix-view");
  if (view.open) view.close();
}

// One request that changes the cut; the answer is the updated item, shown here and in the grid.
async function sendCorrection(body, doing) {
  const item = fix.item;
  if (!item || fix.busy) return;
  setFixError("");
  setFixBusy(true, doing);
  try {
    const updated = await apiJson(`/v1/items/${encodeURIComponent(item.id)}/corrections`, {
      method: "POST", json: body,
    });
    fix.pending = null;
    fix.busy = false;  // so that replaceItem → renderItem → renderFix shows the new version
    replaceItem(updated);
    const same = fix.item && fix.item.id === updated.id;  // the seller may have opened another item meanwhile
    if (same && fix.item.version !== updated.version) renderFix(updated);
    setFixBusy(false, same ? `Updated: version ${updated.version}.` : "");
  } catch (error) {
    fix.pending = null;
    setFixBusy(false);
    if (fix.item && fix.item.id === item.id) setFixError(describe(error));
    drawMarkers();
  }
}

function fixMode() {
  const checked = document.querySelector('input[name="fix-mode"]:checked');
  return checked ? checked.value : "keep";
}

function addPoint(point, keep) {
  if (!point || fix.busy || !fix.item || fix.item.state !== "done") return;
  const round = (value) => Math.round(value * 10) / 10;
  const sent = { x: round(point.x), y: round(point.y), keep };
  fix.pending = sent;
  drawMarkers();
  sendCorrection({ points: [sent], box: null }, keep ? "Keeping that part…" : "Removing that part…");
}

function photoClick(event, keep) {
  const geometry = fixGeometry();
  if (!geometry) return;
  const point = toPhotoPoint(event.clientX, event.clientY, geometry.box, geometry.natural, geometry.photo,
    geometry.fit);
  if (!point) return;  // on the empty bars beside the picture
  fix.cursor = null;
  addPoint(point, keep);
}

function photoKey(event) {
  const geometry = fixGeometry();
  if (!geometry) return;
  const [w, h] = geometry.photo;
  if (!fix.cursor) fix.cursor = { x: w / 2, y: h / 2 };
  const step = (event.shiftKey ? 0.1 : 0.02) * Math.max(w, h);
  const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
  if (moves[event.key]) {
    event.preventDefault();
    const [dx, dy] = moves[event.key];
    fix.cursor = { x: Math.min(w, Math.max(0, fix.cursor.x + dx)), y: Math.min(h, Math.max(0, fix.cursor.y + dy)) };
    drawMarkers();
  } else if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    addPoint(fix.cursor, fixMode() === "keep");
  }
}

function fixReprompt(event) {
  event.preventDefault();
  const item = fix.item;
  if (!item || fix.busy) return;
  if (readsText(item) === false) {
    setFixError(noTextMessage(item));  // never a silent re-cut that cannot change anything
    return;
  }
  const prompt = $("fix-prompt").value.trim();
  if (!prompt) {
    setFixError("Type a prompt first, e.g. the product's name.");
    return;
  }
  setFixError("");
  setFixBusy(true, "Re-cutting with the new prompt…");
  apiJson(`/v1/items/${encodeURIComponent(item.id)}/reprompt`, { method: "POST", json: { prompt } })
    .then((updated) => {
      fix.busy = false;
      replaceItem(updated);
      const same = fix.item && fix.item.id === updated.id;
      if (same) renderFix(updated);
      setFixBusy(false, same ? `Updated: version ${updated.version}.` : "");
    })
    .catch((error) => {
      setFixBusy(false);
      setFixError(describe(error));
    });
}

function startFixView() {
  const photo = $("fix-photo");
  photo.addEventListener("click", (event) => photoClick(event, fixMode() === "keep" && !event.shiftKey));
  photo.addEventListener("contextmenu", (event) => {
    event.preventDefault();
    photoClick(event, false);
  });
  photo.addEventListener("keydown", photoKey);
  photo.addEventListener("blur", () => { fix.cursor = null; drawMarkers(); });
  $("fix-original").addEventListener("load", drawMarkers);
  new ResizeObserver(drawMarkers).observe($("fix-original"));
  $("fix-undo").addEventListener("click", () => sendCorrection({ undo: true }, "Undoing the last correction…"));
  $("fix-clear").addEventListener("click", () => sendCorrection({ clear: true }, "Going back to the automatic cut…"));
  $("fix-prompt-form").addEventListener("submit", fixReprompt);
  // With the button disabled, Enter in the field would do nothing at all: say why instead.
  $("fix-prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && readsText(fix.item) === false) fixReprompt(event);
  });
  $("fix-close").addEventListener("click", closeFix);
  $("fix-view").addEventListener("close", () => {
    fix.cursor = null;
    if (fix.opener && fix.opener.isConnected) fix.opener.focus();
  });
}

// ---------------------------------------------------------------- held for review (store syncs)

// Cuts a store sync kept back: each is an ordinary job item (fixed with the same card and fix view), plus an
// approve (write it to the store as the sync would have) and a skip (the store keeps its photo).
const held = {
  cards: new Map(),  // job item id → card in #held-list
  entries: new Map(),  // job item id → {store, sync, entry}
};

async function loadHeld() {
  const { stores } = await apiJson("/v1/stores");
  $("held-panel").hidden = !stores.length;
  if (!stores.length) return;
  const found = [];
  for (const store of stores) {
    const { syncs } = await apiJson(`/v1/stores/${encodeURIComponent(store.id)}/syncs`);
    for (const sync of syncs.filter((s) => s.counts && s.counts.held > 0 && s.state !== "running")) {
      const path = `/v1/stores/${encodeURIComponent(store.id)}/syncs/${encodeURIComponent(sync.id)}`;
      const { items } = await apiJson(`${path}/items?state=held`);
      for (const entry of items) if (entry.item) found.push({ store, path, entry });
    }
  }
  found.sort((a, b) => Number(b.entry.doubtful) - Number(a.entry.doubtful));  // doubtful first, else sync order
  const wanted = new Set(found.map(({ entry }) => entry.item_id));
  for (const [id, card] of held.cards) {
    if (!wanted.has(id)) dropHeld(id, card);
  }
  found.forEach(renderHeld);
  $("held-list").append(...found.map(({ entry }) => held.cards.get(entry.item_id)));
  $("held-status").textContent = found.length
    ? `${found.length} cut${found.length === 1 ? "" : "s"} waiting for your review.`
    : "Nothing is waiting for review.";
}

function shopName(store) {
  return store.shop || store.id;
}

function renderHeld({ store, path, entry }) {
  const item = entry.item;
  held.entries.set(entry.item_id, { store, path, entry });
  let card = held.cards.get(entry.item_id);
  if (!card) {
    card = newCard(item, $("held-list"), held.cards);
    card.classList.add("held");
    card.querySelector(".held-box").hidden = false;
    card.querySelector(".approve").addEventListener("click", () => verdict(card, "approve"));
    card.querySelector(".skip").addEventListener("click", () => verdict(card, "skip"));
  }
  renderItem(item, card);
  const title = itemTitle(item);
  card.dataset.doubtful = entry.doubtful ? "yes" : "";
  const where = entry.main ? "main photo" : "photo";
  // A doubtful cut's reasons are already in its review note above: say so once instead of repeating them.
  const why = entry.doubtful ? "the automatic check doubts this cut (why: above). Fix it, approve it as it is, or skip it."
    : entry.reasons.join(" ") || entry.reason;
  card.querySelector(".held-why").textContent = `Held back from ${shopName(store)} (${where} of ${entry.handle}): ${why}`;
  card.querySelector(".approve").setAttribute("aria-label", `Approve and publish ${title}`);
  card.querySelector(".skip").setAttribute("aria-label", `Skip ${title}`);
}

function dropHeld(id, card) {
  held.cards.delete(id);
  held.entries.delete(id);
  card.remove();
}

async function verdict(card, action) {
  const id = card.dataset.itemId;
  const known = held.entries.get(id);
  if (!known || !needKey()) return;
  const buttons = [card.querySelector(".approve"), card.querySelector(".skip")];
  buttons.forEach((button) => { button.disabled = true; });
  card.classList.add("busy");
  setCardError(card, action === "approve" ? "Publishing to your store…" : "");
  try {
    await apiJson(`${known.path}/items/${encodeURIComponent(id)}/${action}`, { method: "POST" });
    const title = itemTitle(card.item);
    dropHeld(id, card);
    showMessage(action === "approve" ? `Published “${title}” to ${shopName(known.store)}.`
      : `Skipped “${title}”: ${shopName(known.store)} keeps its photo.`, "info");
    const left = held.cards.size;
    $("held-status").textContent = left ? `${left} cut${left === 1 ? "" : "s"} waiting for your review.`
      : "Nothing is waiting for review.";
  } catch (error) {
    setCardError(card, describe(error));
    if (error.status === 404 || error.status === 409) loadHeld().catch(() => {});
  } finally {
    card.classList.remove("busy");
    buttons.forEach((button) => { button.disabled = false; });
  }
}

// ---------------------------------------------------------------- recent jobs

async function loadRecent() {
  const body = await apiJson("/v1/jobs");
  const jobs = Array.isArray(body) ? body : body.jobs || body.items || [];
  const list = $("recent");
  list.replaceChildren();
  if (!jobs.length) {
    const empty = document.createElement("li");
    empty.className = "hint";
    empty.textContent = "No jobs yet.";
    list.append(empty);
  }
  for (const job of jobs.slice(0, 10)) {
    const row = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    const when = job.created_at ? new Date(job.created_at).toLocaleString() : "";
    const counts = job.counts || {};
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    const size = total ? `${total} item${total === 1 ? "" : "s"}` : "";
    button.textContent = [when, STATE_LABELS[job.state] || job.state, size, job.id].filter(Boolean).join(" · ");
    button.setAttribute("aria-label", `Open job ${job.id}`);
    button.addEventListener("click", () => { clearMessage(); openJob(job.id); });
    row.append(button);
    list.append(row);
  }
}

// ---------------------------------------------------------------- start

function start() {
  $("key-form").addEventListener("submit", saveKey);
  $("forget-key").addEventListener("click", forgetKey);
  $("files").addEventListener("change", addFiles);
  $("job-form").addEventListener("submit", createJob);
  $("theme-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const theme = $("job-theme").value.trim();
    if (!theme) {
      showMessage("Type a theme name, or use “Back to original”.");
      $("job-theme").focus();
      return;
    }
    switchTheme(theme);
  });
  $("original-theme").addEventListener("click", () => switchTheme("original"));
  $("download-zip").addEventListener("click", downloadZip);
  startFixView();
  $("refresh-held").addEventListener("click", () => {
    if (needKey()) loadHeld().catch((error) => showMessage(describe(error)));
  });
  $("refresh-recent").addEventListener("click", () => {
    if (needKey()) loadRecent().catch((error) => showMessage(describe(error)));
  });

  $("theme-names").replaceChildren(...BUILTIN_THEMES.map((name) => new Option(name, name)));
  const key = storedKey();
  if (!key) return;
  $("api-key").value = key;
  loadThemes();
  loadRecent().catch((error) => showMessage(describe(error)));
  loadHeld().catch((error) => showMessage(describe(error)));
  const lastJob = recall(JOB_STORAGE);
  if (lastJob) openJob(lastJob, null, true);
}

start();
