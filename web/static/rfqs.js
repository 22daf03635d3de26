// The RFQ lists: the caller's own (buyers: theirs; suppliers: those they take part
// in) and, for suppliers, public RFQs open in their categories with a join button.
import { me, t, when } from "./i18n.js";
import { $, api, h } from "./session.js";
import { table } from "./tables.js";

function lotLinks(r) {
  return r.lots.map((lot) => h("a", { href: `/auctions/${lot.auction_id}`, class: "block" }, lot.name));
}

async function join(r, button) {
  try {
    await api("POST", `/api/rfqs/${r.id}/join`);
    button.replaceWith(t("rfqs.requested"));
  } catch (error) {
    button.replaceWith(error.message);
  }
}

async function show(scope, node, joinable) {
  const rfqs = await api("GET", `/api/rfqs?scope=${scope}`);
  const columns = [
    [t("field.title"), (r) => h("a", { href: `/rfqs/${r.id}` }, r.title)],
    [t("contract.status"), (r) => t(`rfq.status.${r.status}`)],
    [t("field.starts_at"), (r) => when(r.starts_at)],
    [t("field.ends_at"), (r) => when(r.ends_at)],
    [t("rfq.lots"), lotLinks],
  ];
  if (joinable) {
    columns.push([t("col.actions"), (r) => {
      const button = h("button", { type: "button", class: "quiet" }, t("rfqs.join"));
      button.addEventListener("click", () => join(r, button));
      return button;
    }]);
  }
  node.replaceChildren(table(t("nav.rfqs"), columns, rfqs));
}

show("mine", $("#rfqs-mine"), false);
if (me.role === "supplier") show("discover", $("#rfqs-discover"), true);
