import { api } from "./session.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  try {
    await api("POST", "/api/auth/login", {
      email: form.email.value,
      password: form.password.value,
    });
    const next = new URLSearchParams(window.location.search).get("next");
    window.location.assign(next && next.startsWith("/") && !next.startsWith("//") ? next : "/");
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  }
});
