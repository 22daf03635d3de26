// The company's contracts (operators: all).
import { money, t, when } from "./i18n.js";
import { $, api, h } from "./session.js";
import { table } from "./tables.js";

const contracts = await api("GET", "/api/contracts");
$("#contract-list").replaceChildren(table(t("nav.contracts"), [
  [t("contract.number_col"), (c) => h("a", { href: `/contracts/${c.id}` }, t("contract.number", { id: c.id }))],
  [t("col.lot"), (c) => c.lot_name],
  [t("contract.buyer"), (c) => c.buyer_name],
  [t("col.supplier"), (c) => c.supplier_name],
  [t("contract.total"), (c) => money(c.total, c.currency, { grouped: true }), { num: true }],
  [t("contract.status"), (c) => t(`contract.status.${c.status}`)],
  [t("field.created_at"), (c) => when(c.created_at)],
], contracts));
