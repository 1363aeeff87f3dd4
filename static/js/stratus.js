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
  // Batch buttons: data-requires-selection="<checkbox selector>" enables the button while any is checked.
  document.querySelectorAll("[data-requires-selection]").forEach((button) => {
    const selector = button.dataset.requiresSelection;
    const update = () => { button.disabled = !document.querySelector(`${selector}:checked`); };
    document.querySelectorAll(selector).forEach((box) => box.addEventListener("change", update));
    document.addEventListener("selection-changed", update);
    update();
  });
  // Wizard steps: a button with data-next-step="#tab-id" shows that tab (pages carry no inline script).
  document.querySelectorAll("[data-next-step]").forEach((button) => {
    button.addEventListener("click", () => {
      bootstrap.Tab.getOrCreateInstance(document.querySelector(button.dataset.nextStep)).show();
    });
  });
});
