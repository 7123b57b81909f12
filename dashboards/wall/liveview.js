// The live camera tile of the duty-desk wall (docs/video.md "Live view").
//
// Selecting a zone opens its camera live over WebRTC: the page offers to receive video,
// posts the offer to the server (POST /api/live/{camera}/offer, the session cookie
// authenticates it) and plays the answer's stream.  The server relays the camera and
// enforces the limits; when no picture can be had the tile says why instead of showing a
// black rectangle (the server's reason code is translated: "the camera refused the
// credentials" reads in Chinese on a Chinese wall).  The camera's diagnosis (from the live
// feed's device updates) stays on the tile, so a frozen picture is never mistaken for a
// quiet room; its detail is the edge's diagnosis_info (code + parameters) as the server
// words it (diagnosis_text, protocol/reasons.py), in the wall's language.

import { h, clear } from "../shared/dom.js";
import { lang, onLangChange, pick, t } from "../shared/i18n.js";

const TEXT = {
  title: { zh: "实时画面", en: "Live view" },
  close: { zh: "关闭实时画面", en: "Close live view" },
  retry: { zh: "重试", en: "Retry" },
  connecting: { zh: "正在连接摄像机…", en: "Connecting to the camera…" },
  playing: { zh: "实时", en: "Live" },
  ended: { zh: "画面已中断", en: "The stream stopped" },
  no_camera: { zh: "该房间没有摄像机", en: "This room has no camera" },
  unauthorized: { zh: "请先登录", en: "Please sign in" },
  forbidden: { zh: "当前账号无权查看实时画面", en: "Your role may not watch live video" },
  limit: { zh: "实时画面路数已达上限", en: "Live stream limit reached" },
  no_picture: { zh: "无法获取画面", en: "No picture" },
  unsupported: { zh: "浏览器不支持 WebRTC", en: "This browser has no WebRTC" },
  failed: { zh: "实时画面失败", en: "Live view failed" },
  diagnosis: { zh: "画面诊断", en: "Picture" },
  "reason.credentials_refused": { zh: "摄像机拒绝了登录凭据, 请检查服务器的摄像机凭据文件",
    en: "The camera refused the credentials; check the server's camera credentials file" },
  "reason.credentials_needed": { zh: "摄像机需要登录, 服务器没有它的凭据: 请在摄像机凭据文件中添加",
    en: "The camera asks for a login the server does not have: add it to the camera credentials file" },
  "reason.not_found": { zh: "摄像机在该地址没有视频流", en: "The camera has no stream at that address" },
  "reason.unreachable": { zh: "摄像机无法连接", en: "The camera cannot be reached" },
  "reason.camera_offline": { zh: "摄像机离线", en: "The camera is offline" },
  "status.offline": { zh: "摄像机离线", en: "Camera offline" },
  "status.stale": { zh: "摄像机无心跳", en: "Camera silent" },
  "status.unknown": { zh: "摄像机状态未知", en: "Camera state unknown" },
};

function tr(key, fallback) {
  const entry = TEXT[key];
  return entry ? entry[lang()] : fallback ?? key;
}

/** The diagnosis detail in the wall's language: the server words the edge's diagnosis info
 * (diagnosis_text, protocol/reasons.py); else the English diagnosis_detail (an older edge). */
export function diagnosisDetail(device) {
  return pick(device?.diagnosis_text, device?.metrics?.diagnosis_detail ?? "");
}

/** Resolves once the peer connection has gathered its ICE candidates (one round trip). */
function gathered(pc, timeoutMs = 3000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, timeoutMs); // host candidates suffice on the LAN
  });
}

export class LiveTile {
  constructor(container) {
    if (!document.querySelector('link[href="/static/wall/liveview.css"]')) {
      document.head.append(h("link", { rel: "stylesheet", href: "/static/wall/liveview.css" }));
    }
    this.zone = null;
    this.camera = null;
    this.device = null;
    this.pc = null;
    this.session = null;
    this.generation = 0; // a newer selection makes an older negotiation moot
    this.status = "idle";
    this.message = "";

    this.video = h("video", { class: "live-video", autoplay: true, muted: true, playsinline: true });
    this.video.muted = true;
    this.titleEl = h("span", { class: "live-title" });
    this.diagEl = h("span", { class: "live-diag" });
    this.stateEl = h("div", { class: "live-state", role: "status", "aria-live": "polite" });
    this.retryEl = h("button", { type: "button", class: "btn btn-ghost live-retry", hidden: true,
      onclick: () => this.start() });
    this.closeEl = h("button", { type: "button", class: "btn btn-ghost live-close",
      onclick: () => this.select(null) }, "✕");
    this.el = h("section", { id: "live-tile", class: "live-tile", hidden: true },
      h("div", { class: "live-head" }, this.titleEl, this.diagEl, this.closeEl),
      h("div", { class: "live-screen" }, this.video, this.stateEl),
      h("div", { class: "live-foot" }, this.retryEl));
    container.append(this.el);
    onLangChange(() => this.paint());
    window.addEventListener("pagehide", () => this.stop());
  }

  /** A zone was selected (or null): its camera goes live, the previous one stops. */
  select(zoneId, devices = new Map()) {
    if (zoneId === this.zone) return;
    this.stop();
    this.zone = zoneId;
    this.camera = zoneId ? `camera-${zoneId}` : null;
    this.device = this.camera ? devices.get(this.camera) ?? null : null;
    this.el.hidden = !zoneId;
    if (!zoneId) return;
    if (this.camera && !devices.has(this.camera) && devices.size) {
      this.setState("error", tr("no_camera"));
      return;
    }
    this.start();
  }

  /** Device updates from the live feed: keep the diagnosis current. */
  update(devices) {
    if (!this.camera) return;
    const device = devices.get(this.camera) ?? null;
    if (device !== this.device) {
      this.device = device;
      this.paint();
    }
  }

  async start() {
    const generation = ++this.generation;
    this.closePeer();
    if (typeof RTCPeerConnection === "undefined") {
      this.setState("error", tr("unsupported"));
      return;
    }
    this.setState("connecting", tr("connecting"));
    const pc = new RTCPeerConnection();
    this.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addEventListener("track", (event) => {
      this.video.srcObject = event.streams[0] ?? new MediaStream([event.track]);
      this.video.play().catch(() => {}); // autoplay of muted video is allowed
    });
    pc.addEventListener("connectionstatechange", () => {
      if (this.pc !== pc) return;
      if (pc.connectionState === "connected") this.setState("playing", "");
      else if (["failed", "closed"].includes(pc.connectionState)) this.setState("error", tr("ended"));
    });
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const response = await fetch(`/api/live/${encodeURIComponent(this.camera)}/offer`, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ sdp: pc.localDescription.sdp, type: "offer" }),
      });
      const body = await response.json().catch(() => ({}));
      if (generation !== this.generation) return;
      if (!response.ok) {
        this.closePeer();
        this.setState("error", this.refusal(response.status, body?.detail, body?.reason));
        return;
      }
      this.session = body.session;
      if (body.camera) this.device = { ...(this.device || {}), status: body.camera.status,
        diagnosis_text: body.camera.diagnosis_text,
        metrics: { ...(this.device?.metrics || {}), diagnosis: body.camera.diagnosis,
          diagnosis_detail: body.camera.diagnosis_detail,
          diagnosis_info: body.camera.diagnosis_info } };
      await pc.setRemoteDescription({ sdp: body.sdp, type: body.type });
    } catch (err) {
      if (generation !== this.generation) return;
      this.closePeer();
      this.setState("error", `${tr("failed")}: ${err?.message ?? err}`);
    }
  }

  refusal(status, detail, reason) {
    const why = typeof detail === "string" ? detail : "";
    // A reason the wall knows reads in its language; the server's text stays as a hint.
    if (reason && TEXT[`reason.${reason}`]) return `${tr("no_picture")}: ${tr(`reason.${reason}`)}`;
    if (status === 401) return tr("unauthorized");
    if (status === 403) return tr("forbidden");
    if (status === 404) return tr("no_camera");
    if (status === 429) return `${tr("limit")}: ${why}`;
    if (status === 503) return `${tr("no_picture")}: ${why}`;
    return `${tr("failed")} (HTTP ${status})${why ? `: ${why}` : ""}`;
  }

  closePeer() {
    const session = this.session;
    this.session = null;
    if (session) {
      fetch(`/api/live/sessions/${encodeURIComponent(session)}`,
        { method: "DELETE", credentials: "same-origin", keepalive: true }).catch(() => {});
    }
    if (this.pc) {
      this.pc.close();
      this.pc = null;
    }
    this.video.srcObject = null;
  }

  stop() {
    this.generation += 1;
    this.closePeer();
    this.status = "idle";
  }

  setState(status, message) {
    this.status = status;
    this.message = message;
    this.paint();
  }

  paint() {
    this.el.dataset.status = this.status;
    this.titleEl.textContent = this.camera ? `${tr("title")} · ${this.camera}` : tr("title");
    this.closeEl.setAttribute("aria-label", tr("close"));
    this.closeEl.title = tr("close");
    this.retryEl.textContent = tr("retry");
    this.retryEl.hidden = this.status !== "error";
    this.stateEl.textContent = this.message;
    this.stateEl.hidden = this.status === "playing";
    clear(this.diagEl);
    const device = this.device;
    if (!device) return;
    const status = device.status;
    const diagnosis = device.metrics?.diagnosis;
    const bad = status && status !== "online" ? tr(`status.${status}`, status)
      : diagnosis && diagnosis !== "ok" ? t(`diagnosis.${diagnosis}`, diagnosis) : null;
    this.diagEl.className = `live-diag ${bad ? "live-diag-bad" : "live-diag-ok"}`;
    this.diagEl.append(`${tr("diagnosis")}: ${bad ?? t("diagnosis.ok")}`);
    const detail = diagnosisDetail(device);
    this.diagEl.title = bad && detail ? detail : "";
  }
}
