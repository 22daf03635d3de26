// The festival control room: every lot of the festival live (state, best price where
// the viewer may see it, savings against the ceiling, bidders, time left) and totals.
import { duration, money, t } from "./i18n.js";
import { $, api, h } from "./session.js";
import { Live, connectionBadge } from "./live.js";

const { festival_id: festivalId } = JSON.parse($("#page").textContent);
const lots = new Map(); // auction id -> lot row data
const live = new Live({ onStatus: connectionBadge($("#conn")) });

function savings(lot) {
  return lot.best_price === null || lot.best_price === undefined
    ? null
    : (lot.ceiling_price - lot.best_price) * lot.quantity;
}

function render() {
  const rows = [...lots.values()].map((lot) =>
    h("tr", { "data-auction": lot.auction_id },
      h("th", { scope: "row" }, h("a", { href: `/auctions/${lot.auction_id}` }, lot.lot_name),
        h("small", { class: "muted block" }, lot.rfq_title)),
      h("td", {}, h("span", { class: `pill ${lot.state}` }, t(`state.${lot.state}`))),
      h("td", { class: "num" }, money(lot.best_price, lot.currency)),
      h("td", { class: "num" }, money(savings(lot), lot.currency, { grouped: true })),
      h("td", { class: "num" }, lot.bidders ?? "—"),
      h("td", { class: "num", "data-ends": lot.ends_at_ms }, "—")));
  $("#lots tbody").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 6, class: "muted" }, t("festival.empty")))]));
  const totals = new Map();
  let liveLots = 0;
  for (const lot of lots.values()) {
    if (lot.state === "live") liveLots += 1;
    const sum = totals.get(lot.currency) || { ceiling: 0, best: 0, savings: 0 };
    sum.ceiling += lot.ceiling_price * lot.quantity;
    if (savings(lot) !== null) {
      sum.best += lot.best_price * lot.quantity;
      sum.savings += savings(lot);
    }
    totals.set(lot.currency, sum);
  }
  $("#live-lots").textContent = liveLots;
  const list = (key) => [...totals].map(([c, s]) => money(s[key], c, { grouped: true })).join(" · ") || "—";
  $("#ceiling-value").textContent = list("ceiling");
  $("#best-value").textContent = list("best");
  $("#total-savings").textContent = list("savings");
  tick();
}

function tick() {
  const now = live.serverNow();
  for (const cell of document.querySelectorAll("td[data-ends]")) {
    const lot = lots.get(Number(cell.parentElement.dataset.auction));
    cell.textContent = lot && lot.state === "live" ? duration(lot.ends_at_ms - now) : "—";
  }
}

async function load() {
  const festival = await api("GET", `/api/festivals/${festivalId}`);
  $("#festival-name").textContent = festival.name;
  $("#festival-theme").textContent = festival.theme;
  for (const lot of festival.lots) {
    lots.set(lot.auction_id, { ...lot, ends_at_ms: Date.parse(lot.ends_at) });
  }
  render();
}

live.subscribe(`festival:${festivalId}`, { op: "subscribe", festival: festivalId }, (frame) => {
  if (frame.type === "festival") {
    if (frame.auctions.some((id) => !lots.has(id))) load();
    return;
  }
  const lot = lots.get(frame.auction);
  if (!lot) return;
  lot.state = frame.state;
  lot.ends_at_ms = frame.ends_at_ms;
  if ("bidders" in frame) lot.bidders = frame.bidders;
  if ("best_price" in frame) lot.best_price = frame.best_price;
  render();
});

load().then(() => live.connect());
setInterval(tick, 500);
