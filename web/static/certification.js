// The supplier's certification: its status, or the application form with uploads.
import { bindForm, localError } from "./forms.js";
import { t, when } from "./i18n.js";
import { $, api, h, upload } from "./session.js";

const form = $("#cert-form");

function words(text) {
  return text.split(",").map((w) => w.trim()).filter(Boolean);
}

async function load() {
  let cert = null;
  try {
    cert = await api("GET", "/api/certification");
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  const status = $("#cert-status");
  if (!cert) {
    status.replaceChildren(h("p", {}, t("cert.none")));
  } else {
    status.replaceChildren(
      h("h2", {}, t(`cert.status.${cert.status}`)),
      cert.badge ? h("p", { class: "tag" }, cert.badge) : null,
      h("p", {}, `${cert.company_name} · ${cert.uscc} · ${cert.categories.join(", ")}`),
      h("p", { class: "muted" }, `${t("cert.submitted")} ${when(cert.submitted_at)}`),
      cert.note ? h("p", {}, cert.note) : null,
      cert.appeal ? h("p", { class: "muted" }, `${t("cert.appeal_pending")} ${cert.appeal}`) : null,
      h("ul", {}, cert.documents.map((d) => h("li", {}, h("a", { href: `/api/files/${d.file_id}` }, t(`doc.${d.kind}`))))),
    );
  }
  form.hidden = Boolean(cert && ["pending", "approved", "suspended"].includes(cert.status));
  $("#appeal-form").hidden = !(cert && cert.status === "suspended" && !cert.appeal);
}

bindForm($("#appeal-form"), {
  build: (f) => {
    if (!f.statement.value.trim()) throw localError("statement", t("cert.appeal_empty"));
    return { statement: f.statement.value };
  },
  send: (body) => api("POST", "/api/certification/appeal", body),
  done: load,
});

bindForm(form, {
  build: (f) => {
    if (!f.licence.files[0]) throw localError("documents", t("cert.need_licence"));
    return f;
  },
  send: async (f) => {
    const documents = [{ kind: "business_licence", file_id: (await upload(f.licence.files[0])).file_id }];
    if (f.trademark.files[0]) {
      documents.push({ kind: "trademark_registration", file_id: (await upload(f.trademark.files[0])).file_id });
    }
    if (f.authorisation.files[0]) {
      documents.push({ kind: "brand_authorisation", file_id: (await upload(f.authorisation.files[0])).file_id });
    }
    return api("POST", "/api/certification", {
      uscc: f.uscc.value.trim().toUpperCase(),
      company_name: f.company_name.value,
      categories: [...f.categories.selectedOptions].map((o) => o.value),
      keywords: words(f.keywords.value),
      brands: words(f.brands.value),
      documents,
    });
  },
  done: load,
});

const lang = document.documentElement.lang.startsWith("zh") ? "zh" : "en";
api("GET", "/api/categories").then((tree) => {
  for (const top of tree) {
    $("#categories").append(h("option", { value: top.code }, top[`name_${lang}`]));
    for (const child of top.children || []) {
      $("#categories").append(h("option", { value: child.code }, `— ${child[`name_${lang}`]}`));
    }
  }
});
load();
