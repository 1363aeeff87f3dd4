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
});
