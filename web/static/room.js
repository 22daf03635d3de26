// The supplier's bidding room: rank, own price, best price where the lot shows it, the
// highest price the rules accept now and why, a countdown on the server's clock,
// soft-close extensions, a proxy floor, and bids over the websocket.
import { clockTime, formatMajor, money, parseMajor, reason, t } from "./i18n.js";
import { $, api, h, newKey } from "./session.js";
import { Live, connectionBadge, nextLevel, showClock, showCountdown, showExtended } from "./live.js";

const page = JSON.parse($("#page").textContent);
const { auction_id: auctionId, currency } = page;
const clocked = page.format === "japanese" || page.format === "dutch";
let accepting = false; // an acceptance is on its way
let sending = false; // a bid of this page's is on its way
// order: the standing bids' pseudonyms best first as of event orderSeq; an ack newer
// than that carries the rank until the bid's own event arrives.
const view = { state: null, myToken: null, order: null, orderSeq: 0, ack: null };

const live = new Live({ onStatus: connectionBadge($("#conn")) });
$("#ceiling").textContent = money(page.ceiling_price, currency);

// A lot taking pre-bids before its opening: blind bids, ranked from the opening on.
const preBids = (s) => s.state === "scheduled" && s.pre_bids;

function setRank() {
  const s = view.state;
  const node = $("#rank");
  if (!s) return;
  if (preBids(s)) {
    node.textContent = t("room.pre_rank");
    return;
  }
  if (s.format === "sealed" && !["closed", "awarded", "no_award"].includes(s.state)) {
    node.textContent = t("room.sealed_rank");
    return;
  }
  let rank = s.my_rank;
  if (view.ack && view.ack.seq > view.orderSeq) rank = view.ack.rank;
  else if (view.order && view.myToken) {
    const at = view.order.indexOf(view.myToken);
    rank = at >= 0 ? at + 1 : null;
  }
  node.textContent = rank ? t("room.rank", { rank }) : t("room.no_bid");
  node.dataset.rank = rank || "";
}

function render() {
  const s = view.state;
  if (!s) return;
  $("#state").textContent = t(`state.${s.state}`);
  $("#my-price").textContent = money(s.my_price, currency);
  $("#best-price").textContent =
    "best_price" in s ? money(s.best_price, currency) : t("room.hidden");
  $("#bidders").textContent = s.bidders ?? t("room.hidden");
  if (clocked) renderClock(s);
  else renderBidForm(s);
  setRank();
  showSurrogate(s);
  tick();
}

// A bid the buyer or an operator placed for this supplier (a phone bid): a notice while
// it stands, and a row in "My bids" with the reason given.
const shownSurrogates = new Set();
function showSurrogate(s) {
  const note = $("#surrogate");
  note.hidden = !s.my_bid_surrogate;
  if (s.my_bid_surrogate) {
    note.textContent = t("room.surrogate_notice", { price: formatMajor(s.my_price, currency), currency });
    if (!shownSurrogates.has(s.my_bid_id)) loadSurrogates();
  }
}

async function loadSurrogates() {
  let bids;
  try {
    bids = await api("GET", `/api/auctions/${auctionId}/my-bids`);
  } catch {
    return;
  }
  for (const b of bids) {
    if (!b.surrogate || shownSurrogates.has(b.bid_id)) continue;
    shownSurrogates.add(b.bid_id);
    $("#my-bids").prepend(
      h("tr", { class: "surrogate" },
        h("td", {}, clockTime(Date.parse(b.at))),
        h("td", { class: "num" }, formatMajor(b.price, currency)),
        h("td", {}, t("room.surrogate_row", { reason: b.surrogate_reason }))),
    );
  }
}

// A priced lot: the highest acceptable price and why.
function renderBidForm(s) {
  const min = $("#min-acceptable");
  if (s.public) {
    // the company does not take part in this RFQ: the lot's status only
    min.textContent = t("room.min.not_participant");
    $("#bid-button").disabled = true;
    return;
  }
  if (s.min_acceptable !== null && s.min_acceptable !== undefined) {
    min.textContent = t(`room.min.${s.min_acceptable_reason}`, {
      price: formatMajor(s.min_acceptable, currency),
      currency,
    });
  } else {
    min.textContent = t(`room.min.${s.min_acceptable_reason || "not_open"}`);
  }
  $("#bid-button").disabled = !(s.state === "live" || preBids(s));
  $("#pre-bids").hidden = !preBids(s);
}

// A clock lot: accept the current level's price, or see why not.
function renderClock(s) {
  const c = s.clock;
  if (!c) return;
  const me = c.accepted_by_me ? "accepted" : c.dropped_out ? "dropped_out" : c.may_accept ? "may_accept" : "waiting";
  $("#clock-me").textContent = t(`clock.me.${me}`, { price: formatMajor(c.price, currency), currency });
  const button = $("#accept-button");
  button.textContent = t("clock.accept_price", { price: formatMajor(c.price, currency), currency });
  button.disabled = !(s.state === "live" && c.may_accept) || accepting;
}

function tick() {
  showCountdown(live, view.state);
  showClock(live, view.state, currency);
}

let refetch = null;
// The highest acceptable price depends on the standings: ask again after changes.
function refresh() {
  clearTimeout(refetch);
  refetch = setTimeout(async () => {
    try {
      const state = await api("GET", `/api/auctions/${auctionId}`);
      view.state = { ...view.state, ...state };
      render();
    } catch {
      /* the next event asks again */
    }
  }, 300);
}


live.subscribe(`auction:${auctionId}`, { op: "subscribe", auction: auctionId }, (frame) => {
  switch (frame.type) {
    case "snapshot":
      view.state = frame.state;
      view.myToken = frame.my_token || null;
      view.order = frame.order || null;
      view.orderSeq = frame.seq;
      if (view.state.extensions) showExtended(view.state);
      break;
    case "bid":
      if (frame.order) {
        // Only this supplier's own bid moves it up: one it did not send (a phone bid
        // placed for it) is read back from the server.
        const before = view.order && view.myToken ? view.order.indexOf(view.myToken) : -1;
        const after = view.myToken ? frame.order.indexOf(view.myToken) : -1;
        const mine = view.ack && view.ack.seq >= frame.seq;
        if (after >= 0 && (before < 0 || after < before) && !mine && !sending) refresh();
        view.order = frame.order;
        view.orderSeq = frame.seq;
      }
      view.state.bidders = frame.bidders ?? view.state.bidders;
      if (frame.ends_at_ms) view.state.ends_at_ms = frame.ends_at_ms;
      if ("best_price" in frame) view.state.best_price = frame.best_price;
      // Others' bids move the highest acceptable price only when it is set by the best.
      if (view.state.min_acceptable_reason === "best") refresh();
      break;
    case "extended":
      view.state.ends_at_ms = frame.ends_at_ms;
      view.state.extensions = frame.extensions;
      showExtended(frame);
      break;
    case "round":
    case "price":
      nextLevel(view.state, frame);
      refresh(); // whether this supplier is still in, from the server
      break;
    case "clarification": // the buyer's answer to a question, for everyone taking part
      $("#clarification").replaceChildren(
        h("strong", {}, t("qa.latest")), " ",
        h("span", { class: "block" }, `${t("qa.q")} ${frame.question}`),
        h("span", { class: "block" }, `${t("qa.a")} ${frame.answer}`),
        h("a", { href: `/rfqs/${view.state.rfq_id}` }, t("qa.all")));
      $("#clarification").hidden = false;
      return;
    case "error":
      $("#bid-result").textContent = reason(frame.code, frame.message);
      return;
    default:
      if (frame.state) view.state.state = frame.state;
      if (frame.ends_at_ms) view.state.ends_at_ms = frame.ends_at_ms;
      refresh();
  }
  render();
});

function addMine(price, outcome, cls) {
  $("#my-bids").prepend(
    h("tr", { class: cls },
      h("td", {}, clockTime(live.serverNow())),
      h("td", { class: "num" }, formatMajor(price, currency)),
      h("td", {}, outcome)),
  );
}

// One bid (or clock acceptance) over the socket: the outcome goes to `result` and to
// "My bids"; `text` names the locale keys of the ack (full and short) and of the hint
// that follows a rejection's highest acceptable price. Returns the ack, or null.
async function sendBid(price, result, text) {
  sending = true;
  result.className = "result";
  result.textContent = t("room.sending");
  try {
    const frame = { op: "bid", auction: auctionId, price, key: newKey() };
    const ack = await live.request(frame, () => {
      result.textContent = t("room.retrying");
    });
    const shown = { price: formatMajor(ack.price, currency), rank: ack.rank, currency };
    // no rank yet: a pre-bid (ranked at the opening) or a sealed bid (at the close)
    const blind = ack.rank === null && !clocked ? (preBids(view.state) ? "_pre" : "_sealed") : "";
    result.textContent = t(text.ok + blind, shown);
    result.classList.add("good");
    Object.assign(view.state, { my_price: ack.price, my_rank: ack.rank });
    if (!blind) view.ack = ack;
    addMine(ack.price, t(text.short + blind, shown), "good");
    return ack;
  } catch (rejection) {
    let message = reason(rejection.code, rejection.message);
    if (rejection.min_acceptable !== undefined && rejection.min_acceptable !== null) {
      message += " " + t(text.hint, { price: formatMajor(rejection.min_acceptable, currency), currency });
    }
    result.textContent = message;
    result.classList.add("bad");
    addMine(price, message, "bad");
    return null;
  } finally {
    sending = false;
    refresh();
  }
}

async function accept() {
  const c = view.state && view.state.clock;
  if (!c) return;
  accepting = true;
  render();
  const text = { ok: "clock.accepted", short: "clock.accepted_short", hint: "clock.now" };
  if (await sendBid(c.price, $("#accept-result"), text)) {
    Object.assign(c, { accepted_by_me: true, may_accept: false });
  }
  accepting = false;
  render();
}

if (clocked) $("#accept-button").addEventListener("click", accept);

if (!clocked) $("#bid-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const result = $("#bid-result");
  const input = $("#bid-price");
  let price;
  try {
    price = parseMajor(input.value, currency);
  } catch (error) {
    result.className = "result bad";
    result.textContent = error.message;
    input.setAttribute("aria-invalid", "true");
    return;
  }
  input.removeAttribute("aria-invalid");
  const button = $("#bid-button");
  button.disabled = true;
  const text = { ok: "room.accepted", short: "room.accepted_short", hint: "room.min_hint" };
  if (await sendBid(price, result, text)) input.value = "";
  render();
});

async function setProxy(floor) {
  const result = $("#proxy-result");
  try {
    const frame = { op: "proxy", auction: auctionId, floor, key: newKey() };
    const ack = await live.request(frame, () => {
      result.textContent = t("room.retrying");
    });
    result.textContent =
      floor === null ? t("room.proxy_cleared") : t("room.proxy_ok", { price: formatMajor(ack.floor, currency) });
    refresh();
  } catch (rejection) {
    result.textContent = reason(rejection.code, rejection.message);
  }
}

if (!clocked) {
  $("#proxy-form").addEventListener("submit", (event) => {
    event.preventDefault();
    try {
      setProxy(parseMajor($("#proxy-floor").value, currency));
    } catch (error) {
      $("#proxy-result").textContent = error.message;
    }
  });
  $("#proxy-clear").addEventListener("click", () => setProxy(null));
}

live.connect();
setInterval(tick, 250);
