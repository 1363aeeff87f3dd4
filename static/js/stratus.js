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
  // "Select all N matching" ([data-select-matching], templates/generic/_select_matching.html):
  // offered when every row of the page is ticked and more rows match; choosing it enables the
  // hidden filter fields, and unticking any row goes back to the ticked rows only.
  const matching = document.querySelector("[data-select-matching]");
  if (matching) {
    const fields = document.querySelector("[data-matching-fields]");
    const header = document.querySelector("[data-select-all]");
    const boxes = () => [...document.querySelectorAll(`input[type=checkbox][name="${header.dataset.selectAll}"]`)]
      .filter((b) => !b.disabled);
    const show = (el, on) => { matching.querySelector(el).hidden = !on; };
    const update = () => {
      const rows = boxes();
      const allTicked = rows.length > 0 && rows.every((b) => b.checked);
      if (!allTicked) fields.disabled = true;
      const total = Number(matching.dataset.total);
      matching.hidden = !allTicked || total <= rows.length;
      matching.querySelector("[data-page-count]").textContent = rows.length;
      show("[data-page-note]", fields.disabled);
      show("[data-select-matching-on]", fields.disabled);
      show("[data-all-note]", !fields.disabled);
      show("[data-select-matching-off]", !fields.disabled);
    };
    matching.querySelector("[data-select-matching-on]").addEventListener("click", () => {
      fields.disabled = false;
      update();
    });
    matching.querySelector("[data-select-matching-off]").addEventListener("click", () => {
      fields.disabled = true;
      boxes().forEach((b) => { b.checked = false; });
      header.checked = false;
      document.dispatchEvent(new Event("selection-changed"));
      update();
    });
    document.addEventListener("change", (event) => {
      if (event.target.matches("input[type=checkbox]")) update();
    });
    document.addEventListener("selection-changed", update);
    update();
  }
  // Copy buttons: <button data-copy="text" aria-label="Copy …">. The clipboard API needs a secure
  // context; on plain HTTP the text is copied through a selected, off-screen text area.
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const text = button.dataset.copy;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = Object.assign(document.createElement("textarea"), { value: text, readOnly: true });
      area.className = "position-fixed top-0 start-0 opacity-0";
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    const label = button.getAttribute("aria-label");
    const title = button.title;
    button.setAttribute("aria-label", "Copied");
    button.title = "Copied";
    button.dataset.copied = "yes";
    setTimeout(() => {
      button.setAttribute("aria-label", label);
      button.title = title;
      delete button.dataset.copied;
    }, 2000);
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
