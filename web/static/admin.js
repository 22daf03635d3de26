// The operator console: certification queue with documents; certified suppliers to
// suspend or reinstate (and their appeals); deposits to confirm or refund; bid bonds to
// forfeit or release; payments to confirm; disputes to rule on; the matching report.
import { money, parseMajor, t, when } from "./i18n.js";
import { $, api, h, newKey } from "./session.js";
import { table } from "./tables.js";

const result = $("#admin-result");

async function act(path, body, done) {
  try {
    await api("POST", path, body);
    result.textContent = done;
  } catch (error) {
    result.textContent = error.message;
  }
  await load();
}

function button(text, onclick, cls) {
  return h("button", { type: "button", class: cls, onclick }, text);
}

function section(id, node) {
  $(`#${id} > div`).replaceChildren(node);
}

// An action that needs a reason first (a prompt); nothing is sent without one.
function withReason(question, send) {
  const reason = window.prompt(question);
  if (reason) send(reason);
}

async function load() {
  const [certs, deposits, payments, disputes, approved, suspended, held, bonds] = await Promise.all([
    api("GET", "/api/admin/certifications?status=pending"),
    api("GET", "/api/admin/deposits?status=pending"),
    api("GET", "/api/admin/payments"),
    api("GET", "/api/admin/disputes?status=open"),
    api("GET", "/api/admin/certifications?status=approved"),
    api("GET", "/api/admin/certifications?status=suspended"),
    api("GET", "/api/admin/deposits?status=held"),
    api("GET", "/api/admin/bonds"),
  ]);
  section("suppliers", table(t("admin.suppliers"), [
    [t("field.company_name"), (c) => h("a", { href: `/suppliers/${c.company_id}` }, `${c.company_name} (#${c.company_id})`)],
    [t("admin.cert_status"), (c) => t(`cert.status.${c.status}`) + (c.badge ? ` · ${c.badge}` : "")],
    [t("admin.reason"), (c) => c.note],
    [t("admin.appeal"), (c) => c.appeal || "—"],
    [t("col.actions"), (c) => (c.status === "approved"
      ? button(t("admin.suspend"), () => withReason(t("admin.suspend_reason"),
        (note) => act(`/api/admin/certifications/${c.id}/suspend`, { note }, t("admin.suspended"))), "quiet danger")
      : h("div", { class: "row" },
        button(t("admin.reinstate"), () => act(`/api/admin/certifications/${c.id}/reinstate`, { note: "" }, t("admin.reinstated"))),
        c.appeal ? button(t("admin.dismiss_appeal"), () => withReason(t("admin.dismiss_reason"),
          (note) => act(`/api/admin/certifications/${c.id}/dismiss_appeal`, { note }, t("admin.appeal_dismissed"))), "quiet danger") : null))],
  ], [...suspended, ...approved]));
  section("held", table(t("admin.held"), [
    [t("admin.company"), (d) => `#${d.company_id}`],
    [t("field.amount"), (d) => money(d.amount, d.currency, { grouped: true }), { num: true }],
    [t("field.created_at"), (d) => when(d.confirmed_at || d.created_at)],
    [t("col.actions"), (d) => button(t("admin.refund_deposit"), () => withReason(t("admin.refund_reason"),
      (note) => act(`/api/admin/deposits/${d.id}/refund`, { note }, t("admin.refunded"))), "quiet")],
  ], held));
  section("bonds", table(t("admin.bonds"), [
    [t("field.company_name"), (b) => `${b.company_name} (#${b.company_id})`],
    [t("admin.rfq"), (b) => h("a", { href: `/rfqs/${b.rfq_id}` }, `#${b.rfq_id}`)],
    [t("field.amount"), (b) => money(b.amount, b.currency, { grouped: true }), { num: true }],
    [t("admin.since"), (b) => when(b.since)],
    [t("col.actions"), (b) => {
      const target = { company_id: b.company_id, rfq_id: b.rfq_id };
      return h("div", { class: "row" },
        button(t("admin.release_bond"), () => withReason(t("admin.bond_reason"),
          (reason) => act("/api/admin/bonds/release", { ...target, reason }, t("admin.bond_released"))), "quiet"),
        button(t("admin.forfeit_bond"), () => withReason(t("admin.bond_reason"),
          (reason) => act("/api/admin/bonds/forfeit", { ...target, reason }, t("admin.bond_forfeited"))), "quiet danger"));
    }],
  ], bonds));
  await loadMatching();
  section("certifications", table(t("admin.certifications"), [
    [t("field.company_name"), (c) => `${c.company_name} (#${c.company_id})`],
    [t("field.uscc"), (c) => c.uscc],
    [t("field.categories"), (c) => c.categories.join(", ")],
    [t("cert.documents"), (c) => c.documents.map((d) => h("a", { class: "block", href: `/api/files/${d.file_id}` }, t(`doc.${d.kind}`)))],
    [t("cert.submitted"), (c) => when(c.submitted_at)],
    [t("col.actions"), (c) => {
      const level = h("select", { "aria-label": t("admin.level") },
        ...[1, 2, 3].map((n) => h("option", { value: String(n) }, t(`admin.level.${n}`))));
      return h("div", { class: "row" }, level,
      button(t("admin.approve"), () => act(`/api/admin/certifications/${c.id}/approve`, { level: Number(level.value) }, t("admin.approved"))),
      button(t("admin.reject"), () => {
        const note = window.prompt(t("admin.reject_note"));
        if (note) act(`/api/admin/certifications/${c.id}/reject`, { note }, t("admin.rejected"));
      }, "quiet danger"));
    }],
  ], certs));
  section("deposits", table(t("admin.deposits"), [
    [t("admin.company"), (d) => `#${d.company_id}`],
    [t("field.amount"), (d) => money(d.amount, d.currency, { grouped: true }), { num: true }],
    [t("field.created_at"), (d) => when(d.created_at)],
    [t("col.actions"), (d) => button(t("admin.confirm_received"), () => act(`/api/admin/deposits/${d.id}/confirm`, undefined, t("admin.confirmed")))],
  ], deposits));
  section("payments", table(t("admin.payments"), [
    [t("contract.payment_kind"), (p) => t(`payment.${p.kind}`)],
    [t("nav.contracts"), (p) => h("a", { href: `/contracts/${p.contract_id}` }, t("contract.number", { id: p.contract_id }))],
    [t("field.amount"), (p) => money(p.amount, p.currency, { grouped: true }), { num: true }],
    [t("contract.instructions"), (p) => p.reference],
    [t("col.actions"), (p) => button(t("admin.confirm_payment"), () => act(`/api/admin/payments/${p.id}/confirm`, undefined, t("admin.confirmed")))],
  ], payments));
  section("disputes", table(t("admin.disputes"), [
    [t("nav.contracts"), (d) => h("a", { href: `/contracts/${d.contract_id}` }, t("contract.number", { id: d.contract_id }))],
    [t("admin.reason"), (d) => d.reason],
    [t("admin.evidence"), (d) => d.evidence.map((e, i) => h("a", { class: "block", href: `/api/files/${e.file_id}` },
      t("admin.evidence_file", { n: i + 1, company: e.company_id }) + (e.note ? ` · ${e.note}` : "")))],
    [t("field.created_at"), (d) => when(d.opened_at)],
    [t("col.actions"), (d) => h("div", { class: "row" },
      ...["release", "refund", "split"].map((outcome) => button(t(`admin.rule.${outcome}`), () => rule(d, outcome), outcome === "refund" ? "quiet danger" : "quiet")))],
  ], disputes));
}

function ratio(value) {
  return value === null ? "—" : `${value.toFixed(2)} : 1`;
}

async function loadMatching() {
  const days = $("#matching-days").value;
  const report = await api("GET", `/api/admin/matching?days=${days}`);
  const rows = [report.overall, ...report.by_category];
  section("matching", h("div", {},
    h("p", {}, t("admin.matching_target", { target: ratio(report.target) })),
    table(t("admin.matching"), [
      [t("field.categories"), (r) => (r.category === "all" ? t("admin.all_categories") : r.category)],
      [t("admin.purchase_requests"), (r) => r.purchase_requests, { num: true }],
      [t("admin.supply_listings"), (r) => r.supply_listings, { num: true }],
      [t("admin.ratio"), (r) => ratio(r.ratio), { num: true }],
    ], rows),
    table(t("admin.matching_history"), [
      [t("admin.period"), (p) => `${when(p.starts_at)} – ${when(p.ends_at)}`],
      [t("admin.purchase_requests"), (p) => p.purchase_requests, { num: true }],
      [t("admin.supply_listings"), (p) => p.supply_listings, { num: true }],
      [t("admin.ratio"), (p) => ratio(p.ratio), { num: true }],
    ], report.history)));
}

$("#matching-days").addEventListener("change", () => loadMatching().catch((error) => { result.textContent = error.message; }));

async function rule(dispute, outcome) {
  const note = window.prompt(t("admin.rule_note"));
  if (!note) return;
  const body = { outcome, note, key: newKey() };
  if (outcome === "split") {
    const contract = await api("GET", `/api/contracts/${dispute.contract_id}`);
    const text = window.prompt(t("admin.split_amount", { held: money(contract.escrow.held, contract.currency) }));
    if (!text) return;
    try {
      body.supplier_amount = parseMajor(text, contract.currency);
    } catch (error) {
      result.textContent = error.message;
      return;
    }
  }
  await act(`/api/admin/disputes/${dispute.id}/resolve`, body, t("admin.ruled"));
}

load().catch((error) => { result.textContent = error.message; });
