// Small behaviours shared by every page. htmx does the partial updates.
document.addEventListener("DOMContentLoaded", () => {
  // Select-all checkboxes for batch actions: <input type="checkbox" data-select-all="name">.
  document.querySelectorAll("[data-select-all]").forEach((box) => {
    box.addEventListener("change", () => {
      document.querySelectorAll(`input[type=checkbox][name="${box.dataset.selectAll}"]`).forEach((b) => {
        if (!b.disabled) b.checked = box.checked;
      });
      document.dispatchEvent(new Event("selection-changed"));
    });
  });
  // A search box that filters the [data-project] rows of the list right after it.
  document.querySelectorAll("[data-filter-projects]").forEach((input) => input.addEventListener("input", () => {
    const q = input.value.toLowerCase();
    input.nextElementSibling.querySelectorAll("[data-project]").forEach((el) => {
      el.hidden = !el.dataset.project.includes(q);
    });
  }));
  // Batch buttons: data-requires-selection="<checkbox selector>" is enabled while any of those is
  // checked. Read from the document each time: htmx replaces rows while they refresh.
  const syncSelection = () => {
    document.querySelectorAll("[data-requires-selection]").forEach((button) => {
      button.disabled = !document.querySelector(`${button.dataset.requiresSelection}:checked`);
    });
  };
  document.addEventListener("change", (event) => {
    if (event.target.matches("input[type=checkbox]")) syncSelection();
  });
  document.addEventListener("selection-changed", syncSelection);
  document.addEventListener("htmx:afterSwap", syncSelection);
  syncSelection();
  // A log that follows new lines ([data-follow-log], refreshed by htmx): after each refresh it shows
  // the newest line, unless the reader had scrolled up to read.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const box = event.detail.target;
    if (!box.matches || !box.matches("[data-follow-log]")) return;
    const log = box.querySelector("pre");
    box.dataset.atEnd = !log || log.scrollTop + log.clientHeight >= log.scrollHeight - 8 ? "yes" : "no";
    box.dataset.scrollTop = log ? String(log.scrollTop) : "0";
  });
  document.addEventListener("htmx:afterSwap", (event) => {
    const box = event.detail.target;
    if (!box.matches || !box.matches("[data-follow-log]")) return;
    const log = box.querySelector("pre");
    if (log) log.scrollTop = box.dataset.atEnd === "no" ? Number(box.dataset.scrollTop) : log.scrollHeight;
  });
  // Wizard steps: a button with data-next-step="#tab-id" shows that tab (pages carry no inline script).
  document.querySelectorAll("[data-next-step]").forEach((button) => {
    button.addEventListener("click", () => {
      bootstrap.Tab.getOrCreateInstance(document.querySelector(button.dataset.nextStep)).show();
    });
  });
  // An open dialog keeps the keyboard inside it: Tab past its last control comes back to its first
  // (and Shift+Tab the other way) instead of leaving for the browser's own controls.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const dialog = document.querySelector(".modal.show");
    if (!dialog) return;
    const focusable = [...dialog.querySelectorAll(
      "a[href], button, input, select, textarea, [tabindex]:not([tabindex='-1'])",
    )].filter((el) => !el.disabled && el.getClientRects().length && getComputedStyle(el).visibility !== "hidden");
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    const inside = dialog.contains(document.activeElement);
    if (event.shiftKey && (document.activeElement === first || !inside)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
      event.preventDefault();
      first.focus();
    }
  });
});
