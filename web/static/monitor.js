// The buyer's live monitor: the Live bids table (each supplier's standing bid, best
// first), a price-over-time chart, savings against the ceiling, the reserve, soft-close
// extensions, bids phoned in for a supplier (surrogate bids), and the award (whole,
// split or none) once the auction has closed.
import { bindForm, localError, showErrors } from "./forms.js";
import { clockTime, formatMajor, money, parseMajor, reason, t } from "./i18n.js";
import { $, api, h, newKey } from "./session.js";
import { table } from "./tables.js";
import { Live, connectionBadge, nextLevel, showClock, showCountdown, showExtended } from "./live.js";
import { drawChart } from "./chart.js";

const page = JSON.parse($("#page").textContent);
const { auction_id: auctionId, currency, quantity } = page;
const CLOSED = ["closed", "awarded", "no_award", "cancelled"];
const view = { state: null, ladder: [], points: [], names: new Map(), voided: new Set(), standing: new Map() };
const live = new Live({ onStatus: connectionBadge($("#conn")) });
const chart = $("#chart");
chart.dataset.empty = t("monitor.no_bids");

function name(companyId) {
  return view.names.get(companyId) || t("monitor.supplier_n", { id: companyId });
}

async function loadBids() {
  try {
    const bids = await api("GET", `/api/auctions/${auctionId}/bids`);
    view.points = [];
    for (const b of bids) {
      if (b.supplier_company_id !== null) view.names.set(b.supplier_company_id, b.supplier);
      if (b.voided) view.voided.add(b.bid_id);
      else if (b.price !== null) view.points.push({ at: Date.parse(b.at), price: b.price, id: b.bid_id });
    }
    render();
  } catch {
    /* the table still works from the live events */
  }
}

let namesLater = null;
function learnName(companyId) {
  if (view.names.has(companyId)) return;
  clearTimeout(namesLater);
  namesLater = setTimeout(loadBids, 300);
}

function renderTable() {
  const body = $("#live-bids tbody");
  const rows = view.ladder.map((b, i) =>
    h("tr", { "data-bid": b.bid_id },
      h("td", { class: "num" }, i + 1),
      h("td", {}, name(b.supplier_company_id), b.proxy ? h("span", { class: "tag" }, t("monitor.proxy")) : null,
        b.surrogate ? h("span", { class: "tag" }, t("phone.tag")) : null,
        view.standing.has(b.supplier_company_id) ? [" ", standingOf(b.supplier_company_id)] : null),
      h("td", { class: "num" }, formatMajor(b.price, currency)),
      h("td", { class: "num" }, formatMajor(Math.round(b.ranking_price_e4 / 10000), currency)),
      h("td", {}, clockTime(b.at_ms)),
      page.operator
        ? h("td", {}, h("button", { type: "button", class: "quiet", onclick: () => voidBid(b) }, t("monitor.void")))
        : null,
    ),
  );
  if (!rows.length) {
    const sealed = view.state && view.state.sealed_bids;
    rows.push(h("tr", {}, h("td", { colspan: 6, class: "muted" },
      sealed ? t(view.state.state === "scheduled" ? "monitor.pre_bids" : "monitor.sealed", { count: sealed })
        : t("monitor.no_bids"))));
  }
  body.replaceChildren(...rows);
}

function render() {
  const s = view.state;
  if (!s) return;
  const best = view.ladder.length ? view.ladder[0].price : null;
  $("#state").textContent = t(`state.${s.state}`);
  $("#best-price").textContent = money(best, currency);
  $("#bidders").textContent = s.sealed_bids ?? view.ladder.length;
  $("#savings").textContent =
    best === null ? "—" : money((page.ceiling_price - best) * quantity, currency, { grouped: true });
  const reserve = page.reserve_price;
  $("#reserve").textContent =
    reserve === null ? t("monitor.no_reserve")
      : best === null ? t("monitor.reserve_unknown", { price: formatMajor(reserve, currency) })
        : best <= reserve ? t("monitor.reserve_met") : t("monitor.reserve_not_met");
  $("#extensions").textContent = s.extensions;
  renderTable();
  drawChart(chart, view.points, [
    { price: page.ceiling_price, label: t("room.ceiling"), kind: "ceiling" },
    { price: reserve, label: t("monitor.reserve"), kind: "reserve" },
  ], (p) => formatMajor(p, currency));
  showPhone(s.state);
  if (CLOSED.includes(s.state) && s.state !== "cancelled" && view.awardFor !== s.state) {
    view.awardFor = s.state;
    showAward();
  }
}

function tick() {
  showCountdown(live, view.state);
  showClock(live, view.state, currency);
}

// A clock lot's counts (accepted this level, still in) come from the server's state.
let clockLater = null;
function refreshClock() {
  if (!view.state || !view.state.clock) return;
  clearTimeout(clockLater);
  clockLater = setTimeout(async () => {
    try {
      const state = await api("GET", `/api/auctions/${auctionId}`);
      if (state.clock) view.state.clock = state.clock;
      tick();
    } catch {
      /* the next event asks again */
    }
  }, 300);
}

function fromSnapshot(state) {
  view.state = state;
  view.ladder = (state.ladder || []).map((b) => ({ ...b, at_ms: Date.parse(b.at) }));
  for (const b of view.ladder) learnName(b.supplier_company_id);
  if (state.extensions) showExtended(state);
}

function onBid(frame) {
  view.state.sealed_bids = frame.bids ?? view.state.sealed_bids;
  if (frame.bid_id === undefined) return; // a sealed auction before its close
  const entry = {
    bid_id: frame.bid_id,
    supplier_company_id: frame.supplier_company_id,
    price: frame.price,
    ranking_price_e4: frame.ranking_price_e4,
    proxy: frame.proxy,
    surrogate: frame.surrogate,
    at_ms: frame.at,
  };
  view.ladder = view.ladder.filter((b) => b.supplier_company_id !== entry.supplier_company_id);
  view.ladder.push(entry);
  view.ladder.sort((a, b) => a.ranking_price_e4 - b.ranking_price_e4 || a.at_ms - b.at_ms);
  view.points.push({ at: frame.at, price: frame.price, id: frame.bid_id });
  learnName(entry.supplier_company_id);
}


live.subscribe(`auction:${auctionId}`, { op: "subscribe", auction: auctionId }, (frame) => {
  switch (frame.type) {
    case "snapshot":
      fromSnapshot(frame.state);
      loadBids();
      break;
    case "bid":
      onBid(frame);
      if (frame.ends_at_ms) view.state.ends_at_ms = frame.ends_at_ms;
      refreshClock();
      break;
    case "round":
    case "price":
      nextLevel(view.state, frame);
      refreshClock();
      break;
    case "extended":
      view.state.ends_at_ms = frame.ends_at_ms;
      view.state.extensions = frame.extensions;
      showExtended(frame);
      break;
    case "error":
      $("#extended").textContent = reason(frame.code, frame.message);
      $("#extended").hidden = false;
      return;
    default:
      if (frame.state) view.state.state = frame.state;
      if (frame.ends_at_ms) view.state.ends_at_ms = frame.ends_at_ms;
  }
  render();
});

async function voidBid(bid) {
  const why = window.prompt(t("monitor.void_reason"));
  if (!why) return;
  try {
    await api("POST", `/api/auctions/${auctionId}/bids/${bid.bid_id}/void`, { reason: why });
  } catch (error) {
    window.alert(error.message);
  }
}

// --- surrogate (phone) bids ---------------------------------------------------
// The buyer or an operator enters a bid a supplier gave by phone, with a reason; the
// suppliers offered are the RFQ's participants.
let phoneLoaded = false;
async function showPhone(state) {
  const form = $("#phone-form");
  form.hidden = state !== "live";
  if (form.hidden || phoneLoaded) return;
  phoneLoaded = true;
  try {
    const people = await api("GET", `/api/rfqs/${page.rfq_id}/invitations`);
    $("#phone-supplier").replaceChildren(...people
      .filter((p) => p.status !== "declined")
      .map((p) => h("option", { value: p.company_id }, p.company_name)));
  } catch {
    phoneLoaded = false;
  }
}

bindForm($("#phone-form"), {
  build: (form) => {
    let price;
    try {
      price = parseMajor(form.price.value, currency);
    } catch (error) {
      throw localError("price", error.message);
    }
    if (!form.reason.value.trim()) throw localError("reason", t("phone.no_reason"));
    return {
      supplier_company_id: Number(form.supplier.value),
      price,
      reason: form.reason.value.trim(),
      key: newKey(),
    };
  },
  send: (body) => api("POST", `/api/auctions/${auctionId}/surrogate-bids`, body),
  done: (ack) => {
    const form = $("#phone-form");
    $("#phone-result").textContent = t("phone.done", {
      price: formatMajor(ack.price, currency), rank: ack.rank ?? "—", currency,
    });
    form.price.value = "";
    form.reason.value = "";
  },
});

// --- award ---------------------------------------------------------------------
let awardShown = false;
async function showAward() {
  const section = $("#award");
  section.hidden = false;
  const done = $("#award-done");
  let decided = null;
  try {
    decided = await api("GET", `/api/auctions/${auctionId}/award`);
  } catch {
    decided = null;
  }
  if (decided && decided.contracts.length) {
    done.replaceChildren(
      h("p", {}, t("award.contracts")),
      h("ul", {}, decided.contracts.map((c) =>
        h("li", {}, h("a", { href: `/contracts/${c.id}` },
          `${t("contract.number", { id: c.id })}: ${c.supplier_name} · ${c.quantity} · ${money(c.total, c.currency, { grouped: true })} · ${t(`contract.status.${c.status}`)}`)))),
    );
  } else if (view.state.state === "no_award") {
    done.replaceChildren(h("p", {}, t("award.no_award_done")));
  }
  if (view.state.state === "closed" && page.lots > 1) showScenarios();
  if (view.state.state === "closed" && page.format === "sealed") showRound();
  const open = view.state.state === "closed" || (decided && decided.awards.length && decided.contracts.every((c) => ["declined", "cancelled"].includes(c.status)));
  $("#award-form").hidden = !open;
  if (!open || awardShown) return;
  awardShown = true;
  await loadStanding();
  $("#award-lines").replaceChildren(...view.ladder.map((b, i) =>
    h("tr", {},
      h("td", {}, h("label", { for: `qty-${b.bid_id}` }, `${i + 1}. ${name(b.supplier_company_id)}`)),
      h("td", {}, standingOf(b.supplier_company_id)),
      h("td", { class: "num" }, formatMajor(b.price, currency)),
      h("td", {}, h("input", {
        id: `qty-${b.bid_id}`, "data-bid": b.bid_id, "data-path": `awards.${i}.quantity`,
        inputmode: "numeric", value: i === 0 ? String(quantity) : "0", size: 8,
      })))));
}

// A closed sealed lot: qualify its best suppliers into a live round, their sealed
// prices carried over as their first bids (the lot then closes without award).
const localTime = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
function showRound() {
  const form = $("#round-form");
  if (!form.hidden) return;
  form.hidden = false;
  form.starts_at.value = localTime(new Date(Date.now() + 10 * 60_000));
}

bindForm($("#round-form"), {
  build: (form) => {
    const qualify = form.qualify.value.trim();
    const minutes = form.minutes.value.trim();
    if (!/^\d+$/.test(qualify)) throw localError("qualify", t("builder.need_integer"));
    if (!/^[1-9]\d*$/.test(minutes)) throw localError("ends_at", t("builder.need_integer"));
    if (!form.starts_at.value) throw localError("starts_at", t("builder.need_time"));
    let decrement;
    try {
      decrement = parseMajor(form.decrement.value, currency);
    } catch (error) {
      throw localError("rules.decrement.amount", error.message);
    }
    const starts = new Date(form.starts_at.value);
    return {
      qualify: Number(qualify),
      starts_at: starts.toISOString(),
      ends_at: new Date(starts.getTime() + Number(minutes) * 60_000).toISOString(),
      rules: { format: "reverse_english", visibility: form.visibility.value, decrement: { amount: decrement } },
    };
  },
  send: (body) => api("POST", `/api/auctions/${auctionId}/next-round`, body),
  done: (round) => {
    $("#round-form").hidden = true;
    $("#award").hidden = true;
    const carried = round.qualified.filter((q) => q.carried).length;
    $("#round-result").replaceChildren(
      t("round.done", { count: carried }), " ",
      h("a", { href: `/auctions/${round.auction_id}` }, t("round.monitor")), " · ",
      h("a", { href: `/rfqs/${round.rfq_id}` }, t("round.rfq")));
    $("#round-result").hidden = false;
  },
});

// An RFQ of several lots: the scenarios across its closed lots, each awardable at once.
async function showScenarios() {
  let found;
  try {
    found = await api("GET", `/api/rfqs/${page.rfq_id}/scenarios`);
  } catch {
    return; /* nothing to compare (yet) */
  }
  const section = $("#scenarios");
  section.hidden = false;
  const cur = found.currency;
  section.querySelector("div").replaceChildren(table(t("scenario.title"), [
    [t("scenario.name"), (s) => t(`scenario.${s.name}`)],
    [t("scenario.lines"), (s) => (s.available
      ? s.lines.map((l) => h("span", { class: "block" }, `${l.lot_name}: ${l.company_name} × ${l.quantity} @ ${formatMajor(l.unit_price, cur)}`))
      : t("scenario.unavailable"))],
    [t("scenario.suppliers"), (s) => s.suppliers, { num: true }],
    [t("scenario.total"), (s) => (s.available ? money(s.total, cur, { grouped: true }) : "—"), { num: true }],
    [t("scenario.savings"), (s) => (s.available ? money(s.savings, cur, { grouped: true }) : "—"), { num: true }],
    [t("col.actions"), (s) => (s.available ? h("button", { type: "button", class: "quiet", onclick: () => awardScenario(s.name) }, t("scenario.award")) : null)],
  ], found.scenarios));
}

async function awardScenario(name) {
  const out = $("#scenario-result");
  try {
    const done = await api("POST", `/api/rfqs/${page.rfq_id}/scenarios/award`, { scenario: name });
    const failed = done.lots.filter((l) => !l.ok);
    out.textContent = failed.length ? failed.map((l) => `#${l.auction_id}: ${l.message}`).join(" · ") : t("scenario.awarded");
    $("#scenarios").hidden = !failed.length;
    awardShown = false;
    view.awardFor = null;
    view.state.state = "awarded";
    render();
  } catch (error) {
    out.textContent = error.message;
  }
}

// After the close: each bidder's level, badge and score beside it (never before: the
// rules may hide who is bidding).
async function loadStanding() {
  try {
    for (const s of await api("GET", `/api/auctions/${auctionId}/standing`)) view.standing.set(s.company_id, s);
    renderTable();
  } catch {
    /* the award works without it */
  }
}

function standingOf(companyId) {
  const s = view.standing.get(companyId);
  if (!s) return null;
  return h("a", { class: "standing", href: `/suppliers/${companyId}` },
    h("span", { class: "tag" }, s.badge || t("supplier.no_badge")), ` ${t("supplier.score")} ${s.score}`);
}

function whole(text, path) {
  const value = (text || "0").trim();
  if (!/^\d+$/.test(value)) throw localError(path, t("award.bad_quantity"));
  return Number(value);
}

bindForm($("#award-form"), {
  build: (form) => {
    const awards = [];
    for (const input of form.querySelectorAll("input[data-bid]")) {
      const text = input.value.trim() || "0";
      if (!/^\d+$/.test(text)) throw localError(input.dataset.path, t("award.bad_quantity"));
      const n = Number(text);
      if (n > 0) awards.push({ bid_id: input.dataset.bid, quantity: n });
    }
    if (!awards.length) throw localError("reason", t("award.nothing"));
    const body = { awards, reason: form.reason.value };
    if (form.ship_by.value) body.ship_by = new Date(`${form.ship_by.value}T23:59:59`).toISOString();
    body.warranty_days = whole(form.warranty_days.value, "warranty_days");
    body.return_days = whole(form.return_days.value, "return_days");
    const retention = (form.retention.value || "0").trim();
    if (!/^\d+(\.\d{1,2})?$/.test(retention)) throw localError("retention_bps", t("award.bad_retention"));
    body.retention_bps = Math.round(Number(retention) * 100);
    return body;
  },
  send: (body) => api("POST", `/api/auctions/${auctionId}/award`, body),
  done: () => {
    awardShown = false;
    view.awardFor = null;
    view.state.state = "awarded";
    render();
  },
});

$("#no-award").addEventListener("click", async () => {
  const form = $("#award-form");
  try {
    await api("POST", `/api/auctions/${auctionId}/award`, { no_award: true, reason: form.reason.value });
    view.state.state = "no_award";
    view.awardFor = null;
    render();
  } catch (error) {
    showErrors(form, error);
  }
});

live.connect();
setInterval(tick, 250);
