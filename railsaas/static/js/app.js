// Small behaviours the pages need; no inline script anywhere (the CSP forbids it).
"use strict";

document.documentElement.classList.add("js");

// --- One confirm dialog --------------------------------------------------------------------
// `data-confirm="question"` on a form (or its submit button, or an htmx element) asks in an
// accessible <dialog> before going on. It is the only confirmation mechanism: no hx-confirm,
// no window.confirm (tests/browser/test_ux.py checks the templates). Without JavaScript a plain
// form simply submits: the server still checks everything, and deletes need a typed name.

let confirmDialog = null;

function buildConfirmDialog() {
  const dialog = document.createElement("dialog");
  dialog.className = "confirm-dialog";
  dialog.setAttribute("aria-labelledby", "confirm-dialog-title");
  dialog.setAttribute("aria-describedby", "confirm-dialog-message");
  dialog.dataset.testid = "confirm-dialog";
  const article = document.createElement("article");
  const title = document.createElement("h2");
  title.id = "confirm-dialog-title";
  title.textContent = "Are you sure?";
  const message = document.createElement("p");
  message.id = "confirm-dialog-message";
  const footer = document.createElement("footer");
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "secondary";
  cancel.value = "cancel";
  cancel.textContent = "Cancel";
  cancel.dataset.testid = "confirm-cancel";
  const ok = document.createElement("button");
  ok.type = "button";
  ok.value = "ok";
  ok.textContent = "Confirm";
  ok.dataset.testid = "confirm-ok";
  cancel.addEventListener("click", () => dialog.close("cancel"));
  ok.addEventListener("click", () => dialog.close("ok"));
  footer.append(cancel, ok);
  article.append(title, message, footer);
  dialog.append(article);
  document.body.append(dialog);
  return dialog;
}

// Ask `question`; call `onConfirm` only if the person confirms. Escape or Cancel says no.
function askToConfirm(question, onConfirm) {
  if (!confirmDialog || !confirmDialog.isConnected) confirmDialog = buildConfirmDialog();
  const dialog = confirmDialog;
  const opener = document.activeElement;
  dialog.querySelector("#confirm-dialog-message").textContent = question;
  dialog.returnValue = "cancel";
  dialog.addEventListener(
    "close",
    () => {
      if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
      if (dialog.returnValue === "ok") onConfirm();
    },
    { once: true },
  );
  dialog.showModal();
  dialog.querySelector("[data-testid=confirm-cancel]").focus();
}

// Plain forms. An htmx form's submit was already taken over (default prevented) by htmx,
// whose own confirm step (below) asks instead.
document.addEventListener("submit", (event) => {
  if (event.defaultPrevented) return;
  const form = event.target;
  const submitter = event.submitter || null;
  const question =
    (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
  if (!question || form.dataset.confirmed === "1") return;
  event.preventDefault();
  askToConfirm(question, () => {
    form.dataset.confirmed = "1";
    try {
      form.requestSubmit(submitter);
    } finally {
      delete form.dataset.confirmed;
    }
  });
});

// htmx requests: htmx fires htmx:confirm before every request; hold it until confirmed.
document.addEventListener("htmx:confirm", (event) => {
  const elt = event.detail.elt;
  const question = elt && elt.getAttribute && elt.getAttribute("data-confirm");
  if (!question) return;
  event.preventDefault();
  askToConfirm(question, () => event.detail.issueRequest(true));
});

// --- Errors: nothing fails silently ---------------------------------------------------------
// htmx 2 swaps nothing for a 4xx/5xx answer. The server answers a failed htmx request with a
// short fragment (`[data-error-message]`, railsaas/errors.py); show its text beside what was
// clicked, or in a toast when that is not on screen. Network failures and timeouts too.

function toastRegion() {
  let region = document.getElementById("toasts");
  if (!region) {
    region = document.createElement("div");
    region.id = "toasts";
    region.className = "toasts";
    document.body.append(region);
  }
  return region;
}

function toast(message) {
  const item = document.createElement("div");
  item.className = "toast flash flash-error";
  item.setAttribute("role", "alert");
  item.dataset.testid = "toast";
  const text = document.createElement("span");
  text.textContent = message;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "link-button toast-close";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  close.addEventListener("click", () => item.remove());
  item.append(text, close);
  toastRegion().append(item);
  setTimeout(() => item.remove(), 15000);
}

function errorAnchor(elt) {
  if (!elt || !elt.isConnected) return null;
  const anchor = (elt.closest && elt.closest("form")) || elt;
  // Hidden (a closed menu, a header loader): the toast says it instead.
  if (anchor.getClientRects().length === 0) return null;
  return anchor;
}

function clearError(elt) {
  const anchor = elt && elt.isConnected && ((elt.closest && elt.closest("form")) || elt);
  const next = anchor && anchor.nextElementSibling;
  if (next && next.hasAttribute("data-htmx-error")) next.remove();
}

function showError(elt, message) {
  const anchor = errorAnchor(elt);
  if (!anchor) {
    toast(message);
    return;
  }
  let box = anchor.nextElementSibling;
  if (!box || !box.hasAttribute("data-htmx-error")) {
    box = document.createElement("p");
    box.className = "flash flash-error htmx-error";
    box.setAttribute("role", "alert");
    box.setAttribute("data-htmx-error", "");
    box.dataset.testid = "htmx-error";
    anchor.after(box);
  }
  box.textContent = message;
}

function messageOf(xhr) {
  const type = (xhr.getResponseHeader("Content-Type") || "").toLowerCase();
  const body = xhr.responseText || "";
  if (type.includes("json")) {
    try {
      const data = JSON.parse(body);
      if (data && data.error && data.error.message) return String(data.error.message);
    } catch (_) {
      // not JSON after all: the generic message below
    }
  } else if (type.includes("html")) {
    // Parsed inertly, and only its text is used: nothing from the answer runs or is inserted.
    const doc = new DOMParser().parseFromString(body, "text/html");
    const found = doc.querySelector("[data-error-message]");
    const text = found && found.textContent.trim();
    if (text) return text;
  }
  if (xhr.status === 0) return "Could not reach the server. Check your connection and try again.";
  return `Something went wrong (error ${xhr.status}). Try again in a moment.`;
}

document.addEventListener("htmx:beforeRequest", (event) => clearError(event.detail.elt));
document.addEventListener("htmx:responseError", (event) => {
  showError(event.detail.elt, messageOf(event.detail.xhr));
});
document.addEventListener("htmx:sendError", (event) => {
  showError(event.detail.elt, "Could not reach the server. Check your connection and try again.");
});
document.addEventListener("htmx:timeout", (event) => {
  showError(event.detail.elt, "The server took too long to answer. Try again in a moment.");
});

// --- The header menu on small screens ------------------------------------------------------
// Without JavaScript the links simply show (and wrap); with it, a Menu button toggles them.
document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-menu-toggle]");
  if (!toggle) return;
  const menu = document.getElementById(toggle.getAttribute("aria-controls"));
  if (!menu) return;
  const open = toggle.getAttribute("aria-expanded") !== "true";
  toggle.setAttribute("aria-expanded", String(open));
  menu.classList.toggle("open", open);
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  document.querySelectorAll("[data-menu-toggle][aria-expanded=true]").forEach((toggle) => {
    toggle.setAttribute("aria-expanded", "false");
    const menu = document.getElementById(toggle.getAttribute("aria-controls"));
    if (menu) menu.classList.remove("open");
  });
});

// --- Template logos: a broken image falls back to the initials beside it -------------------
document.addEventListener(
  "error",
  (event) => {
    const img = event.target;
    if (img && img.tagName === "IMG" && img.hasAttribute("data-logo")) {
      img.closest(".logo")?.classList.add("logo-broken");
    }
  },
  true,
);

// Dialogs loaded by HTMX (deploy) close with their close button or Escape.
document.addEventListener("click", (event) => {
  const closer = event.target.closest("[data-close-modal]");
  if (closer) {
    const dialog = closer.closest("dialog");
    if (dialog) dialog.remove();
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    document.querySelectorAll("dialog[data-modal]").forEach((d) => d.remove());
  }
});

// Typed confirmation: a delete button stays disabled until the instance's name is typed.
document.addEventListener("input", (event) => {
  const input = event.target;
  const expected = input.getAttribute("data-confirm-text");
  if (expected === null) return;
  const button = input.form && input.form.querySelector("[data-confirm-target]");
  if (button) button.disabled = input.value.trim() !== expected;
});

// Live logs: keep the newest line in view while following.
document.addEventListener("htmx:afterSwap", (event) => {
  const box = event.target.closest && event.target.closest("[data-autoscroll]");
  if (box) box.scrollTop = box.scrollHeight;
});
