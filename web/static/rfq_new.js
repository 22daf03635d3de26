// The RFQ builder: RFQ fields, any number of lots with their auction rules, local
// checks of money and numbers, and the API's validation messages next to each field.
import { bindForm, localError } from "./forms.js";
import { parseMajor, t } from "./i18n.js";
import { $, api, h } from "./session.js";

const form = $("#rfq-form");
const lots = $("#lots");
let serial = 0;

function addLot() {
  const node = $("#lot-template").content.firstElementChild.cloneNode(true);
  const n = serial++;
  for (const input of node.querySelectorAll("[data-field]")) {
    input.id = `lot${n}-${input.dataset.field.replaceAll(".", "-")}`;
    const label = node.querySelector(`label[data-for="${input.dataset.field}"]`);
    if (label) label.htmlFor = input.id;
  }
  node.querySelector("[data-remove]").addEventListener("click", () => {
    if (lots.children.length > 1) node.remove();
    numberLots();
  });
  lots.append(node);
  numberLots();
}

// data-path follows the lot's position, as the API reports errors (lots.0.name).
function numberLots() {
  [...lots.children].forEach((lot, i) => {
    lot.querySelector("legend").textContent = t("builder.lot_n", { n: i + 1 });
    for (const input of lot.querySelectorAll("[data-field]")) {
      input.dataset.path = `lots.${i}.${input.dataset.field}`;
    }
  });
}

function iso(input) {
  if (!input.value) throw localError(input.dataset.path, t("builder.need_time"));
  return new Date(input.value).toISOString();
}

function integer(input, { optional = false } = {}) {
  const text = input.value.trim();
  if (!text && optional) return null;
  if (!/^\d+$/.test(text)) throw localError(input.dataset.path, t("builder.need_integer"));
  return Number(text);
}

function amount(input, currency, { optional = false } = {}) {
  const text = input.value.trim();
  if (!text && optional) return null;
  try {
    return parseMajor(text, currency);
  } catch (error) {
    throw localError(input.dataset.path, error.message);
  }
}

function build(f) {
  const currency = f.currency.value;
  const field = (lot, name) => lot.querySelector(`[data-field="${name}"]`);
  const body = {
    title: f.title.value,
    category: f.category.value,
    currency,
    festival_id: f.festival_id.value ? Number(f.festival_id.value) : null,
    bid_bond: amount(f.bid_bond, currency),
    starts_at: iso(f.starts_at),
    ends_at: iso(f.ends_at),
    audience: f.audience.value,
    description: f.description.value,
    delivery_terms: f.delivery_terms.value,
    lead_time_days: Number(f.lead_time_days.value.trim() || "30"),
    questions_until: f.questions_until.value ? iso(f.questions_until) : null,
    lots: [...lots.children].map((lot) => {
      const dec = field(lot, "rules.decrement");
      const byBps = field(lot, "rules.decrement_kind").value === "bps";
      return {
        name: field(lot, "name").value,
        specification: field(lot, "specification").value,
        quantity: integer(field(lot, "quantity")),
        unit: field(lot, "unit").value,
        ceiling_price: amount(field(lot, "ceiling_price"), currency),
        reserve_price: amount(field(lot, "reserve_price"), currency, { optional: true }),
        rules: {
          format: field(lot, "rules.format").value,
          visibility: field(lot, "rules.visibility").value,
          decrement: byBps ? { bps: integer(dec) } : { amount: amount(dec, currency) },
          decrement_from: field(lot, "rules.decrement_from").value,
          ties: field(lot, "rules.ties").value,
          soft_close: {
            window_s: integer(field(lot, "rules.soft_close.window_s")),
            extend_s: integer(field(lot, "rules.soft_close.extend_s")),
            trigger: field(lot, "rules.soft_close.trigger").value,
            max_extensions: integer(field(lot, "rules.soft_close.max_extensions"), { optional: true }),
          },
          ...(field(lot, "rules.pre_bids").value === "yes" ? { pre_bids: true } : {}),
        },
      };
    }),
  };
  for (const lot of body.lots) if (lot.rules.format === "sealed") delete lot.rules.soft_close;
  return body;
}

let publish = false;
form.addEventListener("click", (event) => {
  if (event.target.name === "action") publish = event.target.value === "publish";
});

bindForm(form, {
  build,
  send: async (body) => {
    const rfq = await api("POST", "/api/rfqs", body);
    if (publish) await api("POST", `/api/rfqs/${rfq.id}/publish`).catch(() => null);
    return rfq;
  },
  done: (rfq) => window.location.assign(`/rfqs/${rfq.id}`),
});

$("#add-lot").addEventListener("click", addLot);
addLot();

const lang = document.documentElement.lang.startsWith("zh") ? "zh" : "en";
api("GET", "/api/categories").then((tree) => {
  const select = $("#category");
  for (const top of tree) {
    const group = h("optgroup", { label: top[`name_${lang}`] });
    group.append(h("option", { value: top.code }, top[`name_${lang}`]));
    for (const child of top.children || []) group.append(h("option", { value: child.code }, child[`name_${lang}`]));
    select.append(group);
  }
});
api("GET", "/api/festivals").then((festivals) => {
  for (const f of festivals) $("#festival_id").append(h("option", { value: f.id }, f.name));
});
const start = new Date(Date.now() + 3600_000);
start.setSeconds(0, 0);
const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
form.starts_at.value = local(start);
form.ends_at.value = local(new Date(start.getTime() + 30 * 60_000));
