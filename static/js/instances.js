// Instances panel: batch buttons follow the selection. Rows are replaced by htmx while they
// refresh, so the state is read from the document each time, not cached.
(() => {
  const sync = () => {
    document.querySelectorAll("[data-needs-selection]").forEach((button) => {
      const name = button.dataset.needsSelection;
      const any = document.querySelector(`input[type=checkbox][name="${name}"]:checked`);
      button.disabled = !any;
    });
  };
  document.addEventListener("change", (event) => {
    if (event.target.matches("input[type=checkbox]")) sync();
  });
  document.addEventListener("selection-changed", sync);
  document.addEventListener("htmx:afterSwap", sync);
  document.addEventListener("DOMContentLoaded", sync);
})();
