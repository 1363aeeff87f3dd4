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

  // Wizard tabs: <button data-next-step="#tab-id"> shows that tab (no inline scripts under the CSP).
  document.querySelectorAll("[data-next-step]").forEach((b) => b.addEventListener("click", () => {
    bootstrap.Tab.getOrCreateInstance(document.querySelector(b.dataset.nextStep)).show();
  }));
  // A search box that filters the [data-project] rows of the list right after it.
  document.querySelectorAll("[data-filter-projects]").forEach((input) => input.addEventListener("input", () => {
    const q = input.value.toLowerCase();
    input.nextElementSibling.querySelectorAll("[data-project]").forEach((el) => {
      el.hidden = !el.dataset.project.includes(q);
    });
  }));
  // A batch button enabled only while one of its checkboxes is ticked.
  document.querySelectorAll("[data-needs-selection]").forEach((button) => {
    const update = () => { button.disabled = !document.querySelector(`${button.dataset.needsSelection}:checked`); };
    document.querySelectorAll(button.dataset.needsSelection).forEach((b) => b.addEventListener("change", update));
    document.addEventListener("selection-changed", update);
  });
});
