// One RFQ: its lots with links to the bidding room or live monitor; the buyer
// publishes, cancels and invites; a supplier asks to join a public one. Documents: the
// buyer attaches drawings and specifications and sees who read them; a supplier taking
// part downloads them and attaches its quotation documents. Clarifications: suppliers
// ask, the buyer answers once for everyone.
import { bindForm, localError } from "./forms.js";
import { me, money, t, when } from "./i18n.js";
import { $, api, h, upload } from "./session.js";
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

let lotNames = new Map();

async function documents(owner) {
  let docs;
  try {
    docs = await api("GET", `/api/rfqs/${rfqId}/documents`);
  } catch {
    return; /* not taking part: no documents to show */
  }
  $("#documents").hidden = false;
  $("#doc-list").replaceChildren(table(t("docs.title"), [
    [t("docs.doc_title"), (d) => h("a", { href: `/api/rfqs/${rfqId}/documents/${d.id}/file` }, d.title)],
    [t("docs.kind"), (d) => t(`docs.kind.${d.kind}`)],
    [t("docs.lot"), (d) => (d.lot_id ? lotNames.get(d.lot_id) || `#${d.lot_id}` : t("docs.whole_rfq"))],
    owner
      ? [t("docs.read_by"), (d) => h("button", { type: "button", class: "quiet", onclick: () => readers(d) }, t("docs.read_by_n", { n: d.read_by }))]
      : [t("docs.read"), (d) => (d.read ? t("docs.read_yes") : "—")],
  ], docs));
  const quotes = await api("GET", `/api/rfqs/${rfqId}/quotations`);
  $("#quote-list").replaceChildren(table(t("docs.quotations"), [
    [t("col.supplier"), (q) => q.company_name],
    [t("docs.doc_title"), (q) => h("a", { href: `/api/rfqs/${rfqId}/quotations/${q.id}/file` }, q.title)],
    [t("field.created_at"), (q) => when(q.created_at)],
  ], quotes));
  $("#doc-form").hidden = !owner;
  $("#quote-form").hidden = owner || me.role !== "supplier";
}

async function readers(doc) {
  const rows = await api("GET", `/api/rfqs/${rfqId}/documents/${doc.id}/downloads`);
  $("#doc-readers").replaceChildren(h("h3", {}, t("docs.readers_of", { title: doc.title })), table(t("docs.readers"), [
    [t("col.supplier"), (r) => r.company_name],
    [t("docs.reader"), (r) => r.user_email],
    [t("docs.read_at"), (r) => when(r.at)],
  ], rows));
}

function attach(f, fileInput) {
  const file = fileInput.files[0];
  if (!file) throw localError("file_id", t("docs.need_file"));
  if (!f.title.value.trim()) throw localError("title", t("docs.need_title"));
  return { file, title: f.title.value.trim() };
}

bindForm($("#doc-form"), {
  build: (f) => ({ ...attach(f, f.file), kind: f.kind.value, lot_id: f.lot_id.value ? Number(f.lot_id.value) : null }),
  send: async (d) => api("POST", `/api/rfqs/${rfqId}/documents`, { file_id: (await upload(d.file)).file_id, title: d.title, kind: d.kind, lot_id: d.lot_id }),
  done: () => documents(true),
});

bindForm($("#quote-form"), {
  build: (f) => attach(f, f.file),
  send: async (d) => api("POST", `/api/rfqs/${rfqId}/quotations`, { file_id: (await upload(d.file)).file_id, title: d.title }),
  done: () => documents(false),
});

// Clarifications: a supplier taking part asks; the buyer answers once, for everyone;
// nobody is shown who asked.
async function clarifications(owner, rfq) {
  let rows;
  try {
    rows = await api("GET", `/api/rfqs/${rfqId}/questions`);
  } catch {
    return; /* not taking part */
  }
  $("#clarifications").hidden = false;
  $("#qa-deadline").textContent = t("qa.deadline", { at: when(rfq.questions_until || lastEnd(rfq)) });
  $("#qa-list").replaceChildren(table(t("qa.title"), [
    [t("qa.question"), (q) => [q.question, q.mine ? h("span", { class: "tag" }, t("qa.mine")) : null]],
    [t("qa.lot"), (q) => (q.lot_id ? lotNames.get(q.lot_id) || `#${q.lot_id}` : t("docs.whole_rfq"))],
    [t("qa.answer"), (q) => (q.answer !== null ? q.answer : owner ? answerForm(q) : t("qa.waiting"))],
  ], rows));
  const open = ["published", "live"].includes(rfq.status);
  $("#qa-form").hidden = owner || me.role !== "supplier" || !open;
}

function lastEnd(rfq) {
  return rfq.lots.reduce((end, lot) => (lot.ends_at > end ? lot.ends_at : end), rfq.ends_at);
}

function answerForm(q) {
  const id = `qa-answer-${q.id}`;
  const form = h("form", { novalidate: true },
    h("label", { for: id }, t("qa.your_answer")),
    h("textarea", { id, name: "answer", "data-path": "answer", rows: 2, maxlength: 4000 }),
    h("p", { class: "error", role: "alert", "data-error": true, hidden: true }),
    h("button", { type: "submit" }, t("qa.answer_all")));
  bindForm(form, {
    build: (f) => {
      if (!f.answer.value.trim()) throw localError("answer", t("qa.need_answer"));
      return { answer: f.answer.value.trim() };
    },
    send: (body) => api("POST", `/api/rfqs/${rfqId}/questions/${q.id}/answer`, body),
    done: () => load(),
  });
  return form;
}

bindForm($("#qa-form"), {
  build: (f) => {
    if (!f.question.value.trim()) throw localError("question", t("qa.need_question"));
    return { question: f.question.value.trim(), lot_id: f.lot_id.value ? Number(f.lot_id.value) : null };
  },
  send: (body) => api("POST", `/api/rfqs/${rfqId}/questions`, body),
  done: () => { $("#qa-form").question.value = ""; return load(); },
});

async function load() {
  const rfq = await api("GET", `/api/rfqs/${rfqId}`);
  lotNames = new Map(rfq.lots.map((lot) => [lot.id, lot.name]));
  for (const select of [$("#doc-lot"), $("#qa-lot")]) {
    if (select.options.length === 1) {
      select.append(...rfq.lots.map((lot) => h("option", { value: String(lot.id) }, lot.name)));
    }
  }
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
  await documents(owner);
  await clarifications(owner, rfq);
}

bindForm($("#invite-form"), {
  build: (f) => ({ supplier_company_id: Number(f.supplier_company_id.value) }),
  send: (body) => api("POST", `/api/rfqs/${rfqId}/invitations`, body),
  done: async () => { result.textContent = t("rfq.invited"); await participants(); },
});

load().catch((error) => { result.textContent = error.message; $("#rfq-actions").hidden = false; });
