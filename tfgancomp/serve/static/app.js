// The page of `tfgancomp serve`: plain JavaScript, no build step.
// Drop files -> POST /api/jobs -> poll GET /api/jobs/{id} -> show results.
"use strict";

const $ = (id) => document.getElementById(id);
const KNOBS = ["quality", "realism"];
const NAMES = { tfgancomp: "tfgancomp", "jpeg-420": "JPEG 4:2:0",
                webp: "WebP" };
const state = { models: {}, job: null, items: [], item: null, timer: null,
                zoom: [0.5, 0.5] };

async function call(path, options) {
  const response = await fetch(path, options);
  let body = {};
  try { body = await response.json(); } catch (e) { /* not JSON */ }
  if (!response.ok) {
    const wait = response.headers.get("Retry-After");
    throw new Error((body.error || response.statusText) +
                    (wait ? ` (try again in ${wait} s)` : ""));
  }
  return body;
}

function showError(message) {
  $("error").textContent = message || "";
  $("error").hidden = !message;
}

async function loadModels() {
  const listing = await call("/api/models");
  const select = $("model");
  for (const model of listing.models) {
    state.models[model.name] = model;
    const option = new Option(model.name, model.name, model.default,
                              model.default);
    option.title = model.description;
    select.add(option);
  }
  showKnobs();
}

// The knob plumbing of the page: a field per knob the model has.
function showKnobs() {
  const model = state.models[$("model").value] || { knobs: {} };
  $("model-about").textContent = model.description || "";
  for (const name of KNOBS) {
    const knob = model.knobs[name];
    $(`${name}-field`).hidden = !knob;
    if (!knob) continue;
    const input = $(name);
    input.min = knob.min;
    input.max = knob.max;
    input.step = (knob.max - knob.min) / 100 || 0.01;
    input.value = knob.default;
    $(`${name}-value`).textContent = Number(input.value).toFixed(2);
  }
}

function formData(files) {
  const data = new FormData();
  for (const file of files) data.append("file", file, file.name);
  data.append("model", $("model").value);
  data.append("effort", $("effort").value);
  for (const name of KNOBS) {
    if (!$(`${name}-field`).hidden) data.append(name, $(name).value);
  }
  return data;
}

async function submit(files) {
  if (!files.length) return;
  showError("");
  stopPolling();
  $("progress").hidden = false;
  $("bar").value = 0;
  $("status").textContent = `uploading ${files.length} file(s)…`;
  try {
    state.job = await call("/api/jobs", { method: "POST",
                                          body: formData(files) });
    poll();
  } catch (error) {
    $("progress").hidden = true;
    showError(error.message);
  }
}

function stopPolling() {
  if (state.timer) clearTimeout(state.timer);
  state.timer = null;
}

async function poll() {
  try {
    const job = await call(`/api/jobs/${state.job.id}`);
    state.job = job;
    $("bar").value = job.progress;
    $("status").textContent = `${Math.round(job.progress * 100)}% ` +
                              `${job.message}`;
    if (job.status === "done") {
      $("progress").hidden = true;
      showResults(job);
    } else if (job.status === "failed" || job.status === "cancelled") {
      $("progress").hidden = true;
      showError(job.error || job.status);
    } else {
      state.timer = setTimeout(poll, 300);
    }
  } catch (error) {
    $("progress").hidden = true;
    showError(error.message);
  }
}

async function cancel() {
  stopPolling();
  if (!state.job) return;
  try {
    await call(`/api/jobs/${state.job.id}`, { method: "DELETE" });
  } catch (error) { /* gone already */ }
  $("progress").hidden = true;
  showError("cancelled");
}

function showResults(job) {
  state.items = job.items;
  const nav = $("items");
  nav.replaceChildren();
  job.items.forEach((item, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = item.name + (item.kind === "decoded" ? ".tfgc" : "");
    if (item.error) button.classList.add("failed");
    button.addEventListener("click", () => select(index));
    nav.append(button);
  });
  nav.hidden = job.items.length < 2;
  $("results").hidden = false;
  select(0);
}

function select(index) {
  const item = state.items[index];
  state.item = item;
  [...$("items").children].forEach((b, i) =>
    b.classList.toggle("active", i === index));
  $("item-note").hidden = !item.error && !(item.notes || []).length;
  $("item-note").textContent = item.error || (item.notes || []).join("; ");
  $("viewer").hidden = $("zoom").hidden = !!item.error;
  const shown = $("shown");
  shown.replaceChildren();
  for (const row of item.codecs || [{ codec: "tfgancomp" }]) {
    const role = row.codec === "tfgancomp" ? "decoded" : row.codec;
    if (item.files && item.files[role]) {
      shown.add(new Option(NAMES[row.codec] || row.codec, role));
    }
  }
  const original = item.files && item.files.original;
  $("left").src = original || (item.files && item.files.decoded) || "";
  $("left-tag").textContent = original ? "original" : "decoded";
  $("slider-row").hidden = !original;
  setDivide(original ? $("slider").value : 100);
  showShown();
  fillTable(item);
  fillDownloads(item);
}

function showShown() {
  const item = state.item;
  if (!item || !item.files) return;
  const role = $("shown").value || "decoded";
  $("right").src = item.files[role] || "";
  const label = $("shown").selectedOptions[0];
  $("right-tag").textContent = label ? label.textContent : "";
  $("zoom-label").textContent = `${$("right-tag").textContent} (4× crop)`;
  $("right").onload = $("left").onload = drawZoom;
}

function setDivide(percent) {
  $("right").style.clipPath = `inset(0 0 0 ${percent}%)`;
  $("handle").style.left = `${percent}%`;
  $("right-tag").hidden = percent >= 100;
}

const fmt = {
  bytes: (v) => v.toLocaleString("en-US"),
  bpp: (v) => v.toFixed(3),
  psnr: (v) => (v === null ? "∞" : v.toFixed(2)),
  ms_ssim: (v) => (v === null ? "n/a" : v.toFixed(4)),
};

function fillTable(item) {
  const body = $("metrics").tBodies[0];
  body.replaceChildren();
  const rows = item.codecs || (item.error ? [] : [{
    codec: "tfgancomp", label: item.model, setting: "decoded",
    bytes: item.bytes, bpp: item.bpp, psnr: undefined,
    ms_ssim: undefined }]);
  for (const row of rows) {
    const tr = body.insertRow();
    tr.dataset.codec = row.codec;
    if (row.codec === "tfgancomp") tr.className = "ours";
    const name = row.codec === "tfgancomp" ? `tfgancomp (${row.label})`
                                           : NAMES[row.codec] || row.codec;
    tr.insertCell().textContent = name;
    tr.insertCell().textContent = row.setting || "";
    for (const key of ["bytes", "bpp", "psnr", "ms_ssim"]) {
      const cell = tr.insertCell();
      cell.dataset.metric = key;
      const value = row[key];
      cell.textContent = value === undefined ? "–" : fmt[key](value);
    }
  }
}

function fillDownloads(item) {
  const box = $("downloads");
  box.replaceChildren();
  const links = [["tfgc", "download .tfgc"],
                 ["decoded", "download decoded PNG"]];
  for (const [role, text] of links) {
    if (!item.files || !item.files[role]) continue;
    const a = document.createElement("a");
    a.href = item.files[role];
    a.download = "";
    a.id = `download-${role}`;
    a.textContent = text;
    box.append(a);
  }
}

// The zoomed crop: the same 48×48 pixels of both images, 4× larger.
function drawZoom() {
  for (const [image, canvas] of [["left", "zoom-left"],
                                 ["right", "zoom-right"]]) {
    const img = $(image);
    const context = $(canvas).getContext("2d");
    context.imageSmoothingEnabled = false;
    context.clearRect(0, 0, 192, 192);
    if (!img.naturalWidth) continue;
    const size = Math.min(48, img.naturalWidth, img.naturalHeight);
    const x = Math.max(0, Math.min(img.naturalWidth - size,
                       Math.round(state.zoom[0] * img.naturalWidth - size / 2)));
    const y = Math.max(0, Math.min(img.naturalHeight - size,
                       Math.round(state.zoom[1] * img.naturalHeight - size / 2)));
    context.drawImage(img, x, y, size, size, 0, 0, 192, 192);
  }
}

function pointer(event, drag) {
  const box = $("compare").getBoundingClientRect();
  const fx = Math.max(0, Math.min(1, (event.clientX - box.left) / box.width));
  const fy = Math.max(0, Math.min(1, (event.clientY - box.top) / box.height));
  state.zoom = [fx, fy];
  if (drag && !$("slider-row").hidden) {
    $("slider").value = Math.round(fx * 100);
    setDivide($("slider").value);
  }
  drawZoom();
}

function wire() {
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    submit([...e.dataTransfer.files]);
  });
  $("files").addEventListener("change", (e) => {
    submit([...e.target.files]);
    e.target.value = "";
  });
  $("model").addEventListener("change", showKnobs);
  for (const name of KNOBS) {
    $(name).addEventListener("input", () => {
      $(`${name}-value`).textContent = Number($(name).value).toFixed(2);
    });
  }
  $("cancel").addEventListener("click", cancel);
  $("slider").addEventListener("input", () => setDivide($("slider").value));
  $("shown").addEventListener("change", showShown);
  const compare = $("compare");
  let dragging = false;
  compare.addEventListener("pointerdown", (e) => {
    dragging = true;
    compare.setPointerCapture(e.pointerId);
    pointer(e, true);
  });
  compare.addEventListener("pointermove", (e) => pointer(e, dragging));
  compare.addEventListener("pointerup", () => { dragging = false; });
}

async function start() {
  wire();
  try {
    await loadModels();
    const health = await call("/healthz");
    $("limits").textContent =
      `Served: ${health.models.join(", ")}. Files stay on this server ` +
      "only until their results expire.";
  } catch (error) {
    showError(`cannot reach the server: ${error.message}`);
  }
  document.body.dataset.ready = "1";
}

start();
