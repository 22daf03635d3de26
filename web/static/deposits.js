// The supplier's security deposits: balance per currency, posting one (with the
// transfer instructions), and the list.
import { bindForm, localError } from "./forms.js";
import { money, parseMajor, t, when } from "./i18n.js";
import { $, api, h } from "./session.js";
import { table } from "./tables.js";

async function load() {
  const [balance, deposits, needed] = await Promise.all([
    api("GET", "/api/deposits/balance"), api("GET", "/api/deposits"), api("GET", "/api/deposits/requirement"),
  ]);
  const vars = { amount: money(needed.amount, needed.currency, { grouped: true }), held: money(needed.held, needed.currency, { grouped: true }) };
  $("#requirement").textContent = t(needed.met ? "deposit.requirement_met" : "deposit.requirement", vars);
  $("#balance").replaceChildren(table(t("deposit.balance"), [
    [t("field.currency"), (b) => b.currency],
    [t("deposit.held"), (b) => money(b.held, b.currency, { grouped: true }), { num: true }],
    [t("deposit.reserved"), (b) => money(b.reserved, b.currency, { grouped: true }), { num: true }],
    [t("deposit.available"), (b) => money(b.available, b.currency, { grouped: true }), { num: true }],
  ], balance));
  $("#deposit-list").replaceChildren(table(t("deposit.list"), [
    [t("field.created_at"), (d) => when(d.created_at)],
    [t("field.amount"), (d) => money(d.amount, d.currency, { grouped: true }), { num: true }],
    [t("contract.status"), (d) => t(`deposit.status.${d.status}`)],
    [t("contract.instructions"), (d) => d.instructions],
    [t("col.actions"), (d) => d.status === "pending"
      ? h("button", { type: "button", class: "quiet", onclick: async () => { await api("POST", `/api/deposits/${d.id}/cancel`).catch(() => {}); load(); } }, t("deposit.cancel"))
      : ""],
  ], deposits));
}

bindForm($("#deposit-form"), {
  build: (f) => {
    try {
      return { amount: parseMajor(f.amount.value, f.currency.value), currency: f.currency.value };
    } catch (error) {
      throw localError("amount", error.message);
    }
  },
  send: (body) => api("POST", "/api/deposits", body),
  done: async (deposit) => {
    $("#instructions").textContent = deposit.instructions;
    $("#instructions").hidden = false;
    await load();
  },
});
load();
