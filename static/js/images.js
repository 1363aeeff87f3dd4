// The Images panel: Create Image (format read from the file's content), uploads to the Image API
// with progress, abort and retry, and a tray that follows the image until the server is done.
(() => {
  "use strict";

  const API = "/image/v2/images";
  const GiB = 1024 ** 3;
  const RAW_LIKE = new Set(["raw", "ami", "ari", "aki", "ploop"]);
  const UNSUPPORTED = { qed: "QED", luks: "LUKS" };
  const uploads = new Set();

  const csrf = () => JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";

  // --- reading the format from the bytes ----------------------------------------------------------

  const ascii = (bytes, offset, length) => String.fromCharCode(...bytes.subarray(offset, offset + length));

  async function sniff(file) {
    const head = new Uint8Array(await file.slice(0, 0x9000).arrayBuffer());
    const tail = file.size >= 512 ? new Uint8Array(await file.slice(file.size - 512).arrayBuffer()) : new Uint8Array(0);
    const view = new DataView(head.buffer);
    const u64 = (dv, offset, little) => (dv.byteLength >= offset + 8 ? Number(dv.getBigUint64(offset, little)) : 0);
    if (ascii(head, 0, 4) === "QFI\xfb") {
      const backing = u64(view, 8, false) !== 0;
      return { format: "qcow2", virtualSize: u64(view, 24, false), backing };
    }
    if (ascii(head, 0, 4) === "QED\0") return { format: "qed" };
    if (ascii(head, 0, 6) === "LUKS\xba\xbe") return { format: "luks" };
    if (ascii(head, 0, 4) === "KDMV") return { format: "vmdk", virtualSize: u64(view, 12, true) * 512 };
    if (ascii(head, 0, 21) === "# Disk DescriptorFile") return { format: "vmdk" };
    if (ascii(head, 0, 8) === "vhdxfile") return { format: "vhdx" };
    if (ascii(tail, 0, 8) === "conectix") {
      return { format: "vhd", virtualSize: u64(new DataView(tail.buffer), 48, false) };
    }
    if (ascii(head, 0, 8) === "conectix") return { format: "vhd", virtualSize: u64(view, 48, false) };
    if (head.length >= 0x44 && view.getUint32(0x40, true) === 0xbeda107f) {
      return { format: "vdi", virtualSize: u64(view, 0x170, true) };
    }
    if (head.length >= 0x8006 && ascii(head, 0x8001, 5) === "CD001") return { format: "iso", virtualSize: file.size };
    return { format: "raw", virtualSize: file.size };
  }

  const sameFormat = (content, chosen) => (RAW_LIKE.has(chosen) ? "raw" : chosen) === content;

  // --- small helpers ------------------------------------------------------------------------------

  function bytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
  }

  function duration(seconds) {
    if (!Number.isFinite(seconds)) return "…";
    if (seconds < 60) return `${Math.ceil(seconds)} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.ceil(seconds % 60)} s`;
    return `${Math.floor(seconds / 3600)} h ${Math.ceil((seconds % 3600) / 60)} min`;
  }

  async function api(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), "Content-Type": "application/json", Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : {};
    if (!response.ok) throw new Error(data.message || (data.error && data.error.message) || `HTTP ${response.status}`);
    return data;
  }

  const inserting = new Set();

  function refreshRow(id) {
    const row = document.getElementById(`image-row-${id}`);
    const rows = document.getElementById("image-rows");
    if (!rows || !window.htmx || inserting.has(id)) return;
    const query = rows.dataset.rowQuery ? `?${rows.dataset.rowQuery}` : "";
    if (row) {
      htmx.ajax("GET", `/images/${id}/row/${query}`, { target: row, swap: "outerHTML" });
    } else {
      // A new image: its row goes on top, once, even if several refreshes ask for it meanwhile.
      inserting.add(id);
      rows.querySelectorAll("[data-empty]").forEach((r) => r.remove());
      htmx.ajax("GET", `/images/${id}/row/${query}`, { target: rows, swap: "afterbegin" })
        .then(() => {
          const count = document.querySelector("[data-image-count]");
          if (count) {
            const n = Number(count.dataset.imageCount) + 1;
            count.dataset.imageCount = String(n);
            count.textContent = `${n} image${n === 1 ? "" : "s"}`;
          }
        })
        .finally(() => inserting.delete(id));
    }
  }

  // --- the tray: one item per transfer ------------------------------------------------------------

  function trayItem(name) {
    const tray = document.getElementById("upload-tray");
    const template = document.getElementById("upload-item-template");
    const node = template.content.firstElementChild.cloneNode(true);
    node.querySelector("[data-upload-name]").textContent = name;
    tray.querySelector("[data-tray-items]").prepend(node);
    tray.classList.remove("d-none");
    const bar = node.querySelector("[data-upload-bar]");
    return {
      node,
      phase: (text) => { node.querySelector("[data-upload-phase]").textContent = text; },
      stats: (text) => { node.querySelector("[data-upload-stats]").textContent = text; },
      progress: (fraction) => {
        bar.style.width = `${Math.round(fraction * 100)}%`;
        bar.parentElement.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
      },
      done: (ok, text) => {
        bar.classList.remove("progress-bar-animated", "progress-bar-striped");
        bar.classList.add(ok ? "bg-success" : "bg-danger");
        if (ok) bar.style.width = "100%";
        node.querySelector("[data-upload-phase]").textContent = text;
        const abort = node.querySelector("[data-upload-abort]");
        abort.textContent = "Dismiss";
        abort.classList.replace("btn-outline-danger", "btn-outline-secondary");
        abort.onclick = () => node.remove();
      },
    };
  }

  // Follow the image through the API until it settles (Active, Killed, or back to Queued with a reason).
  function follow(id, item, delay = 2000) {
    setTimeout(async () => {
      let image;
      try {
        image = await api("GET", `${API}/${id}`);
      } catch (err) {
        item.done(false, err.message);
        return;
      }
      const failed = image.os_glance_failed_import;
      item.phase(`Processing on the server: ${image.status}`);
      if (image.status === "active") {
        item.done(true, "Active");
        refreshRow(id);
      } else if (image.status === "killed" || (image.status === "queued" && failed)) {
        item.done(false, failed || "The image could not be imported.");
        refreshRow(id);
      } else {
        follow(id, item, Math.min(delay * 1.5, 30000));
      }
    }, delay);
  }

  // PUT the file into the image's staging area, then ask for the glance-direct import.
  function upload(id, name, file) {
    const item = trayItem(name);
    const xhr = new XMLHttpRequest();
    const started = performance.now();
    const samples = [];
    uploads.add(xhr);
    item.phase("Uploading");
    item.node.querySelector("[data-upload-abort]").addEventListener("click", () => xhr.abort(), { once: true });
    xhr.upload.addEventListener("progress", (event) => {
      const now = performance.now();
      samples.push([now, event.loaded]);
      while (samples.length > 2 && now - samples[0][0] > 5000) samples.shift();
      const [t0, b0] = samples[0];
      const speed = now > t0 ? ((event.loaded - b0) / (now - t0)) * 1000 : 0;
      const total = event.lengthComputable ? event.total : file.size;
      item.progress(total ? event.loaded / total : 0);
      item.stats(`${bytes(event.loaded)} of ${bytes(total)} · ${bytes(speed)}/s · ${duration((total - event.loaded) / speed)} left`);
    });
    xhr.addEventListener("load", async () => {
      uploads.delete(xhr);
      if (xhr.status !== 204 && xhr.status !== 200) {
        let message = `HTTP ${xhr.status}`;
        try { message = JSON.parse(xhr.responseText).message || message; } catch (err) { /* not JSON */ }
        item.done(false, `Upload refused: ${message}`);
        refreshRow(id);
        return;
      }
      const seconds = (performance.now() - started) / 1000;
      item.progress(1);
      item.stats(`${bytes(file.size)} sent in ${duration(seconds)}`);
      item.phase("Sent; starting the import");
      try {
        await api("POST", `${API}/${id}/import`, { method: { name: "glance-direct" } });
      } catch (err) {
        item.done(false, `Import refused: ${err.message}`);
        refreshRow(id);
        return;
      }
      refreshRow(id);
      follow(id, item);
    });
    const interrupted = (text) => () => {
      uploads.delete(xhr);
      item.done(false, text);
      // The server notices the cut, discards the partial data and puts the image back to queued.
      setTimeout(() => refreshRow(id), 1500);
    };
    xhr.addEventListener("abort", interrupted("Aborted: the image stays queued; Retry upload sends the file again."));
    xhr.addEventListener("error", interrupted("The connection failed: Retry upload sends the file again."));
    xhr.open("PUT", `${API}/${id}/stage`);
    xhr.setRequestHeader("X-CSRFToken", csrf());
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("x-openstack-image-size", String(file.size));
    xhr.send(file);
    refreshRow(id);
  }

  async function importFromUrl(id, name, uri) {
    const item = trayItem(name);
    item.phase("Copying from the URL on the server");
    item.stats(uri);
    item.progress(0.05);
    try {
      await api("POST", `${API}/${id}/import`, { method: { name: "web-download", uri } });
    } catch (err) {
      item.done(false, `Import refused: ${err.message}`);
      refreshRow(id);
      return;
    }
    refreshRow(id);
    follow(id, item);
  }

  // --- the Create Image form ----------------------------------------------------------------------

  function showErrors(form, errors) {
    form.querySelectorAll(".is-invalid").forEach((el) => el.classList.remove("is-invalid"));
    form.querySelectorAll("[data-errors-for]").forEach((el) => { el.textContent = ""; });
    const general = form.querySelector("[data-form-error]");
    general.classList.add("d-none");
    general.textContent = "";
    Object.entries(errors || {}).forEach(([name, messages]) => {
      const box = form.querySelector(`[data-errors-for="${name}"]`);
      const input = form.querySelector(`[name="${name}"]`);
      if (box) {
        box.textContent = messages.join(" ");
        if (input) input.classList.add("is-invalid");
      } else {
        general.textContent = messages.join(" ");
        general.classList.remove("d-none");
      }
    });
  }

  // The Image API answers in sentences; put each on the field it is about.
  function apiErrorField(message) {
    const m = message.toLowerCase();
    if (m.includes("publicize") || m.includes("communitize") || m.includes("visibility")) return "visibility";
    if (m.includes("property")) return "properties";
    if (m.startsWith("name")) return "name";
    if (m.includes("disk_format")) return "disk_format";
    if (m.includes("min_disk")) return "min_disk";
    if (m.includes("min_ram")) return "min_ram";
    return "__all__";
  }

  function sourceOf(form) {
    const checked = form.querySelector('input[name="source"]:checked');
    return checked ? checked.value : "file";
  }

  function showSource(form) {
    const source = sourceOf(form);
    form.querySelectorAll("[data-source-panel]").forEach((panel) => {
      panel.classList.toggle("d-none", panel.dataset.sourcePanel !== source);
    });
    checkMismatch(form);
  }

  // Kernel and Ramdisk only mean something for an AMI (Horizon's classic form).
  function showFormat(form) {
    const chosen = form.querySelector('[name="disk_format"]').value;
    form.querySelectorAll("[data-format-panel]").forEach((panel) => {
      panel.classList.toggle("d-none", panel.dataset.formatPanel !== chosen);
    });
  }

  function checkMismatch(form) {
    const box = form.querySelector("[data-mismatch]");
    const detected = form.detected;
    const chosen = form.querySelector('[name="disk_format"]').value;
    form.dataset.mismatchConfirmed = "";
    const submit = document.querySelector("[data-create-submit]");
    if (submit) submit.textContent = "Create Image";
    const show = sourceOf(form) === "file" && detected && chosen && !UNSUPPORTED[detected.format] && !sameFormat(detected.format, chosen);
    box.classList.toggle("d-none", !show);
    if (show) {
      box.textContent = `The file's content is ${detected.format.toUpperCase()}, but the format chosen is ${chosen.toUpperCase()}. `
        + "The server checks the content and will refuse a mismatch: choose the detected format, or create it anyway.";
    }
    return show;
  }

  async function onFileChosen(form, input) {
    const file = input.files[0];
    const note = form.querySelector("[data-detected]");
    form.detected = null;
    if (!file) { note.classList.add("d-none"); return; }
    const found = await sniff(file);
    form.detected = found;
    const nameInput = form.querySelector('[name="name"]');
    if (!nameInput.value) nameInput.value = file.name.replace(/\.[^.]+$/, "");
    note.classList.remove("d-none");
    if (UNSUPPORTED[found.format]) {
      note.className = "small mb-3 text-danger";
      note.textContent = `This file is a ${UNSUPPORTED[found.format]} image, a format this cloud does not accept.`;
      return;
    }
    const select = form.querySelector('[name="disk_format"]');
    select.value = found.format;
    let text = `Detected from the content: ${found.format.toUpperCase()}, ${bytes(file.size)}`;
    if (found.virtualSize) {
      const gb = Math.ceil(found.virtualSize / GiB);
      text += `, virtual size ${bytes(found.virtualSize)}`;
      const minDisk = form.querySelector('[name="min_disk"]');
      if (!Number(minDisk.value)) minDisk.value = String(gb);
    }
    if (found.backing) text += ". It names a backing file, which the server refuses.";
    note.className = `small mb-3 ${found.backing ? "text-danger" : "text-success"}`;
    note.textContent = text;
    checkMismatch(form);
    showFormat(form);
  }

  async function onCreate(form, event) {
    event.preventDefault();
    const submit = document.querySelector("[data-create-submit]");
    const fileInput = form.querySelector('[name="image_file"]');
    const file = fileInput.files[0];
    const source = sourceOf(form);
    if (source === "file" && form.detected && UNSUPPORTED[form.detected.format]) {
      showErrors(form, { image_file: [`${UNSUPPORTED[form.detected.format]} images are not accepted; convert it to qcow2 or raw first.`] });
      return;
    }
    if (source === "file" && file && checkMismatch(form) && form.dataset.mismatchConfirmed !== "yes") {
      form.dataset.mismatchConfirmed = "yes";
      if (submit) submit.textContent = "Create anyway";
      return;
    }
    const fields = new URLSearchParams();
    new FormData(form).forEach((value, key) => {
      if (key !== "image_file") fields.append(key, value);
    });
    if (source === "file" && file) {
      fields.set("image_file", file.name);
      fields.set("image_size", String(file.size));
    }
    if (submit) submit.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrf(), Accept: "application/json" },
        body: fields,
      });
      const plan = await response.json();
      if (!response.ok) { showErrors(form, plan.errors); return; }
      let image;
      try {
        image = await api("POST", API, plan.image);
      } catch (err) {
        showErrors(form, { [apiErrorField(err.message)]: [err.message] });
        return;
      }
      showErrors(form, {});
      const modal = form.closest(".modal");
      if (modal) bootstrap.Modal.getOrCreateInstance(modal).hide();
      form.reset();
      form.detected = null;
      form.querySelector("[data-detected]").classList.add("d-none");
      showSource(form);
      if (plan.source === "file") {
        upload(image.id, image.name || image.id, file);
      } else if (plan.copy_data) {
        importFromUrl(image.id, image.name || image.id, plan.location);
      } else {
        await api("POST", `${API}/${image.id}/locations`, { url: plan.location, validation_data: {} });
        refreshRow(image.id);
      }
    } finally {
      if (submit) { submit.disabled = false; submit.textContent = "Create Image"; }
    }
  }

  // --- wiring (delegated: rows arrive and leave through htmx) ---------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.querySelector("[data-create-image]");
    if (form) {
      form.addEventListener("submit", (event) => onCreate(form, event));
      form.addEventListener("change", (event) => {
        if (event.target.name === "source") showSource(form);
        if (event.target.name === "image_file") onFileChosen(form, event.target);
        if (event.target.name === "disk_format") {
          checkMismatch(form);
          showFormat(form);
        }
      });
      showSource(form);
      showFormat(form);
    }
    const retryFile = document.getElementById("retry-file");
    document.addEventListener("click", (event) => {
      const retry = event.target.closest("[data-retry-upload]");
      if (retry && retryFile) {
        retryFile.dataset.imageId = retry.dataset.retryUpload;
        retryFile.dataset.name = retry.dataset.name;
        retryFile.dataset.format = retry.dataset.format;
        retryFile.value = "";
        retryFile.click();
      }
      const again = event.target.closest("[data-retry-import]");
      if (again) importFromUrl(again.dataset.retryImport, again.closest("tr").dataset.image, again.dataset.uri);
    });
    if (retryFile) {
      retryFile.addEventListener("change", async () => {
        const file = retryFile.files[0];
        if (!file) return;
        const found = await sniff(file);
        const wanted = retryFile.dataset.format;
        if (wanted && !sameFormat(found.format, wanted)
          && !window.confirm(`This file is ${found.format.toUpperCase()} but the image expects ${wanted.toUpperCase()}. The server will refuse it. Upload anyway?`)) {
          return;
        }
        upload(retryFile.dataset.imageId, retryFile.dataset.name, file);
      });
    }
    window.addEventListener("beforeunload", (event) => {
      if (uploads.size) { event.preventDefault(); event.returnValue = ""; }
    });
  });
})();
