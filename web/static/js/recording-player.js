// Trubka: the call recording player.
//
// Every element with data-recording-call-id="<call id>" gets a player: an <audio> element
// (the browser seeks with HTTP Range requests, answered 206 by /api/calls/<id>/recording),
// the waveform drawn on a canvas from the stored peaks (click or drag to seek), keyboard
// controls, a speed choice and a download link. Slots added later by a page's own script
// (an agent panel's timeline, a contact card) are found by a MutationObserver.
//
// Strings come from <script type="application/json" id="recording-player-i18n"> (rendered
// by web/templates/recordings/player.html), else from /api/recordings/player-strings; the
// stylesheet (/static/recordings.css) is added when the page did not link it. So a page
// needs nothing but <script type="module" src="/static/js/recording-player.js">.
// Data from the server goes into the page only through textContent and attributes.

import { playbackTime } from "./lib/format.js";

const SLOT = "[data-recording-call-id]";
const MOUNTED = "recordingPlayerMounted";
const SPEEDS = [1, 1.25, 1.5, 2];
const STEP = 5;
const BIG_STEP = 30;
const RETRY_MS = 10000;
const RETRIES = 30;

let stringsPromise = null;

function strings() {
  if (stringsPromise === null) {
    const block = document.getElementById("recording-player-i18n");
    if (block) {
      try {
        stringsPromise = Promise.resolve(JSON.parse(block.textContent || "{}"));
      } catch (err) {
        stringsPromise = Promise.resolve({});
      }
    } else {
      stringsPromise = fetch("/api/recordings/player-strings", { credentials: "same-origin" })
        .then((reply) => (reply.ok ? reply.json() : {}))
        .catch(() => ({}));
    }
  }
  return stringsPromise;
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

class Player {
  constructor(slot, data, t) {
    this.slot = slot;
    this.data = data;
    this.t = t;
    this.peaks = Array.isArray(data.peaks) ? data.peaks.filter(Array.isArray) : [];
    // Scale the loudest peak to the full height (channels keep their relative levels).
    const loudest = Math.max(0, ...this.peaks.map((ch) => Math.max(0, ...ch.map(Number).filter(Number.isFinite))));
    this.scale = loudest > 0 ? Math.min(1 / loudest, 8) : 1;
    this.pendingSeek = null;
    this.frame = 0;
    this.build();
  }

  get duration() {
    const d = this.audio.duration;
    if (Number.isFinite(d) && d > 0) return d;
    return Number(this.data.duration_seconds) || 0;
  }

  build() {
    const t = this.t;
    const root = el("div", { class: "rec-player", role: "group", "aria-label": t.recording });
    const controls = el("div", { class: "rec-controls" });
    this.button = el("button", { type: "button", class: "rec-play", "aria-label": t.play });
    this.button.appendChild(el("span", { class: "rec-icon", "aria-hidden": "true" }));
    this.time = el("span", { class: "rec-time", "aria-live": "off" });
    this.speed = el("select", { class: "rec-speed", "aria-label": t.speed });
    for (const rate of SPEEDS) this.speed.appendChild(el("option", { value: rate }, `${rate}×`));
    controls.append(this.button, this.time, this.speed);
    if (this.data.download_url) {
      const link = el("a", { class: "rec-download", href: this.data.download_url, download: "" });
      link.textContent = t.download || "";
      controls.appendChild(link);
    }
    this.canvas = el("canvas", {
      class: "rec-wave",
      tabindex: 0,
      role: "slider",
      "aria-label": t.position,
      "aria-valuemin": 0,
      "aria-valuemax": Math.round(Number(this.data.duration_seconds) || 0),
      "aria-valuenow": 0,
      title: t.keys,
    });
    const wave = el("div", { class: "rec-wave-box" });
    wave.appendChild(this.canvas);
    if (this.peaks.length === 2) {
      // MixMonitor's stereo: the customer on the left channel (drawn above), the agent below.
      wave.append(
        el("span", { class: "rec-ch rec-ch0", "aria-hidden": "true" }, t.customer),
        el("span", { class: "rec-ch rec-ch1", "aria-hidden": "true" }, t.agent),
      );
    }
    this.audio = el("audio", { preload: "metadata", src: this.data.url });
    this.message = el("p", { class: "rec-message", role: "status" });
    root.append(controls, wave, this.audio, this.message);
    this.slot.replaceChildren(root);
    this.root = root;
    this.wire();
    this.update();
    this.observeSize();
  }

  wire() {
    const audio = this.audio;
    this.button.addEventListener("click", () => this.toggle());
    this.speed.addEventListener("change", () => {
      audio.playbackRate = Number(this.speed.value) || 1;
    });
    for (const name of ["timeupdate", "durationchange", "loadedmetadata", "seeked", "ended"]) {
      audio.addEventListener(name, () => this.update());
    }
    audio.addEventListener("loadedmetadata", () => {
      if (this.pendingSeek !== null) {
        audio.currentTime = this.pendingSeek;
        this.pendingSeek = null;
      }
    });
    audio.addEventListener("play", () => {
      this.update();
      this.animate();
    });
    audio.addEventListener("pause", () => this.update());
    audio.addEventListener("error", () => {
      this.message.textContent = this.t.play_error || "";
    });
    this.canvas.addEventListener("pointerdown", (event) => {
      this.canvas.focus();
      this.seekToPointer(event);
      this.canvas.setPointerCapture?.(event.pointerId);
    });
    this.canvas.addEventListener("pointermove", (event) => {
      if (event.buttons & 1) this.seekToPointer(event);
    });
    this.canvas.addEventListener("keydown", (event) => this.key(event));
  }

  observeSize() {
    if (typeof ResizeObserver === "function") {
      this.resizer = new ResizeObserver(() => this.draw());
      this.resizer.observe(this.canvas);
    } else {
      window.addEventListener("resize", () => this.draw());
    }
  }

  toggle() {
    if (this.audio.paused) {
      const started = this.audio.play();
      if (started && typeof started.catch === "function") {
        started.catch((err) => {
          if (err && err.name !== "AbortError") this.message.textContent = this.t.play_error || "";
        });
      }
    } else {
      this.audio.pause();
    }
  }

  seek(seconds) {
    const duration = this.duration;
    const target = Math.max(0, duration ? Math.min(seconds, duration) : seconds);
    if (this.audio.readyState < 1) {
      // No metadata yet: remember the position and load.
      this.pendingSeek = target;
      this.audio.preload = "auto";
      this.audio.load();
    } else {
      this.audio.currentTime = target;
    }
    this.update(target);
  }

  seekToPointer(event) {
    const box = this.canvas.getBoundingClientRect();
    if (!box.width) return;
    const share = Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1);
    this.seek(share * this.duration);
  }

  key(event) {
    const now = this.audio.currentTime || 0;
    const moves = {
      ArrowLeft: now - STEP,
      ArrowDown: now - STEP,
      ArrowRight: now + STEP,
      ArrowUp: now + STEP,
      PageDown: now - BIG_STEP,
      PageUp: now + BIG_STEP,
      Home: 0,
      End: this.duration,
    };
    if (event.key in moves) {
      event.preventDefault();
      this.seek(moves[event.key]);
    } else if (event.key === " " || event.key === "Enter" || event.key === "k") {
      event.preventDefault();
      this.toggle();
    }
  }

  animate() {
    cancelAnimationFrame(this.frame);
    const tick = () => {
      this.update();
      if (!this.audio.paused && this.slot.isConnected) this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  }

  update(at) {
    const current = at ?? this.audio.currentTime ?? 0;
    const duration = this.duration;
    const playing = !this.audio.paused;
    this.root.classList.toggle("playing", playing);
    this.button.setAttribute("aria-label", playing ? this.t.pause : this.t.play);
    this.button.setAttribute("aria-pressed", playing ? "true" : "false");
    this.time.textContent = `${playbackTime(current)} / ${playbackTime(duration)}`;
    this.canvas.setAttribute("aria-valuemax", String(Math.round(duration)));
    this.canvas.setAttribute("aria-valuenow", String(Math.round(current)));
    this.canvas.setAttribute("aria-valuetext", `${playbackTime(current)} ${this.t.of || "/"} ${playbackTime(duration)}`);
    this.draw(current);
  }

  draw(at) {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    const style = getComputedStyle(this.root);
    const played = style.getPropertyValue("--rec-played").trim() || "#1f6feb";
    const rest = style.getPropertyValue("--rec-rest").trim() || "#aab4c3";
    const cursor = style.getPropertyValue("--rec-cursor").trim() || "#17202e";
    ctx.clearRect(0, 0, width, height);
    const duration = this.duration;
    const current = at ?? this.audio.currentTime ?? 0;
    const split = duration ? (current / duration) * width : 0;
    const bars = Math.max(1, Math.floor(width / (3 * ratio)));
    const barWidth = Math.max(1, width / bars - ratio);
    const mid = height / 2;
    const channels = this.peaks.length ? this.peaks : [[]];
    for (let bar = 0; bar < bars; bar += 1) {
      const x = (bar * width) / bars;
      ctx.fillStyle = x + barWidth / 2 <= split ? played : rest;
      channels.forEach((peaks, channel) => {
        const value = Math.min(peakAt(peaks, bar, bars) * this.scale, 1);
        const size = Math.max(ratio, value * (mid - ratio));
        if (channels.length === 2) {
          // customer above the line, agent below
          ctx.fillRect(x, channel === 0 ? mid - size : mid, barWidth, size);
        } else {
          ctx.fillRect(x, mid - size, barWidth, size * 2);
        }
      });
    }
    ctx.fillStyle = cursor;
    ctx.fillRect(Math.min(Math.max(split - ratio / 2, 0), width - ratio), 0, ratio, height);
  }
}

function peakAt(peaks, bar, bars) {
  if (!peaks.length) return 0;
  const from = Math.floor((bar * peaks.length) / bars);
  const to = Math.max(from + 1, Math.floor(((bar + 1) * peaks.length) / bars));
  let top = 0;
  for (let i = from; i < to && i < peaks.length; i += 1) top = Math.max(top, Number(peaks[i]) || 0);
  return Math.min(top, 1);
}

function showMessage(slot, text, extra) {
  const box = el("div", { class: "rec-player rec-unavailable" });
  box.appendChild(el("p", { class: "rec-message", role: "status" }, text || ""));
  if (extra) box.appendChild(el("p", { class: "rec-reason muted" }, extra));
  slot.replaceChildren(box);
}

async function load(slot, attempt = 0) {
  const t = await strings();
  const id = slot.dataset.recordingCallId;
  if (!/^\d+$/.test(id || "")) return;
  if (attempt === 0) showMessage(slot, t.loading);
  let reply;
  try {
    reply = await fetch(`/api/calls/${id}/recording/player`, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
  } catch (err) {
    showMessage(slot, t.error);
    return;
  }
  if (!reply.ok) {
    const key = { 401: "signed_out", 403: "forbidden", 404: "not_found" }[reply.status] || "error";
    showMessage(slot, t[key]);
    return;
  }
  const data = await reply.json();
  slot.dispatchEvent(new CustomEvent("recording:data", { detail: data, bubbles: true }));
  if (data.status === "done" && data.url) {
    slot.recordingPlayer = new Player(slot, data, t);
    slot.dispatchEvent(new CustomEvent("recording:ready", { bubbles: true }));
    return;
  }
  const why = data.status === "failed" || data.status === "missing" ? data.error : null;
  showMessage(slot, t[data.status] || t.none, why);
  if ((data.status === "pending" || data.status === "processing") && attempt < RETRIES) {
    setTimeout(() => {
      if (slot.isConnected) load(slot, attempt + 1);
    }, RETRY_MS);
  }
}

export function mount(slot) {
  if (!(slot instanceof HTMLElement) || slot.dataset[MOUNTED]) return;
  slot.dataset[MOUNTED] = "1";
  load(slot);
}

export function mountAll(root = document) {
  if (root instanceof HTMLElement && root.matches(SLOT)) mount(root);
  root.querySelectorAll?.(SLOT).forEach(mount);
}

function ensureStyles() {
  // A page that only imports this script still gets the player's styles.
  if (!document.querySelector('link[href="/static/recordings.css"]')) {
    document.head.appendChild(el("link", { rel: "stylesheet", href: "/static/recordings.css" }));
  }
}

function watch() {
  ensureStyles();
  mountAll(document);
  const observer = new MutationObserver((changes) => {
    for (const change of changes) {
      for (const node of change.addedNodes) {
        if (node instanceof HTMLElement) mountAll(node);
      }
      if (change.type === "attributes" && change.target instanceof HTMLElement) {
        delete change.target.dataset[MOUNTED];
        mount(change.target);
      }
    }
  });
  observer.observe(document.body, {
    childList: true,
    subtree: true,
    attributes: true,
    attributeFilter: ["data-recording-call-id"],
  });
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", watch, { once: true });
} else {
  watch();
}

window.TrubkaRecordings = { mount, mountAll };
