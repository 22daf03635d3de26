// Shared by every page: JSON calls with the CSRF header, uploads, the log-out button,
// small DOM helpers and the notifications menu.
import { me, reason, t, when } from "./i18n.js";

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export class ApiError extends Error {
  constructor(status, data) {
    const error = data.error || {};
    super(reason(error.code || "http_error", error.message || `HTTP ${status}`));
    this.status = status;
    this.code = error.code || "http_error";
    this.field = error.field;
    this.fields = error.fields || [];
    this.data = error;
  }
}

export async function api(method, path, body) {
  const headers = { "X-CSRF-Token": csrfToken() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { error: { code: "unavailable", message: t("code.unavailable") } });
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export async function upload(file) {
  const form = new FormData();
  form.append("file", file);
  const response = await fetch("/api/files", {
    method: "POST",
    headers: { "X-CSRF-Token": csrfToken() },
    credentials: "same-origin",
    body: form,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// h("td", {class: "num"}, "9.50") -> an element; text children are never parsed as HTML.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
}

const logout = document.getElementById("logout");
if (logout) {
  logout.addEventListener("click", async () => {
    await api("POST", "/api/auth/logout").catch(() => {});
    window.location.assign("/login");
  });
}

// The notifications menu: unread ones from the API, new ones pushed over /ws by pages
// that hold a connection (they call showNotification).
const bellList = document.getElementById("bell-list");
const bellCount = document.getElementById("bell-count");
const unread = new Map();

function renderBell() {
  bellCount.textContent = unread.size ? String(unread.size) : "";
  bellList.replaceChildren(
    ...(unread.size
      ? [...unread.values()].map((n) =>
          h(
            "li",
            {},
            h("strong", {}, n.title),
            h("span", {}, n.body),
            h("small", {}, when(n.created_at)),
            h("button", { type: "button", class: "quiet", onclick: () => markRead(n.id) }, t("bell.read")),
          ),
        )
      : [h("li", { class: "muted" }, t("bell.empty"))]),
  );
}

async function markRead(id) {
  await api("POST", `/api/notifications/${id}/read`).catch(() => {});
  unread.delete(id);
  renderBell();
}

export function showNotification(n) {
  if (!bellList || n.read_at) return;
  unread.set(n.id, n);
  renderBell();
}

if (bellList && me.role) {
  api("GET", "/api/notifications?unread=1")
    .then((items) => {
      for (const n of items.slice(0, 50).reverse()) showNotification(n);
      renderBell();
    })
    .catch(() => {});
}
