// The company's webhooks: register one (its signing secret is shown once), remove
// one, read a webhook's delivery log with every attempt.
import { bindForm, localError } from "./forms.js";
import { t, when } from "./i18n.js";
import { $, api, h } from "./session.js";
import { table } from "./tables.js";

async function showLog(hook) {
  const rows = await api("GET", `/api/webhooks/${hook.id}/deliveries`);
  const section = $("#hook-log");
  section.hidden = false;
  section.querySelector("div").replaceChildren(table(t("webhooks.log"), [
    [t("webhooks.event"), (d) => d.event],
    [t("webhooks.status"), (d) => t(`webhooks.status.${d.status}`)],
    [t("webhooks.attempts"), (d) => d.log.map((a) => `${when(a.at)} · ${a.status_code ?? a.error}`).join("; ") || "—"],
    [t("field.created_at"), (d) => when(d.created_at)],
  ], rows));
}

async function load() {
  const hooks = await api("GET", "/api/webhooks");
  $("#hook-list").replaceChildren(table(t("webhooks.title"), [
    [t("webhooks.url"), (w) => w.url],
    [t("webhooks.events"), (w) => w.events.map((e) => t(`webhooks.event.${e}`)).join(", ")],
    [t("field.created_at"), (w) => when(w.created_at)],
    [t("col.actions"), (w) => h("div", { class: "row" },
      h("button", { type: "button", class: "quiet", onclick: () => showLog(w) }, t("webhooks.show_log")),
      h("button", { type: "button", class: "quiet danger", onclick: async () => {
        await api("DELETE", `/api/webhooks/${w.id}`);
        await load();
      } }, t("webhooks.remove")))],
  ], hooks));
}

bindForm($("#hook-form"), {
  build: (f) => {
    const events = [...f.querySelectorAll("input[name=events]:checked")].map((i) => i.value);
    if (!events.length) throw localError("events", t("webhooks.no_events"));
    return { url: f.url.value.trim(), events };
  },
  send: (body) => api("POST", "/api/webhooks", body),
  done: async (made) => {
    $("#hook-secret").textContent = t("webhooks.secret", { secret: made.secret });
    await load();
  },
});

load();
