// Signing in: the status check before anything else, the login and first-run setup forms,
// the banner when authentication is off on the network, who is signed in, log out.

import { getJSON, postJSON } from "./api.js";
import { el, setChildren, toast } from "./util.js";

/** The server's auth status; null when it does not answer. */
export async function authStatus() {
  try {
    return await getJSON("/api/auth/status", 5000);
  } catch {
    return null;
  }
}

/** Show the permanent banner when auth is off on a non-loopback address. */
export function showBanner(status) {
  const banner = document.getElementById("auth-banner");
  banner.hidden = !status.warning;
  banner.textContent = status.warning ? `Security: ${status.warning}.` : "";
}

/** Render the login (or first-run setup) form in place of the dashboard. */
export function showLogin(status) {
  document.body.dataset.auth = "login";
  const setup = status.setup_required;
  const box = document.getElementById("login");
  const error = el("p", { class: "login-error", role: "alert", "data-testid": "login-error" });
  const fields = [];
  if (setup) {
    fields.push(field("Setup code (printed in the server's log)", "code", "text", "one-time-code"));
  }
  fields.push(field(setup ? "Owner's name" : "Name", "name", "text", "username"));
  fields.push(field("Password", "password", "password", setup ? "new-password" : "current-password"));
  const submit = el("button", { class: "btn primary", type: "submit" }, setup ? "Create the owner" : "Log in");
  const form = el("form", { class: "login-form", id: "login-form" },
    el("h1", {}, setup ? "Welcome to CoachIQ" : "Log in to CoachIQ"),
    setup ? el("p", { class: "muted" }, "No account exists yet. Enter the setup code from the server's log and choose the owner's name and password.") : "",
    ...fields, error, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    submit.disabled = true;
    try {
      await postJSON(setup ? "/api/auth/setup" : "/api/auth/login", data);
      location.reload();
    } catch (err) {
      error.textContent = err.message;
      submit.disabled = false;
    }
  });
  setChildren(box, form);
  box.hidden = false;
}

function field(label, name, type, autocomplete) {
  return el("label", { class: "field" }, el("span", {}, label),
    el("input", { name, type, autocomplete, required: "" }));
}

/** Who is signed in, and the log-out buttons, in the top bar. */
export function showUser(status) {
  const who = document.getElementById("whoami");
  const principal = status.principal;
  if (!status.active || !principal) return;
  who.hidden = false;
  const out = el("button", { class: "btn ghost", type: "button", id: "logout" }, "Log out");
  out.addEventListener("click", async () => {
    await postJSON("/api/auth/logout", {}).catch(() => null);
    location.reload();
  });
  const everywhere = el("button", { class: "btn ghost", type: "button", id: "logout-all",
    title: "End every session of this account (all phones and browsers)" }, "Everywhere");
  everywhere.addEventListener("click", async () => {
    try {
      const result = await postJSON("/api/auth/logout-all", {});
      toast(`${result.sessions_ended} sessions ended`);
      location.reload();
    } catch (err) {
      toast(err.message, "error");
    }
  });
  setChildren(who, el("span", { class: "who", "data-testid": "whoami" },
    `${principal.name} (${principal.role}${principal.motion ? ", motion" : ""})`), out,
    principal.kind === "user" ? everywhere : "");
}

/** Reload (to the login form) when the session ends while the page is open. */
export function watchSession(status) {
  if (!status.active) return;
  window.addEventListener("coachiq-unauthorized", () => location.reload(), { once: true });
}
