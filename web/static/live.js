// One websocket to /ws per page (the rfq.v1.json subprotocol), kept alive across drops.
//
// - Subscriptions are remembered and renewed after every reconnect; an auction
//   subscription resumes with the last seq it saw, so the server replays what was
//   missed or sends a fresh snapshot. Events at or below the latest snapshot's seq are
//   dropped; a gap or a new epoch triggers a resubscribe.
// - Bids and proxy floors are requests answered by key. The page never gives up on one
//   while its outcome is unknown: a request answered "unavailable" (the server could not
//   make it durable), unanswered for ANSWER_MS, or whose answer was lost with the
//   connection, is sent again with the same key (after a back-off) until the server
//   answers for sure; it answers a repeated key with the first outcome and never bids
//   twice, so the page shows the true outcome.
// - Pings every 15 s keep the connection open (the server closes idle ones at 60 s)
//   and measure the offset of the server's clock: offset = server_time - (t + now) / 2.
import { clockTime, duration, money, t } from "./i18n.js";
import { $, showNotification } from "./session.js";

const PING_MS = 15_000;
const ANSWER_MS = 10_000;
const RETRY_MS = [500, 1_000, 2_000, 4_000, 5_000];

export class Live {
  constructor({ onStatus = () => {} } = {}) {
    this.onStatus = onStatus;
    this.offset = 0;
    this.subs = new Map(); // name -> {frame, handler, seq, epoch}
    this.pending = new Map(); // key -> {frame, resolve, reject, timer}
    this.socket = null;
    this.attempt = 0;
    this.status = "connecting";
    this.hello = null;
  }

  serverNow() {
    return Date.now() + this.offset;
  }

  connect() {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    const socket = new WebSocket(url, ["rfq.v1.json"]);
    this.socket = socket;
    socket.addEventListener("message", (event) => this._receive(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      clearInterval(this.pinger);
      this._setStatus("reconnecting");
      const wait = Math.min(5_000, 250 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
      this.attempt += 1;
      setTimeout(() => this.connect(), wait);
    });
    return this;
  }

  // name: "auction:5", "festival:2", "notifications"; frame: the subscribe frame.
  subscribe(name, frame, handler) {
    this.subs.set(name, { frame, handler, seq: null, epoch: null });
    this._send(frame);
  }

  // A bid or proxy frame (with key); resolves with the ack, rejects with the rejection
  // (never with "unavailable": that is retried with the same key). `onRetry(tries)` is
  // called each time the outcome is still unknown and the request goes out again.
  request(frame, onRetry = () => {}) {
    return new Promise((resolve, reject) => {
      const request = { frame, resolve, reject, onRetry, timer: null, tries: 0 };
      this.pending.set(frame.key, request);
      this._awaitAnswer(request);
      this._send(frame);
    });
  }

  _awaitAnswer(request) {
    clearTimeout(request.timer);
    request.timer = setTimeout(() => this._retry(request), ANSWER_MS);
  }

  _retry(request) {
    request.tries += 1;
    request.onRetry(request.tries);
    const wait = RETRY_MS[Math.min(request.tries, RETRY_MS.length) - 1];
    clearTimeout(request.timer);
    request.timer = setTimeout(() => {
      this._awaitAnswer(request);
      this._send(request.frame);
    }, wait);
  }

  ping() {
    this._send({ op: "ping", t: Date.now() });
  }

  _send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN && this.status === "live") {
      this.socket.send(JSON.stringify(frame));
    }
  }

  _setStatus(status) {
    this.status = status;
    this.onStatus(status);
  }

  _receive(frame) {
    switch (frame.type) {
      case "hello":
        this.hello = frame;
        this.offset = frame.server_time - Date.now();
        this.attempt = 0;
        this._setStatus("live");
        this.ping();
        clearInterval(this.pinger);
        this.pinger = setInterval(() => this.ping(), PING_MS);
        for (const sub of this.subs.values()) {
          const again = { ...sub.frame };
          if (again.auction !== undefined && sub.seq !== null) again.since = sub.seq;
          this._send(again);
        }
        for (const request of this.pending.values()) this._send(request.frame);
        return;
      case "pong": {
        const now = Date.now();
        this.offset = frame.server_time - (frame.t + now) / 2;
        return;
      }
      case "ack":
      case "rejected": {
        const request = this.pending.get(frame.key);
        if (!request) return;
        if (frame.type === "rejected" && frame.code === "unavailable") {
          this._retry(request); // the outcome is not known yet: ask again, same key
          return;
        }
        this.pending.delete(frame.key);
        clearTimeout(request.timer);
        (frame.type === "ack" ? request.resolve : request.reject)(frame);
        return;
      }
      case "notifications":
        for (const n of frame.items.slice().reverse()) showNotification(n);
        this._deliver("notifications", frame);
        return;
      case "notification":
        showNotification(frame);
        this._deliver("notifications", frame);
        return;
      case "festival":
      case "lot":
        this._deliver(`festival:${frame.festival}`, frame);
        return;
      default:
        if (frame.auction !== undefined) this._auctionEvent(frame);
        else if (frame.type === "error") this._deliver("error", frame);
    }
  }

  _auctionEvent(frame) {
    const name = `auction:${frame.auction}`;
    const sub = this.subs.get(name);
    if (!sub) return;
    if (frame.type === "snapshot") {
      sub.seq = frame.seq;
      sub.epoch = frame.epoch;
      sub.resyncing = false;
      sub.handler(frame);
      return;
    }
    if (frame.type === "error" || frame.seq === undefined) {
      sub.handler(frame);
      return;
    }
    if (sub.seq === null || frame.seq <= sub.seq) return;
    if (frame.seq > sub.seq + 1 || (frame.epoch !== undefined && frame.epoch !== sub.epoch)) {
      if (!sub.resyncing) this._send({ ...sub.frame, since: sub.seq });
      sub.resyncing = true;
      return;
    }
    sub.resyncing = false;
    sub.seq = frame.seq;
    sub.handler(frame);
  }

  _deliver(name, frame) {
    const sub = this.subs.get(name);
    if (sub) sub.handler(frame);
  }
}

// The countdown of an auction page (#countdown-label, #countdown) on the server's clock:
// to the start while scheduled, to the end while live, else the state.
export function showCountdown(live, state) {
  if (!state) return;
  const scheduled = state.state === "scheduled";
  const target = scheduled ? Date.parse(state.starts_at) : state.ends_at_ms;
  $("#countdown-label").textContent = t(scheduled ? "room.starts_in" : "room.time_left");
  $("#countdown").textContent =
    state.state === "live" || scheduled ? duration(target - live.serverNow()) : t(`state.${state.state}`);
}

// The price clock of a japanese or dutch lot (#clock), from the state's "clock" object.
export function showClock(live, state, currency) {
  const c = state && state.clock;
  if (!c || !$("#clock")) return;
  const running = state.state === "live";
  $("#clock-level").textContent = t("clock.level_of", { level: c.level + 1, levels: c.last_level + 1 });
  $("#clock-price").textContent = money(c.price, currency);
  $("#clock-left").textContent = running ? duration(c.level_ends_at_ms - live.serverNow()) : t(`state.${state.state}`);
  if ($("#clock-active")) $("#clock-active").textContent = c.active ?? "—";
  if ($("#clock-accepted")) $("#clock-accepted").textContent = c.accepted ?? "—";
}

// A clock's new level from a "round" or "price" frame, applied to a page's state.
export function nextLevel(state, frame) {
  if (!state.clock) return;
  Object.assign(state.clock, {
    level: frame.level,
    price: frame.price,
    level_ends_at_ms: frame.level_ends_at_ms,
    active: frame.active,
    accepted: 0,
  });
}

// The soft-close notice of an auction page (#extended): the new end and the count.
export function showExtended(frame) {
  const note = $("#extended");
  note.textContent = t("room.extended", { time: clockTime(frame.ends_at_ms), count: frame.extensions });
  note.hidden = false;
}

// The connection badge of live pages: "Live" or "Reconnecting…".
export function connectionBadge(node) {
  return (status) => {
    node.dataset.status = status;
    node.textContent = t(`conn.${status}`);
  };
}
