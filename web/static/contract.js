// One contract: terms, escrow position, payments, history, and the moves the caller
// may make now (from the contract's `moves`; the buyer also funds the escrow).
import { me, money, t, when } from "./i18n.js";
import { $, api, h, newKey, upload } from "./session.js";
import { table } from "./tables.js";

const { contract_id: contractId } = JSON.parse($("#page").textContent);
const result = $("#c-result");
const form = $("#move-form");
let contract = null;
let asking = null; // the move the form is collecting text for

async function move(name, body = {}) {
  try {
    await api("POST", `/api/contracts/${contractId}/${name}`, { ...body, key: newKey() });
    result.textContent = t(`contract.done.${name}`);
    form.hidden = true;
    await load();
  } catch (error) {
    result.textContent = error.message;
  }
}

function ask(name) {
  asking = name;
  form.hidden = false;
  $("#move-label").textContent = t(`contract.ask.${name}`);
  $("#move-submit").textContent = t(`contract.move.${name}`);
  $("#move-file").hidden = $("#move-file-label").hidden = name !== "dispute";
  $("#move-text").focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("#move-text").value;
  if (asking === "ship") return move("ship", { tracking: text });
  const evidence = [];
  const file = $("#move-file").files[0];
  try {
    if (file) evidence.push((await upload(file)).file_id);
  } catch (error) {
    result.textContent = error.message;
    return;
  }
  return move("dispute", { reason: text, evidence });
});

async function load() {
  contract = await api("GET", `/api/contracts/${contractId}`);
  const c = contract;
  $("#contract-meta").textContent = `${c.lot_name} · ${c.quantity} ${c.unit} × ${money(c.unit_price, c.currency)} · ${c.buyer_name} → ${c.supplier_name}`;
  $("#c-status").textContent = t(`contract.status.${c.status}`);
  $("#c-total").textContent = money(c.total, c.currency, { grouped: true });
  $("#c-held").textContent = money(c.escrow.held, c.currency, { grouped: true });
  $("#c-released").textContent = money(c.escrow.released, c.currency, { grouped: true });
  $("#c-refunded").textContent = money(c.escrow.refunded, c.currency, { grouped: true });
  const moves = c.moves.filter((m) => !m.startsWith("resolve"));
  const buyer = me.company_id === c.buyer_company_id;
  const funding = c.payments.some((p) => p.kind === "funding" && p.status === "pending");
  if (buyer && c.status === "awaiting_funding") moves.unshift(funding ? "withdraw" : "fund");
  $("#c-moves").replaceChildren(...(moves.length ? moves.map((name) =>
    h("button", { type: "button", class: ["decline", "dispute", "cancel", "withdraw"].includes(name) ? "quiet danger" : null,
      onclick: () => (name === "ship" || name === "dispute" ? ask(name) : move(name)) }, t(`contract.move.${name}`)))
    : [h("p", { class: "muted" }, t("contract.no_moves"))]));
  $("#c-payments").replaceChildren(table(t("contract.payments"), [
    [t("contract.payment_kind"), (p) => t(`payment.${p.kind}`)],
    [t("contract.total"), (p) => money(p.amount, p.currency, { grouped: true }), { num: true }],
    [t("contract.status"), (p) => t(`payment.status.${p.status}`)],
    [t("contract.instructions"), (p) => p.instructions || p.reference],
  ], c.payments));
  $("#c-history").replaceChildren(...c.history.map((m) =>
    h("li", {}, `${when(m.at)} · ${t(`contract.move.${m.move}`)} → ${t(`contract.status.${m.to_state}`)}${m.note ? ` · ${m.note}` : ""}`)));
}

load().catch((error) => { result.textContent = error.message; });
