// WebAuthn ceremonies for the two-factor pages. The server sends options as JSON (py_webauthn's
// options_to_json) and verifies the credential's JSON; this module only carries them between
// the server and navigator.credentials. Elements opt in with data-webauthn="register" (a form)
// or data-webauthn="login" (a container with a [data-webauthn-start] button).
(function () {
  "use strict";

  const b64u = {
    enc(buffer) {
      const bytes = new Uint8Array(buffer);
      let text = "";
      for (const byte of bytes) text += String.fromCharCode(byte);
      return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    },
    dec(value) {
      return Uint8Array.from(atob(value.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
    },
  };

  function creationOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    const options = { ...json, challenge: b64u.dec(json.challenge), user: { ...json.user, id: b64u.dec(json.user.id) } };
    options.excludeCredentials = (json.excludeCredentials || []).map((c) => ({ ...c, id: b64u.dec(c.id) }));
    return options;
  }

  function requestOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    const options = { ...json, challenge: b64u.dec(json.challenge) };
    options.allowCredentials = (json.allowCredentials || []).map((c) => ({ ...c, id: b64u.dec(c.id) }));
    return options;
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const response = credential.response;
    const out = {
      id: credential.id,
      rawId: b64u.enc(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: b64u.enc(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      out.response.attestationObject = b64u.enc(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = b64u.enc(response.authenticatorData);
      out.response.signature = b64u.enc(response.signature);
      out.response.userHandle = response.userHandle ? b64u.enc(response.userHandle) : null;
    }
    return out;
  }

  function csrfToken(root) {
    const input = root.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function post(url, root, body, contentType) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": contentType, "X-CSRFToken": csrfToken(root), Accept: "application/json" },
      body,
    });
    if (response.redirected) {
      // Re-authentication or login is needed first: the server sent us to that page.
      window.location.assign(response.url);
      return null;
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      throw new Error("The server sent an unexpected answer. Reload the page and try again.");
    }
    if (!response.ok) throw new Error(data.error || "Something went wrong. Reload the page and try again.");
    return data;
  }

  function showError(root, message) {
    const box = root.querySelector("[data-webauthn-error]");
    box.textContent = message;
    box.hidden = false;
  }

  // What the browser's refusal means for the person at the key, by DOMException name: the raw
  // browser text ("This is an invalid domain.") never tells them what to do.
  const BROWSER_ERRORS = {
    NotAllowedError: "The request was cancelled or timed out. Try again when you are ready to use your key.",
    SecurityError: "Your browser refused security keys and passkeys for this address. Open the site by its " +
      "host name (for example http://localhost:8000, not an IP address) over HTTPS or on localhost, then try again.",
    InvalidStateError: "This key is already registered on your account. Use a different key.",
    NotSupportedError: "This key or browser does not support what this site asks for. Try another key, a " +
      "passkey, or an authenticator app.",
    AbortError: "The request was interrupted. Try again.",
  };

  function browserError(error) {
    return BROWSER_ERRORS[error && error.name] ||
      "Your browser could not talk to the key. Reload the page and try again, or use another method.";
  }

  function supported(root) {
    if (window.PublicKeyCredential && navigator.credentials) return true;
    showError(root, "This browser does not support security keys or passkeys. Try a current browser, or another method.");
    return false;
  }

  async function register(form) {
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const params = new URLSearchParams({ kind: form.dataset.kind });
      const options = await post(form.dataset.optionsUrl, form, params.toString(), "application/x-www-form-urlencoded");
      if (!options) return;
      const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
      const label = form.querySelector("input[name=label]").value;
      const result = await post(form.dataset.verifyUrl, form,
        JSON.stringify({ label, credential: credentialJSON(credential) }), "application/json");
      if (result) window.location.assign(result.redirect);
    } catch (error) {
      showError(form, browserError(error));
      button.disabled = false;
    }
  }

  async function authenticate(root, button) {
    button.disabled = true;
    try {
      const options = await post(root.dataset.optionsUrl, root, "", "application/x-www-form-urlencoded");
      if (!options) return;
      const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
      const result = await post(root.dataset.verifyUrl, root, JSON.stringify(credentialJSON(credential)), "application/json");
      if (result) window.location.assign(result.redirect);
    } catch (error) {
      showError(root, browserError(error));
      button.disabled = false;
    }
  }

  document.querySelectorAll("form[data-webauthn=register]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!form.reportValidity() || !supported(form)) return;
      register(form);
    });
  });
  document.querySelectorAll("[data-webauthn=login]").forEach((root) => {
    const button = root.querySelector("[data-webauthn-start]");
    button.addEventListener("click", () => {
      if (supported(root)) authenticate(root, button);
    });
  });
})();
