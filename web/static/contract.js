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
    result.textContent = t(`contract.done.${name.replace("/", "_")}`);
    form.hidden = true;
    await load();
  } catch (error) {
    result.textContent = error.message;
  }
}

// The moves that ask for something first: a text, a number, a file, a dispute's kind.
const ASKS = {
  ship: { text: true, number: "quantity" },
  confirm: { number: "quantity_accepted" },
  extension: { text: true, number: "days" },
  dispute: { text: true, file: true },
};

function show(id, shown) {
  $(`#${id}`).hidden = $(`#${id}-label`).hidden = !shown;
}

function ask(name) {
  asking = name;
  const spec = ASKS[name];
  form.hidden = false;
  $("#move-text-label").textContent = spec.text ? t(`contract.ask.${name}`) : "";
  show("move-text", Boolean(spec.text));
  $("#move-text").value = "";
  show("move-number", Boolean(spec.number));
  if (spec.number) {
    $("#move-number-label").textContent = t(`contract.ask.${spec.number}`);
    const c = contract;
    $("#move-number").value = name === "ship" ? String(c.quantity)
      : name === "confirm" ? String(c.quantity_shipped ?? c.quantity) : "7";
  }
  show("move-file", Boolean(spec.file));
  show("move-kind", name === "dispute" && contract.status === "warranty");
  $("#move-submit").textContent = t(`contract.move.${name}`);
  (spec.text ? $("#move-text") : $("#move-number")).focus();
}

function number() {
  const text = $("#move-number").value.trim();
  if (!/^\d+$/.test(text)) throw new Error(t("contract.bad_number"));
  return Number(text);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("#move-text").value;
  try {
    if (asking === "ship") return await move("ship", { tracking: text, quantity: number() });
    if (asking === "confirm") return await move("confirm", { quantity_accepted: number() });
    if (asking === "extension") return await move("extension", { days: number(), reason: text });
  } catch (error) {
    result.textContent = error.message;
    return;
  }
  const kind = contract.status === "warranty" ? $("#move-kind").value : undefined;
  const evidence = [];
  const file = $("#move-file").files[0];
  try {
    if (file) evidence.push((await upload(file)).file_id);
  } catch (error) {
    result.textContent = error.message;
    return;
  }
  return move("dispute", { reason: text, evidence, kind });
});

async function load() {
  contract = await api("GET", `/api/contracts/${contractId}`);
  const c = contract;
  $("#contract-meta").textContent = `${c.lot_name} · ${c.quantity} ${c.unit} × ${money(c.unit_price, c.currency)} · ${c.buyer_name} → ${c.supplier_name}`;
  $("#c-status").textContent = t(`contract.status.${c.status}`);
  $("#c-po").hidden = ["offered", "declined", "cancelled"].includes(c.status);
  $("#c-total").textContent = money(c.total, c.currency, { grouped: true });
  $("#c-held").textContent = money(c.escrow.held, c.currency, { grouped: true });
  $("#c-released").textContent = money(c.escrow.released, c.currency, { grouped: true });
  $("#c-refunded").textContent = money(c.escrow.refunded, c.currency, { grouped: true });
  $("#c-ship-by").textContent = c.ship_by
    ? `${when(c.ship_by)}${c.overdue ? ` · ${t("contract.overdue")}` : ""}` : "—";
  $("#c-extension").textContent = c.extension_status === "none" ? t("contract.extension.none")
    : t(`contract.extension.${c.extension_status}`, { days: c.extension_days, reason: c.extension_reason });
  $("#c-quantities").textContent = [
    `${t("contract.ordered")} ${c.quantity} ${c.unit}`,
    c.quantity_shipped !== null ? `${t("contract.shipped_qty")} ${c.quantity_shipped}` : "",
    c.quantity_accepted !== null ? `${t("contract.accepted_qty")} ${c.quantity_accepted}` : "",
  ].filter(Boolean).join(" · ");
  $("#c-aftersale").textContent = c.warranty_days || c.return_days
    ? t("contract.aftersale_terms", { warranty: c.warranty_days, returns: c.return_days, retention: (c.retention_bps / 100).toFixed(2) })
      + (c.aftersale_ends_at ? ` · ${t("contract.aftersale_ends")} ${when(c.aftersale_ends_at)}` : "")
    : t("contract.no_aftersale");
  const st = c.supplier_standing;
  $("#c-standing").replaceChildren(h("a", { href: `/suppliers/${st.company_id}` },
    `${st.company_name} · ${st.badge || t("supplier.no_badge")} · ${t("supplier.score")} ${st.score}`));
  const moves = c.moves.filter((m) => !m.startsWith("resolve") && m !== "extension_answer");
  const buyer = me.company_id === c.buyer_company_id;
  const funding = c.payments.some((p) => p.kind === "funding" && p.status === "pending");
  if (buyer && c.status === "awaiting_funding") moves.unshift(funding ? "withdraw" : "fund");
  const buttons = moves.map((name) =>
    h("button", { type: "button", class: ["decline", "dispute", "cancel", "withdraw", "terminate"].includes(name) ? "quiet danger" : null,
      onclick: () => (ASKS[name] ? ask(name) : move(name)) }, t(`contract.move.${name}`)));
  if (c.moves.includes("extension_answer")) {
    buttons.push(
      h("button", { type: "button", onclick: () => move("extension/answer", { accept: true }) }, t("contract.move.extension_accept")),
      h("button", { type: "button", class: "quiet danger", onclick: () => move("extension/answer", { accept: false }) }, t("contract.move.extension_refuse")));
  }
  $("#c-moves").replaceChildren(...(buttons.length ? buttons : [h("p", { class: "muted" }, t("contract.no_moves"))]));
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
