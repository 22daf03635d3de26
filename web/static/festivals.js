// The festival list, and the operators' form to create one.
import { bindForm } from "./forms.js";
import { t, when } from "./i18n.js";
import { $, api, h } from "./session.js";
import { table } from "./tables.js";

async function list() {
  const festivals = await api("GET", "/api/festivals");
  $("#festival-list").replaceChildren(table(t("nav.festivals"), [
    [t("field.name"), (f) => h("a", { href: `/festivals/${f.id}` }, f.name)],
    [t("field.theme"), (f) => f.theme],
    [t("field.starts_at"), (f) => when(f.starts_at)],
    [t("field.ends_at"), (f) => when(f.ends_at)],
  ], festivals));
}

function words(text) {
  return text.split(",").map((w) => w.trim()).filter(Boolean);
}

const form = $("#festival-form");
if (form) {
  bindForm(form, {
    build: (f) => ({
      name: f.name.value,
      theme: f.theme.value,
      starts_at: f.starts_at.value ? new Date(f.starts_at.value).toISOString() : "",
      ends_at: f.ends_at.value ? new Date(f.ends_at.value).toISOString() : "",
      categories: words(f.categories.value),
      organisers: words(f.organisers.value).map(Number),
    }),
    send: (body) => api("POST", "/api/festivals", body),
    done: (festival) => window.location.assign(`/festivals/${festival.id}`),
  });
}
list();
