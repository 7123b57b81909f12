// Login overlay shared by the dashboards: shown over the page when the session is missing
// or expired; a successful POST /api/auth/login sets the cookie and the page carries on
// without a reload (the live feed keeps its state and just reconnects).

import { api } from "./api.js";
import { h } from "./dom.js";
import { t, lang, setLang, onLangChange } from "./i18n.js";

let pending = null;

/** Show the login form (once, however many callers ask); resolves with the user. */
export function requireLogin() {
  if (!pending) {
    pending = showForm().finally(() => {
      pending = null;
    });
  }
  return pending;
}

/** The current user, asking for credentials first when there is no valid session. */
export async function ensureSession() {
  try {
    return await api.me();
  } catch (err) {
    if (err.status === 401 || err.status === 403) return requireLogin();
    throw err;
  }
}

/** Before the live feed reconnects: is the session still valid?  If not, the login form
 * (``onUser`` gets who signed in); a server that cannot be reached is the feed's business. */
export async function checkSession(onUser) {
  try {
    onUser(await api.me());
  } catch (err) {
    if (err.status === 401 || err.status === 403) onUser(await requireLogin());
  }
}

/** A page's sign-out button: the live feed stops, the session ends, the login form
 * shows, and once someone signed in ``onUser(user)`` runs and the feed starts again. */
export function wireSignOut(button, socket, onUser) {
  button.addEventListener("click", async () => {
    socket.stop();
    try {
      await api.logout();
    } catch (err) {
      console.warn("logout:", err);
    }
    onUser(await requireLogin());
    socket.start();
  });
}

/** GET /api/site: asks for a login while there is no session (``onUser`` gets who signed
 * in) and keeps trying every 2 s while the server cannot be reached. */
export async function loadSite(onUser) {
  for (;;) {
    try {
      return await api.site();
    } catch (err) {
      if (err.status === 401 || err.status === 403) {
        onUser(await requireLogin());
      } else {
        console.warn("site:", err);
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
  }
}

function showForm() {
  return new Promise((resolve) => {
    const title = h("h1", { id: "login-title", class: "login-title" });
    const subtitle = h("p", { class: "login-subtitle" });
    const userLabel = h("span");
    const passLabel = h("span");
    const username = h("input", {
      name: "username", autocomplete: "username", required: true, autocapitalize: "off",
      spellcheck: "false",
    });
    const password = h("input", {
      name: "password", type: "password", autocomplete: "current-password", required: true,
    });
    const error = h("p", { class: "login-error", role: "alert", "aria-live": "assertive" });
    const submit = h("button", { type: "submit", class: "btn btn-primary login-submit" });
    // The page's own language switch is behind the overlay, so the form carries one.
    const langButtons = ["zh", "en"].map((code) => h("button", {
      type: "button", class: "seg", lang: code === "zh" ? "zh-CN" : "en",
      onclick: () => setLang(code),
    }, t(`lang.${code}`)));
    const langSwitch = h("div", { class: "lang-switch login-lang", role: "group" }, langButtons);
    const form = h("form", { class: "login-card", "aria-labelledby": "login-title", novalidate: true },
      h("div", { class: "login-top" }, title, langSwitch), subtitle,
      h("label", { class: "field" }, userLabel, username),
      h("label", { class: "field" }, passLabel, password),
      error, submit);
    const overlay = h("div", { class: "login-overlay", role: "dialog", "aria-modal": "true",
      "aria-labelledby": "login-title" }, form);

    let errorKey = "";
    let busy = false;
    const label = () => {
      title.textContent = t("login.title");
      subtitle.textContent = t("login.subtitle");
      userLabel.textContent = t("login.username");
      passLabel.textContent = t("login.password");
      submit.textContent = t(busy ? "login.busy" : "login.submit");
      error.textContent = errorKey ? t(errorKey) : "";
      langSwitch.setAttribute("aria-label", t("lang.switch"));
      langButtons.forEach((b, i) => b.setAttribute("aria-pressed", String(["zh", "en"][i] === lang())));
    };
    const unsubscribe = onLangChange(label);
    label();

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      if (!username.value || !password.value) {
        (username.value ? password : username).focus();
        return;
      }
      busy = true;
      errorKey = "";
      submit.disabled = true;
      label();
      try {
        await api.login(username.value.trim(), password.value);
        let user = { username: username.value.trim() };
        try {
          user = await api.me();
        } catch {
          // the login worked; /me is only for the display name
        }
        unsubscribe();
        overlay.remove();
        document.body.classList.remove("locked");
        resolve(user);
      } catch (err) {
        errorKey = err.status === 401 || err.status === 403 || err.status === 422
          ? "login.failed" : "login.error";
        password.value = "";
        password.focus();
      } finally {
        busy = false;
        submit.disabled = false;
        label();
      }
    });

    document.body.classList.add("locked");
    document.body.append(overlay);
    username.focus();
  });
}
