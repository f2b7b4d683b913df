// web/login.js — the admin sign-in page (/admin/login): trades the admin
// key for a session cookie (POST /admin/login) and goes to /admin.
import { api, errorText } from "/static/common.js";

const form = document.getElementById("login-form");
const key = document.getElementById("key");
const error = document.getElementById("login-error");
const button = document.getElementById("sign-in");

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  error.hidden = true;
  button.disabled = true;
  const r = await api("POST", "/admin/login", { key: key.value });
  button.disabled = false;
  if (r.ok) {
    location.assign("/admin");
    return;
  }
  error.textContent = r.status === 401
    ? "That is not the admin key."
    : errorText(r);
  error.hidden = false;
  key.select();
  key.focus();
});
key.focus();
