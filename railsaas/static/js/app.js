// Small behaviours the pages need; no inline script anywhere (the CSP forbids it).
"use strict";

// Buttons with data-confirm ask before submitting their form.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const message = form.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

// Dialogs loaded by HTMX (deploy, confirmations) close with their close button or Escape.
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
