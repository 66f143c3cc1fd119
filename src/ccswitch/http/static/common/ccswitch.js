// What the ccswitch pages (agent desktop, wallboard, report page) share: plain JavaScript, no
// build step, loaded before each page's own script (http/pages.py). It defines one global,
// `ccswitch`; the pages keep their own state and drawing.
"use strict";

const ccswitch = (() => {
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);

  // One request to the REST API with the bearer token: the answer's JSON (its text when
  // `raw`); a refusal throws an Error with the answer's `detail` (else the status text) and
  // its `status`; a switch that cannot be reached throws fetch's error (no `status`).
  async function api(token, method, path, body, raw) {
    const opts = { method, headers: { Authorization: `Bearer ${token}` } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const resp = await fetch(API + path, opts);
    if (resp.ok && raw) return resp.text();
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const err = new Error(typeof data.detail === "string" ? data.detail : resp.statusText);
      err.status = resp.status;
      throw err;
    }
    return data;
  }

  // The page's one line of news (#message), red when `isError`.
  function say(text, isError) {
    const m = $("message");
    m.textContent = text;
    m.classList.toggle("error", Boolean(isError));
  }

  // Signing in with an API token: the form of common/signin.html (#signin, #signin-form,
  // #token, #signin-error) and the #signout button.  `holder.token` is the token in use (null
  // when signed out); it is kept in `storage` under `key` while it works.
  //   open(): reads what the page needs first (holder.token is set); throws, with `status`,
  //     when the token will not do;
  //   shown: the ids of the elements shown once signed in (the form is hidden);
  //   opened(): the rest of the page's start, once signed in;
  //   signedOut(): the page's part of signing out, after the token is forgotten;
  //   retryAway: when the switch cannot be reached (no answer, 5xx), keep the token and try
  //     again every 5 s;
  //   hash: "keep" or "clear": "#token=..." in the address signs in ("clear": and the hash
  //     is taken off the address); absent: only the form and `storage` do.
  // start() wires the form and the button and signs in with the token found, if any.
  function signin({ holder, storage, key, open, shown, opened, signedOut, retryAway, hash }) {
    async function signIn(token) {
      holder.token = token;
      try {
        await open();
      } catch (e) {
        if (retryAway && (e.status === undefined || e.status >= 500)) {
          $("signin-error").textContent = `cannot reach the switch (${e.message}): trying again`;
          setTimeout(() => signIn(token), 5000);
          return;
        }
        holder.token = null;
        storage.removeItem(key);
        $("signin-error").textContent = e.status === 401 ? "unknown token" : e.message;
        return;
      }
      $("signin-error").textContent = "";
      storage.setItem(key, token);
      $("signin").hidden = true;
      for (const id of shown) $(id).hidden = false;
      await opened();
    }

    function signOut() {
      storage.removeItem(key);
      holder.token = null;
      signedOut();
    }

    function start() {
      $("signin-form").addEventListener("submit", (e) => {
        e.preventDefault();
        $("signin-error").textContent = "";
        signIn($("token").value.trim());
      });
      $("signout").addEventListener("click", signOut);
      const given = hash ? new URLSearchParams(location.hash.slice(1)).get("token") : null;
      if (given && hash === "clear") history.replaceState(null, "", location.pathname);
      const saved = given || storage.getItem(key);
      if (saved) signIn(saved);
    }

    return { signIn, signOut, start };
  }

  return { API, $, api, say, signin };
})();
