// Practice rooms: open one of any lot format against simulated rivals (it opens in a
// few seconds, on the bidding room's own page), and the latest ones.
import { bindForm } from "./forms.js";
import { t, when } from "./i18n.js";
import { $, api, h } from "./session.js";
import { table } from "./tables.js";

async function load() {
  const rooms = await api("GET", "/api/practice");
  $("#practice-rooms").replaceChildren(table(t("practice.rooms"), [
    [t("field.format"), (r) => h("a", { href: `/auctions/${r.auction_id}` }, t(`rules.format.${r.format}`))],
    [t("room.state"), (r) => t(`state.${r.state}`)],
    [t("field.starts_at"), (r) => when(r.starts_at)],
  ], rooms));
}

bindForm($("#practice-form"), {
  build: (f) => ({ format: f.format.value }),
  send: (body) => api("POST", "/api/practice", body),
  done: (room) => window.location.assign(room.url),
});

load();
