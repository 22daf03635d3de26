// Each role's start page: what needs doing next, with links.
import { me, money, t, when } from "./i18n.js";
import { $, api, h } from "./session.js";
import { table } from "./tables.js";

const root = $("#dashboard");

function card(title, ...body) {
  return h("section", { class: "card" }, h("h2", {}, title), ...body);
}

function link(href, text) {
  return h("a", { href }, text);
}

async function safe(path, fallback) {
  try {
    return await api("GET", path);
  } catch {
    return fallback;
  }
}

function rfqTable(rfqs) {
  return table(t("nav.rfqs"), [
    [t("field.title"), (r) => link(`/rfqs/${r.id}`, r.title)],
    [t("contract.status"), (r) => t(`rfq.status.${r.status}`)],
    [t("field.ends_at"), (r) => when(r.ends_at)],
  ], rfqs.slice(0, 8));
}

function contractTable(contracts) {
  return table(t("nav.contracts"), [
    [t("col.lot"), (c) => link(`/contracts/${c.id}`, c.lot_name)],
    [t("contract.total"), (c) => money(c.total, c.currency, { grouped: true }), { num: true }],
    [t("contract.status"), (c) => t(`contract.status.${c.status}`)],
  ], contracts.slice(0, 8));
}

async function supplier() {
  const [cert, balance, mine, discover, contracts] = await Promise.all([
    safe("/api/certification", null),
    safe("/api/deposits/balance", []),
    safe("/api/rfqs?scope=mine", []),
    safe("/api/rfqs?scope=discover", []),
    safe("/api/contracts", []),
  ]);
  root.replaceChildren(
    card(t("nav.certification"),
      h("p", {}, cert ? t(`cert.status.${cert.status}`) : t("cert.none")),
      cert && cert.badge ? h("p", { class: "tag" }, cert.badge) : null,
      link("/certification", cert ? t("dash.view") : t("cert.apply"))),
    card(t("nav.deposits"),
      balance.length
        ? h("ul", {}, balance.map((b) => h("li", {}, t("deposit.available_line", {
            available: money(b.available, b.currency, { grouped: true }),
            reserved: money(b.reserved, b.currency, { grouped: true }) }))))
        : h("p", {}, t("deposit.none")),
      link("/deposits", t("deposit.post"))),
    card(t("rfqs.mine"), rfqTable(mine)),
    card(t("rfqs.discover"), rfqTable(discover)),
    card(t("nav.contracts"), contractTable(contracts)),
  );
}

async function buyer() {
  const [mine, festivals, contracts] = await Promise.all([
    safe("/api/rfqs?scope=mine", []),
    safe("/api/festivals", []),
    safe("/api/contracts", []),
  ]);
  root.replaceChildren(
    card(t("nav.my_rfqs"), rfqTable(mine), link("/rfqs/new", t("nav.new_rfq"))),
    card(t("nav.festivals"), h("ul", {}, festivals.map((f) => h("li", {}, link(`/festivals/${f.id}`, f.name))))),
    card(t("nav.contracts"), contractTable(contracts)),
  );
}

async function operator() {
  const [certs, deposits, payments, disputes, festivals] = await Promise.all([
    safe("/api/admin/certifications?status=pending", []),
    safe("/api/admin/deposits?status=pending", []),
    safe("/api/admin/payments", []),
    safe("/api/admin/disputes?status=open", []),
    safe("/api/festivals", []),
  ]);
  root.replaceChildren(
    card(t("nav.console"), h("ul", {},
      h("li", {}, link("/admin#certifications", t("admin.certifications_n", { n: certs.length }))),
      h("li", {}, link("/admin#deposits", t("admin.deposits_n", { n: deposits.length }))),
      h("li", {}, link("/admin#payments", t("admin.payments_n", { n: payments.length }))),
      h("li", {}, link("/admin#disputes", t("admin.disputes_n", { n: disputes.length }))))),
    card(t("nav.festivals"), h("ul", {}, festivals.map((f) => h("li", {}, link(`/festivals/${f.id}`, f.name))))),
  );
}

({ supplier, buyer, operator })[me.role]();
