import { bindForm } from "./forms.js";
import { api } from "./session.js";

const form = document.getElementById("register-form");
bindForm(form, {
  build: (f) => ({
    email: f.email.value,
    password: f.password.value,
    company_name: f.company_name.value,
    role: f.role.value,
  }),
  send: (body) => api("POST", "/api/auth/register", body),
  done: (result) =>
    window.location.assign(result.user.role === "supplier" ? "/certification" : "/"),
});
