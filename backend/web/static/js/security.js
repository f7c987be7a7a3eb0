// The admin's security view: accounts and API tokens (create, shown once, revoke), and the audit.

import { getJSON, postJSON, request } from "./api.js";
import { age, el, setChildren, toast } from "./util.js";

export class SecurityView {
  constructor() {
    this.tokens = document.getElementById("token-rows");
    this.users = document.getElementById("user-rows");
    this.audit = document.getElementById("audit-rows");
    this.secret = document.getElementById("token-secret");
    document.getElementById("token-form").addEventListener("submit", (e) => this.create(e));
  }

  show() {
    this.load();
  }

  hide() {}

  async load() {
    const [tokens, users, audit] = await Promise.all([
      getJSON("/api/security/tokens").catch((e) => ({ error: e.message })),
      getJSON("/api/security/users").catch((e) => ({ error: e.message })),
      getJSON("/api/security/audit?limit=30").catch((e) => ({ error: e.message })),
    ]);
    setChildren(this.tokens, ...(tokens.tokens || []).map((t) => el("tr", {},
      el("td", {}, t.name), el("td", {}, t.role + (t.motion ? " + motion" : "")),
      el("td", {}, t.last_used_at ? `${age(t.last_used_at)} from ${t.last_used_from || "?"}` : "never"),
      el("td", {}, this.revokeButton(t)))));
    if (!(tokens.tokens || []).length) setChildren(this.tokens, el("tr", {}, el("td", { colspan: 4, class: "empty" }, tokens.error || "No tokens.")));
    setChildren(this.users, ...(users.users || []).map((u) => el("tr", {},
      el("td", {}, u.name), el("td", {}, u.role + (u.motion ? " + motion" : "")), el("td", {}, String(u.sessions)))));
    setChildren(this.audit, ...(audit.entries || []).map((a) => el("tr", {},
      el("td", {}, age(a.time)), el("td", {}, a.event), el("td", {}, a.principal || "—"),
      el("td", {}, a.client || "—"), el("td", {}, a.target || ""), el("td", {}, a.result))));
  }

  revokeButton(token) {
    const button = el("button", { class: "btn ghost", type: "button" }, "Revoke");
    button.addEventListener("click", async () => {
      try {
        await request("DELETE", `/api/security/tokens/${encodeURIComponent(token.id)}`);
        toast(`Token ${token.name} revoked`);
      } catch (err) {
        toast(err.message, "error");
      }
      this.load();
    });
    return button;
  }

  async create(event) {
    event.preventDefault();
    const form = event.target;
    const data = Object.fromEntries(new FormData(form).entries());
    data.motion = data.motion === "on";
    try {
      const created = await postJSON("/api/security/tokens", data);
      this.secret.hidden = false;
      setChildren(this.secret, el("strong", {}, `Token ${created.name} (shown once): `),
        el("code", { "data-testid": "token-secret" }, created.token));
      form.reset();
    } catch (err) {
      toast(err.message, "error");
    }
    this.load();
  }
}
