// A supplier's profile: certification level and badge, score, the counts behind the
// score (the formula is rfq/credit.py's, shown below them), and its contracts the
// caller may see.
import { money, t, when } from "./i18n.js";
import { $, api } from "./session.js";
import { table } from "./tables.js";

const { company_id: companyId } = JSON.parse($("#page").textContent);
const COUNTS = [
  "auctions", "bids", "contracts_won", "contracts_completed", "contracts_in_progress",
  "contracts_declined", "disputes", "disputes_lost", "disputes_split", "bonds_forfeited",
  "shipments_late", "shipments_missed",
];

async function load() {
  const [p, credit] = await Promise.all([
    api("GET", `/api/suppliers/${companyId}`),
    api("GET", `/api/companies/${companyId}/credit`),
  ]);
  $("#s-name").textContent = p.company_name;
  $("#s-meta").textContent = [
    t(`supplier.cert.${p.certification}`),
    p.categories.join(", "),
    p.certified_at ? `${t("supplier.since")} ${when(p.certified_at)}` : "",
  ].filter(Boolean).join(" · ");
  $("#s-badge").textContent = p.badge ? `${p.badge} (${t("supplier.level", { n: p.level })})` : "—";
  $("#s-score").textContent = `${p.score} / 100`;
  $("#s-completed").textContent = p.counts.contracts_completed;
  $("#s-lost").textContent = p.counts.disputes_lost;
  $("#s-counts").replaceChildren(table(t("supplier.counts"), [
    [t("supplier.count"), (k) => t(`credit.${k}`)],
    [t("supplier.value"), (k) => p.counts[k], { num: true }],
  ], COUNTS));
  $("#s-contracts").replaceChildren(table(t("nav.contracts"), [
    [t("contract.number_col"), (c) => t("contract.number", { id: c.contract_id })],
    [t("field.lot_name"), (c) => c.lot_name],
    [t("contract.total"), (c) => money(c.total, c.currency, { grouped: true }), { num: true }],
    [t("contract.status"), (c) => t(`contract.status.${c.status}`)],
    [t("field.created_at"), (c) => when(c.created_at)],
  ], credit.contracts));
}

load().catch((error) => { $("#s-result").textContent = error.message; });
