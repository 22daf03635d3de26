// Forms that post JSON to the API and show each validation problem next to its field
// (the API's `fields: [{path, message}]`), with a summary for the rest.
import { h } from "./session.js";

// The field element a dotted API path points at: an input whose data-path or name
// matches the path, else the closest match on the path's last part.
function fieldFor(form, path) {
  const exact = form.querySelector(`[data-path="${CSS.escape(path)}"], [name="${CSS.escape(path)}"]`);
  if (exact) return exact;
  const last = path.split(".").pop();
  return form.querySelector(`[data-path$=".${CSS.escape(last)}"], [name="${CSS.escape(last)}"]`);
}

export function clearErrors(form) {
  for (const node of form.querySelectorAll(".field-error")) node.remove();
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  const summary = form.querySelector("[data-error]");
  if (summary) summary.hidden = true;
}

export function showErrors(form, error) {
  clearErrors(form);
  let problems = error.fields && error.fields.length ? error.fields : [];
  if (!problems.length && error.field) problems = [{ path: error.field, message: error.message }];
  let placed = 0;
  for (const problem of problems) {
    const input = fieldFor(form, problem.path || "");
    if (!input) continue;
    const id = `${input.id || input.name}-error`;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id);
    input.insertAdjacentElement("afterend", h("p", { class: "field-error error", id }, problem.message));
    placed += 1;
  }
  const summary = form.querySelector("[data-error]");
  if (summary && (placed === 0 || placed < problems.length)) {
    summary.textContent = error.message;
    summary.hidden = false;
  }
  const first = form.querySelector("[aria-invalid]");
  if (first) first.focus();
}

// Submit handler: build(form) -> body (may throw Error with .field for a local check),
// send(body) -> result, done(result).
export function bindForm(form, { build, send, done }) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    try {
      const result = await send(build(form));
      await done(result);
    } catch (error) {
      showErrors(form, error);
    } finally {
      if (button) button.disabled = false;
    }
  });
}

export function localError(field, message) {
  const error = new Error(message);
  error.field = field;
  error.fields = [{ path: field, message }];
  return error;
}
