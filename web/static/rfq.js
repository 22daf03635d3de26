// One RFQ: its lots with links to the bidding room or live monitor; the buyer
// publishes, cancels and invites; a supplier asks to join a public one.
import { bindForm } from "./forms.js";
import { me, money, t, when } from "./i18n.js";
import { $, api, h } from "./session.js";
import { table } from "./tables.js";

const { rfq_id: rfqId } = JSON.parse($("#page").textContent);
const result = $("#rfq-result");

async function act(method, path, body, success) {
  try {
    await api(method, path, body);
    result.textContent = success;
    await load();
  } catch (error) {
    result.textContent = error.message;
  }
}

function button(text, onclick, cls) {
  return h("button", { type: "button", class: cls, onclick }, text);
}

async function participants() {
  const rows = await api("GET", `/api/rfqs/${rfqId}/invitations`).catch(() => []);
  $("#participants").replaceChildren(h("h3", {}, t("rfq.participants")), table(t("rfq.participants"), [
    [t("col.supplier"), (p) => `${p.company_name} (#${p.company_id})`],
    [t("rfq.source"), (p) => t(`rfq.source.${p.source}`)],
    [t("contract.status"), (p) => t(`rfq.participant.${p.status}`)],
    [t("col.actions"), (p) => p.status === "requested"
      ? button(t("rfq.admit"), () => act("POST", `/api/rfqs/${rfqId}/invitations`, { supplier_company_id: p.company_id }, t("rfq.admitted")))
      : ""],
  ], rows));
}

async function load() {
  const rfq = await api("GET", `/api/rfqs/${rfqId}`);
  $("#rfq-title").textContent = rfq.title;
  $("#rfq-meta").textContent = `${t(`rfq.status.${rfq.status}`)} · ${when(rfq.starts_at)} – ${when(rfq.ends_at)} · ${t("field.bid_bond")} ${money(rfq.bid_bond, rfq.currency, { grouped: true })}`;
  $("#rfq-description").textContent = rfq.description;
  const owner = me.role === "operator" || me.company_id === rfq.buyer_company_id;
  $("#rfq-lots").replaceChildren(...rfq.lots.map((lot) => h("tr", {},
    h("th", { scope: "row" }, lot.name, h("small", { class: "muted block" }, lot.specification)),
    h("td", { class: "num" }, `${lot.quantity} ${lot.unit}`),
    h("td", { class: "num" }, money(lot.ceiling_price, lot.currency)),
    h("td", {}, t(`rules.format.${lot.rules.format}`)),
    h("td", {}, when(lot.ends_at)),
    h("td", {}, rfq.status === "draft" ? "" : h("a", { href: `/auctions/${lot.auction_id}` },
      owner ? t("rfq.open_monitor") : t("rfq.open_room"))))));
  const buttons = [];
  if (owner && rfq.status === "draft") {
    buttons.push(button(t("rfq.publish"), () => act("POST", `/api/rfqs/${rfqId}/publish`, undefined, t("rfq.published"))));
  }
  if (owner && ["draft", "published", "live"].includes(rfq.status)) {
    buttons.push(button(t("rfq.cancel"), () => {
      const why = window.prompt(t("rfq.cancel_reason"));
      if (why) act("POST", `/api/rfqs/${rfqId}/cancel`, { reason: why }, t("rfq.cancelled"));
    }, "quiet danger"));
  }
  if (me.role === "supplier" && rfq.audience === "public" && ["published", "live"].includes(rfq.status)) {
    buttons.push(button(t("rfqs.join"), () => act("POST", `/api/rfqs/${rfqId}/join`, undefined, t("rfqs.requested"))));
  }
  $("#rfq-buttons").replaceChildren(...buttons);
  $("#rfq-actions").hidden = !buttons.length && !owner;
  $("#invite-form").hidden = !owner || rfq.status === "draft" || !["published", "live"].includes(rfq.status);
  if (owner && rfq.status !== "draft") participants();
}

bindForm($("#invite-form"), {
  build: (f) => ({ supplier_company_id: Number(f.supplier_company_id.value) }),
  send: (body) => api("POST", `/api/rfqs/${rfqId}/invitations`, body),
  done: async () => { result.textContent = t("rfq.invited"); await participants(); },
});

load().catch((error) => { result.textContent = error.message; $("#rfq-actions").hidden = false; });
