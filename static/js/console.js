// The instance console in the browser: noVNC's RFB client on a websocket to the console proxy.
//
// Markup: an element with data-console, data-ws (the proxy's websocket URL) and data-instance, and
// either data-token (the token of a console URL) or data-token-url (the Compute API's
// remote-consoles URL, asked with the session for a fresh token at every connect). Inside it:
// [data-console-screen], [data-console-state], [data-console-cad] and [data-console-reconnect].
import RFB from "../vendor/novnc/core/rfb.js";

const STATE_TEXT = { connecting: "Connecting…", connected: "Connected", disconnected: "Disconnected" };
const STATE_BADGE = { connecting: "text-bg-warning", connected: "text-bg-success", disconnected: "text-bg-secondary" };

function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
  } catch {
    return "";
  }
}

// A new console token from the Compute API (POST /servers/{id}/remote-consoles), as any client gets one.
async function freshToken(url) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json",
      "OpenStack-API-Version": "compute 2.6",
      "X-CSRFToken": csrfToken(),
    },
    body: JSON.stringify({ remote_console: { protocol: "vnc", type: "novnc" } }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = Object.values(body)[0];
    throw new Error((error && error.message) || `the console could not be opened (HTTP ${response.status})`);
  }
  return new URL(body.remote_console.url).searchParams.get("token");
}

class InstanceConsole {
  constructor(root) {
    this.root = root;
    this.screen = root.querySelector("[data-console-screen]");
    this.state = root.querySelector("[data-console-state]");
    this.cad = root.querySelector("[data-console-cad]");
    this.reconnectButton = root.querySelector("[data-console-reconnect]");
    this.rfb = null;
    this.cad.addEventListener("click", () => {
      if (this.rfb) {
        this.rfb.sendCtrlAltDel();
        this.rfb.focus();
      }
    });
    this.reconnectButton.addEventListener("click", () => this.connect());
  }

  setState(state, detail = "") {
    this.root.dataset.state = state;
    this.state.dataset.state = state;
    this.state.textContent = detail ? `${STATE_TEXT[state]}: ${detail}` : STATE_TEXT[state];
    this.state.classList.remove(...Object.values(STATE_BADGE));
    this.state.classList.add(STATE_BADGE[state]);
    this.cad.disabled = state !== "connected";
    this.reconnectButton.disabled = state === "connecting";
  }

  async connect() {
    if (this.rfb) {
      const old = this.rfb;
      this.rfb = null;
      old.disconnect();
    }
    this.setState("connecting");
    let token;
    try {
      token = this.root.dataset.token || (await freshToken(this.root.dataset.tokenUrl));
    } catch (error) {
      this.setState("disconnected", error.message);
      return;
    }
    const url = new URL(this.root.dataset.ws);
    url.searchParams.set("instance", this.root.dataset.instance);
    url.searchParams.set("token", token);
    // Our own socket, so that the close frame's reason (why the proxy closed the console) is ours to show.
    const socket = new WebSocket(url.href);
    let closed = null;
    socket.addEventListener("close", (event) => {
      closed = event;
    });
    const rfb = new RFB(this.screen, socket, { shared: true });
    this.rfb = rfb;
    rfb.scaleViewport = true;
    rfb.background = "#212529";
    rfb.addEventListener("connect", () => {
      if (this.rfb === rfb) {
        this.setState("connected");
        rfb.focus();
      }
    });
    rfb.addEventListener("securityfailure", (event) => {
      if (this.rfb === rfb) this.setState("disconnected", event.detail.reason || "the VNC server refused the client");
    });
    rfb.addEventListener("disconnect", (event) => {
      if (this.rfb !== rfb) return; // replaced by a reconnect
      this.rfb = null;
      let reason = closed && closed.reason;
      if (!reason) {
        reason = event.detail.clean ? "the connection was closed" : "the console proxy refused or lost the connection";
      }
      this.setState("disconnected", reason);
    });
  }
}

document.querySelectorAll("[data-console]").forEach((root) => {
  const instanceConsole = new InstanceConsole(root);
  root.instanceConsole = instanceConsole;
  instanceConsole.connect();
});
