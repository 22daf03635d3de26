// The operator console: certification queue with documents, deposits and payments to
// confirm, disputes to rule on.
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
  $(`#${id} div`).replaceChildren(node);
}

async function load() {
  const [certs, deposits, payments, disputes] = await Promise.all([
    api("GET", "/api/admin/certifications?status=pending"),
    api("GET", "/api/admin/deposits?status=pending"),
    api("GET", "/api/admin/payments"),
    api("GET", "/api/admin/disputes?status=open"),
  ]);
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
