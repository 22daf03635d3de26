// The page's language strings (rendered by the server into #strings), money in major
// units with the currency's decimals, and times. Money stays integer minor units: a
// typed "9.50" becomes 950 by string arithmetic, never through a float.

const strings = JSON.parse(document.getElementById("strings").textContent);
export const me = JSON.parse(document.getElementById("me").textContent);

export function t(key, vars = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

function decimalsOf(currency) {
  return me.decimals[currency] ?? 2;
}

// 950, "CNY" -> "9.50"; grouped: 1234567, "CNY" -> "12,345.67".
export function formatMajor(amount, currency, { grouped = false } = {}) {
  if (amount === null || amount === undefined) return "—";
  const digits = decimalsOf(currency);
  const sign = amount < 0 ? "-" : "";
  const abs = Math.abs(amount);
  const unit = 10 ** digits;
  let whole = String(Math.floor(abs / unit));
  if (grouped) whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fraction = digits ? "." + String(abs % unit).padStart(digits, "0") : "";
  return sign + whole + fraction;
}

export function money(amount, currency, options) {
  return amount === null || amount === undefined
    ? "—"
    : `${formatMajor(amount, currency, options)} ${currency}`;
}

// "9.5" or "9.50", "CNY" -> 950; throws Error(t("money.invalid")) for anything else.
export function parseMajor(text, currency) {
  const digits = decimalsOf(currency);
  const value = String(text).trim().replace(/,/g, "");
  const pattern = digits ? new RegExp(`^(\\d+)(?:\\.(\\d{1,${digits}}))?$`) : /^(\d+)$/;
  const match = pattern.exec(value);
  if (!match) throw new Error(t("money.invalid", { digits }));
  const minor = Number(match[1]) * 10 ** digits + Number((match[2] || "").padEnd(digits, "0") || 0);
  if (!Number.isSafeInteger(minor)) throw new Error(t("money.invalid", { digits }));
  return minor;
}

// Milliseconds left -> "1:02:03" or "02:03".
export function duration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(2, "0");
  const ss = String(s).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function when(value) {
  if (!value) return "—";
  const date = typeof value === "number" ? new Date(value) : new Date(value);
  return date.toLocaleString(document.documentElement.lang, { hour12: false });
}

export function clockTime(ms) {
  return new Date(ms).toLocaleTimeString(document.documentElement.lang, { hour12: false });
}

// The sentence for an error code in this language, else the server's sentence.
export function reason(code, message) {
  const key = `code.${code}`;
  const text = t(key);
  return text === key ? message || code : text;
}
