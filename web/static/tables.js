// Plain tables built from rows of data, with an empty-state line.
import { h } from "./session.js";
import { t } from "./i18n.js";

// columns: [[heading, (row) -> cell content, {num: true}?]]
export function table(label, columns, rows) {
  if (!rows.length) return h("p", { class: "muted" }, t("list.empty"));
  return h("table", { "aria-label": label },
    h("thead", {}, h("tr", {}, columns.map(([head, , opts = {}]) =>
      h("th", { scope: "col", class: opts.num ? "num" : null }, head)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell, opts = {}]) =>
      h("td", { class: opts.num ? "num" : null }, cell(row)))))));
}
