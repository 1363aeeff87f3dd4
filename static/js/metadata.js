// Update Metadata dialogs: a searchable list of the catalog's known properties beside the
// resource's current values. Adding a known property puts a row for it in the form (a list of
// values when the catalog gives them); any other key can still be typed into a blank row.
(() => {
  "use strict";

  function control(key, choices, type) {
    if (choices.length) {
      const select = document.createElement("select");
      select.className = "form-select form-select-sm";
      const prompt = new Option("Choose a value", "");
      prompt.disabled = true;
      prompt.selected = true;
      select.append(prompt, ...choices.map((choice) => new Option(choice, choice)));
      return select;
    }
    const input = document.createElement("input");
    input.className = "form-control form-control-sm";
    if (type === "integer" || type === "number") input.inputMode = "numeric";
    return input;
  }

  function addRow(body, button) {
    const key = button.dataset.key;
    const existing = [...body.querySelectorAll("input[name=key]")].find((input) => input.value.trim() === key);
    if (existing) {
      existing.closest("tr").querySelector("[name=value]").focus();
      return;
    }
    const choices = button.dataset.choices ? button.dataset.choices.split("|") : [];
    const row = document.createElement("tr");
    row.dataset.key = key;
    const keyCell = document.createElement("td");
    const keyInput = document.createElement("input");
    keyInput.className = "form-control form-control-sm";
    keyInput.name = "key";
    keyInput.value = key;
    keyInput.setAttribute("aria-label", `Key ${key}`);
    const hint = document.createElement("div");
    hint.className = "form-text";
    hint.textContent = button.dataset.title;
    keyCell.append(keyInput, hint);
    const valueCell = document.createElement("td");
    const value = control(key, choices, button.dataset.type);
    value.name = "value";
    value.setAttribute("aria-label", `Value of ${key}`);
    valueCell.append(value);
    row.append(keyCell, valueCell);
    body.insertBefore(row, body.querySelector("tr[data-blank]"));
    value.focus();
  }

  // A dialog that edits key=value lines in a text area (Update Metadata of an instance).
  function addLine(text, button) {
    const key = button.dataset.key;
    const lines = text.value.split("\n");
    const index = lines.findIndex((line) => line.split("=")[0].trim() === key);
    if (index < 0) {
      const choices = button.dataset.choices ? button.dataset.choices.split("|") : [];
      const line = `${key}=${choices.length === 1 ? choices[0] : ""}`;
      text.value = `${text.value.replace(/\n*$/, "")}${text.value.trim() ? "\n" : ""}${line}`;
    }
    const before = lines.slice(0, index < 0 ? lines.length : index + 1).join("\n");
    const end = index < 0 ? text.value.length : before.length;
    text.focus();
    text.setSelectionRange(end, end);
  }

  function filter(root, text) {
    const wanted = text.trim().toLowerCase();
    let shown = 0;
    root.querySelectorAll("[data-metadef-group]").forEach((group) => {
      let inGroup = 0;
      group.querySelectorAll("[data-metadef-item]").forEach((item) => {
        item.hidden = Boolean(wanted) && !item.dataset.search.includes(wanted);
        if (!item.hidden) inGroup += 1;
      });
      group.hidden = inGroup === 0;
      shown += inGroup;
    });
    const none = root.querySelector("[data-metadef-none]");
    if (none) none.hidden = shown > 0;
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-metadata-editor]").forEach((root) => {
      const body = root.querySelector("[data-metadata-rows] tbody");
      const search = root.querySelector("[data-metadef-search]");
      if (search) search.addEventListener("input", () => filter(root, search.value));
      root.addEventListener("click", (event) => {
        const button = event.target.closest("[data-metadef-add]");
        const text = root.querySelector("textarea[data-metadata-text]");
        if (button && body) addRow(body, button);
        else if (button && text) addLine(text, button);
        const remove = event.target.closest("[data-metadata-remove]");
        if (remove) remove.closest("tr").remove();
      });
    });
  });
})();
