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
