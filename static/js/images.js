// The Images panel: Create Image (format read from the file's content), resumable uploads (tus) to
// the Image API with progress, abort and resume, and a tray that follows the image until the server is done.
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
        // A fresh button: the Abort handlers must not fire any more.
        const abort = node.querySelector("[data-upload-abort]");
        const dismiss = abort.cloneNode(false);
        abort.replaceWith(dismiss);
        dismiss.textContent = "Dismiss";
        dismiss.classList.replace("btn-outline-danger", "btn-outline-secondary");
        dismiss.addEventListener("click", () => node.remove());
      },
    };
  }

  // The row's bar is the server's view of the whole job (sending, then processing): the tray
  // mirrors it while the server works.
  function mirrorRow(id, item) {
    const bar = document.querySelector(`#image-row-${id} [data-testid="job-progress"]`);
    const label = document.querySelector(`#image-row-${id} [data-testid="job-label"]`);
    if (bar) item.progress(Number(bar.dataset.percent) / 100);
    if (label) item.stats(label.textContent.trim());
  }

  // Follow the image through the API until it settles (Active, Killed, or back to Queued with a reason).
  function follow(id, item, delay = 2000) {
    item.processing = true;
    const mirror = setInterval(() => mirrorRow(id, item), 1000);
    const poll = (wait) => setTimeout(async () => {
      let image;
      try {
        image = await api("GET", `${API}/${id}`);
      } catch (err) {
        clearInterval(mirror);
        item.done(false, err.message);
        return;
      }
      const failed = image.os_glance_failed_import;
      item.phase(`Processing on the server: ${image.status}`);
      if (image.status === "active") {
        clearInterval(mirror);
        item.done(true, "Active");
        refreshRow(id);
      } else if (image.status === "killed" || image.status === "queued") {
        clearInterval(mirror);
        item.done(false, failed || "The image is queued again: the processing stopped.");
        refreshRow(id);
      } else {
        poll(Math.min(wait * 1.5, 30000));
      }
    }, wait);
    poll(delay);
  }

  // Abort whatever runs for the image on the server (an import or a conversion).
  async function abortOnServer(id, item) {
    const response = await fetch(`/images/${id}/abort/`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), Accept: "application/json" },
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      item.phase(`Could not abort: ${data.message || response.status}`);
      return;
    }
    item.done(false, "Aborted: the server stopped processing and removed the data; the image stays queued.");
    refreshRow(id);
  }

  // Which file an upload is: its size, and FNV-1a hashes of its first and last 64 KiB. Picking
  // the same file again after a reload finds the same print; the server keeps it with the upload.
  const PRINT_BLOCK = 65536;
  async function fingerprint(file) {
    const fnv = (data) => {
      let h = 2166136261;
      for (let i = 0; i < data.length; i += 1) { h ^= data[i]; h = Math.imul(h, 16777619) >>> 0; }
      return h.toString(16).padStart(8, "0");
    };
    const head = new Uint8Array(await file.slice(0, PRINT_BLOCK).arrayBuffer());
    const tail = new Uint8Array(await file.slice(Math.max(0, file.size - PRINT_BLOCK)).arrayBuffer());
    return `${file.size}-${fnv(head)}-${fnv(tail)}`;
  }

  // The server's record of an unfinished upload: its length and the print of the file it began with.
  async function uploadRecord(url) {
    const response = await fetch(url, { method: "HEAD", credentials: "same-origin", headers: { "Tus-Resumable": "1.0.0" } });
    if (!response.ok) throw new Error(response.status === 410 ? "The upload expired." : `HTTP ${response.status}`);
    const meta = {};
    (response.headers.get("Upload-Metadata") || "").split(",").forEach((pair) => {
      const [key, value] = pair.trim().split(" ");
      if (key) meta[key] = value ? atob(value) : "";
    });
    return { length: Number(response.headers.get("Upload-Length")), offset: Number(response.headers.get("Upload-Offset")), meta };
  }

  // Delays between tus retries (a dropped connection, a restarting web server); afterwards the
  // tray waits for the browser to be online again, or for Resume upload on the row.
  const RETRY_DELAYS = [0, 1000, 2000, 4000, 8000, 15000, 30000];

  // Send the file with the tus protocol into the image's staging area (resuming at the server's
  // offset when ``resumeUrl`` names an unfinished upload); the last byte starts the glance-direct import.
  async function upload(id, name, file, resumeUrl = null) {
    const item = trayItem(name);
    const samples = [];
    const started = performance.now();
    let transfer = null;
    item.phase(resumeUrl ? "Resuming" : "Uploading");
    const abortButton = item.node.querySelector("[data-upload-abort]");
    const onAbort = async () => {
      if (item.processing) { abortOnServer(id, item); return; }
      abortButton.removeEventListener("click", onAbort);
      uploads.delete(transfer);
      try {
        await transfer.abort(true); // terminates the upload on the server (DELETE)
      } catch (err) {
        // The last bytes arrived meanwhile and the import started: stop that instead.
        item.processing = true;
        abortOnServer(id, item);
        return;
      }
      item.done(false, "Aborted: the partial data was removed; the image stays queued.");
      refreshRow(id);
    };
    abortButton.addEventListener("click", onAbort);
    const print = await fingerprint(file);
    transfer = new tus.Upload(file, {
      endpoint: `${API}/${id}/uploads`,
      uploadUrl: resumeUrl,
      metadata: { filename: file.name, fingerprint: print, import: "glance-direct" },
      headers: { "X-CSRFToken": csrf() },
      retryDelays: RETRY_DELAYS,
      storeFingerprintForResuming: false,
      onProgress(sent, total) {
        const now = performance.now();
        samples.push([now, sent]);
        while (samples.length > 2 && now - samples[0][0] > 5000) samples.shift();
        const [t0, b0] = samples[0];
        const speed = now > t0 ? ((sent - b0) / (now - t0)) * 1000 : 0;
        item.progress(total ? sent / total / 2 : 0);
        item.node.dataset.sent = String(sent);
        item.stats(`Sending: ${bytes(sent)} of ${bytes(total)} · ${bytes(speed)}/s · ${duration((total - sent) / speed)} left`);
      },
      onSuccess() {
        uploads.delete(transfer);
        item.progress(0.5);
        item.stats(`${bytes(file.size)} sent in ${duration((performance.now() - started) / 1000)}`);
        item.phase("Sent; processing on the server");
        refreshRow(id);
        follow(id, item);
      },
      onError(err) {
        refreshRow(id);
        if (!navigator.onLine) {
          item.phase("Connection lost: the upload resumes when the network is back");
          window.addEventListener("online", () => transfer.start(), { once: true });
          return;
        }
        uploads.delete(transfer);
        const response = err.originalResponse;
        let message = err.message;
        if (response) {
          try { message = JSON.parse(response.getBody()).message || message; } catch (e) { /* not JSON */ }
        }
        item.done(false, `Upload stopped: ${message}. Resume upload on the row continues where it stopped.`);
      },
    });
    uploads.add(transfer);
    transfer.start();
    setTimeout(() => refreshRow(id), 500);
  }

  async function importFromUrl(id, name, uri) {
    const item = trayItem(name);
    item.phase("Copying from the URL on the server");
    item.stats(uri);
    item.processing = true;
    item.node.querySelector("[data-upload-abort]").addEventListener("click", () => abortOnServer(id, item));
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
    form.formatChosen = false;
    const turn = (form.sniffTurn || 0) + 1;
    form.sniffTurn = turn;
    if (!file) { note.classList.add("d-none"); return; }
    const found = await sniff(file);
    if (form.sniffTurn !== turn) return;  // another file was chosen meanwhile
    form.detected = found;
    const nameInput = form.querySelector('[name="name"]');
    if (!nameInput.value) nameInput.value = file.name.replace(/\.[^.]+$/, "");
    note.classList.remove("d-none");
    if (UNSUPPORTED[found.format]) {
      note.className = "small mb-3 text-danger";
      note.textContent = `This file is a ${UNSUPPORTED[found.format]} image, a format this cloud does not accept.`;
      return;
    }
    // The detected format is proposed, unless the user chose one while the file was being read.
    const select = form.querySelector('[name="disk_format"]');
    if (!form.formatChosen) select.value = found.format;
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
          form.formatChosen = true;
          checkMismatch(form);
          showFormat(form);
        }
      });
      showSource(form);
      showFormat(form);
    }
    const retryFile = document.getElementById("retry-file");
    document.addEventListener("click", (event) => {
      const retry = event.target.closest("[data-retry-upload], [data-resume-upload]");
      if (retry && retryFile) {
        retryFile.dataset.imageId = retry.dataset.retryUpload || retry.dataset.resumeUpload;
        retryFile.dataset.resumeUrl = retry.dataset.resumeUrl || "";
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
        const resumeUrl = retryFile.dataset.resumeUrl;
        if (resumeUrl) {
          // Only the file the upload began with may continue it: same size, same first and last blocks.
          let record;
          try {
            record = await uploadRecord(resumeUrl);
          } catch (err) {
            window.alert(`The upload cannot be resumed: ${err.message}`);
            refreshRow(retryFile.dataset.imageId);
            return;
          }
          if (record.length !== file.size || record.meta.fingerprint !== await fingerprint(file)) {
            window.alert(`This is not the file the upload began with${record.meta.filename ? ` (${record.meta.filename})` : ""}: choose that file, or abort the upload.`);
            return;
          }
          upload(retryFile.dataset.imageId, retryFile.dataset.name, file, resumeUrl);
          return;
        }
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
