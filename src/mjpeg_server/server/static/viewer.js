// The viewer page's behaviour: status line, pause, full screen, camera settings,
// reconnection, and releasing the stream whenever nobody can see it. Plain
// JavaScript, no build step, no network beyond this server (the Pi may be offline).
//
// The page holds at most one stream at a time: browsers allow about six
// connections per host, and each open tab must leave room for the others.
"use strict";

(() => {
  const STATUS_INTERVAL_MS = 2000;
  const STATUS_TIMEOUT_MS = 5000;
  // Reconnection backoff: the first retry comes soon, later ones every few
  // seconds at most, so the page is back within 5 s of the server.
  const RETRY_FIRST_MS = 500;
  const RETRY_MAX_MS = 3000;
  // Slack when comparing server start times (uptime_s is rounded to 1 ms).
  const RESTART_SLACK_S = 0.5;

  const viewer = document.getElementById("viewer");
  const img = document.getElementById("stream");
  const overlay = document.getElementById("overlay");
  const statusLine = document.getElementById("status");
  const pauseButton = document.getElementById("pause");
  const fullscreenButton = document.getElementById("fullscreen");

  const camera = viewer.dataset.camera;
  const statusUrl = viewer.dataset.statusUrl;
  // The URL the server rendered (it may carry advance_headers=1).
  const streamUrl = new URL(img.getAttribute("src"), document.baseURI);
  const liveAlt = img.alt;

  // connecting: a request is under way; live: frames arrive; retrying: waiting
  // to reconnect; paused: the user froze the picture; hidden: nobody sees the page.
  let mode = "connecting";
  let attempts = 0; // failures since the stream was last live
  let connects = 0;
  // This page's stream as the server knows it (the "_" query), for /status?viewer=.
  let streamToken = streamUrl.searchParams.get("_") ?? "";
  let liveSince = 0; // performance.now() when the stream last went live
  let retryTimer = 0;
  let statusTimer = 0;
  // Identifies the one live polling loop: a poll still under way when its loop
  // was stopped must not schedule the next one.
  let statusLoopId = 0;
  let serverStartedBy = null; // latest possible start of the server, in performance.now() seconds

  // -- the stream ------------------------------------------------------------

  function freshStreamUrl() {
    const url = new URL(streamUrl);
    // A new URL for every connection: Firefox may not reconnect to the URL it shows.
    connects += 1;
    streamToken = `${Date.now().toString(36)}-${connects}`;
    url.searchParams.set("_", streamToken);
    return url.href;
  }

  function connect() {
    clearTimeout(retryTimer);
    mode = "connecting";
    img.alt = liveAlt;
    img.src = freshStreamUrl();
  }

  // Drops the stream's connection: Chrome closes it only when src changes.
  function release(nextMode, picture = "") {
    clearTimeout(retryTimer);
    mode = nextMode;
    img.src = picture;
    showOverlay("");
  }

  function wentLive() {
    mode = "live";
    attempts = 0;
    liveSince = performance.now();
    showOverlay("");
  }

  function lost(reason) {
    if (mode === "retrying") {
      showOverlay(`${reason} Reconnecting…`); // the latest news; the retry stays as planned
      return;
    }
    if (mode !== "live" && mode !== "connecting") {
      return; // paused or hidden: no stream to lose
    }
    const backoff = Math.min(RETRY_FIRST_MS * 2 ** attempts, RETRY_MAX_MS);
    // Jitter, so that many viewers of a restarted server do not arrive at once.
    const delay = backoff * (0.8 + 0.4 * Math.random());
    attempts += 1;
    mode = "retrying";
    showOverlay(`${reason} Reconnecting…`);
    retryTimer = setTimeout(connect, delay);
  }

  function showOverlay(text) {
    overlay.textContent = text;
    overlay.hidden = text === "";
  }

  // `load` fires once, for the first frame of each connection. Chrome fires no
  // event when an open stream ends: the status poll below notices that.
  img.addEventListener("load", () => {
    if (mode === "connecting") {
      wentLive();
    }
  });
  img.addEventListener("error", () => lost("The stream is unavailable."));

  // The first request started before this script ran: catch up with it.
  if (img.complete) {
    if (img.naturalWidth > 0) {
      wentLive();
    } else {
      lost("The stream is unavailable.");
    }
  }

  // -- status line and liveness --------------------------------------------

  function field(name, text) {
    const span = document.createElement("span");
    span.dataset.field = name;
    span.textContent = text;
    return span;
  }

  function renderStatus(status) {
    const parts = [field("state", status.state)];
    if (status.state === "error" && status.last_error) {
      parts[0].classList.add("state-error");
      parts[0].title = status.last_error;
    }
    parts.push(field("fps", `${status.fps_measured.toFixed(1)} fps`));
    const [width, height] = status.resolution || [];
    parts.push(field("resolution", width ? `${width}×${height}` : "no picture yet"));
    const viewers = status.clients === 1 ? "viewer" : "viewers";
    parts.push(field("clients", `${status.clients} ${viewers}`));
    statusLine.replaceChildren(...parts.flatMap((part, i) => (i ? [" · ", part] : [part])));
  }

  // True when the answer comes from another server process than the last one:
  // our stream went with the old process even if the new one answered fast.
  // performance.now() is monotonic: a Pi setting its clock is not a restart.
  function serverRestarted(uptime, sentAt, receivedAt) {
    const earliestStart = sentAt / 1000 - uptime;
    const latestStart = receivedAt / 1000 - uptime;
    const restarted =
      serverStartedBy !== null && earliestStart > serverStartedBy + RESTART_SLACK_S;
    serverStartedBy =
      serverStartedBy === null || restarted ? latestStart : Math.min(serverStartedBy, latestStart);
    return restarted;
  }

  async function pollStatus() {
    const sentAt = performance.now();
    let status;
    try {
      // ?viewer= asks whether this page's own stream is still open on the server.
      const url = new URL(statusUrl, location.href);
      url.searchParams.set("viewer", streamToken);
      const response = await fetch(url, {
        cache: "no-store",
        signal: AbortSignal.timeout(STATUS_TIMEOUT_MS),
      });
      if (response.status === 401) {
        // The session ended (a server restart logs everyone out): reloading
        // brings the login form, then this page again.
        location.reload();
        return;
      }
      if (!response.ok) {
        throw new Error(`HTTP ${response.status}`);
      }
      status = await response.json();
    } catch {
      statusLine.replaceChildren(field("state", "server unreachable"));
      lost("The server does not answer.");
      return;
    }
    const cameraStatus = status.cameras[camera];
    if (!cameraStatus) {
      // A server restarted with other cameras: keep trying, the page may be
      // right again after the next restart.
      statusLine.replaceChildren(field("state", "no such camera"));
      lost(`The server has no camera “${camera}” now.`);
      return;
    }
    renderStatus(cameraStatus);
    if (serverRestarted(status.uptime_s, sentAt, performance.now())) {
      lost("The server restarted.");
    } else if (mode === "live" && sentAt > liveSince && status.viewer_connected === false) {
      // Asked after our stream went live, yet the server has no such stream: it
      // dropped (Chrome fires no event for that, and other viewers may be watching).
      lost("The stream stopped.");
    }
  }

  async function statusLoop(id) {
    await pollStatus();
    if (id === statusLoopId) {
      statusTimer = setTimeout(statusLoop, STATUS_INTERVAL_MS, id);
    }
  }

  function stopStatus() {
    statusLoopId += 1;
    clearTimeout(statusTimer);
  }

  function startStatus() {
    stopStatus();
    statusLoop(statusLoopId);
  }

  // -- hidden pages hold no stream ----------------------------------------------

  function pageHidden() {
    stopStatus();
    if (mode !== "paused") {
      release("hidden");
    }
  }

  function pageShown() {
    if (mode === "hidden") {
      connect();
    }
    startStatus();
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") {
      pageHidden();
    } else {
      pageShown();
    }
  });
  // Leaving the page, also into the back/forward cache. Without it the stream
  // stayed open for seconds after leaving (measured in Chrome), and a page
  // holding a connection is not kept in that cache. Browsers that fire no
  // visibilitychange on navigation (older Safari) need this one.
  window.addEventListener("pagehide", pageHidden);
  // Back from the back/forward cache.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) {
      pageShown();
    }
  });

  // -- controls -------------------------------------------------------------------

  // The picture on screen as a still image, so that pausing keeps it visible.
  function stillFrame() {
    if (!img.naturalWidth) {
      return "";
    }
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    canvas.getContext("2d").drawImage(img, 0, 0);
    return canvas.toDataURL("image/jpeg", 0.92);
  }

  pauseButton.addEventListener("click", () => {
    if (mode === "paused") {
      pauseButton.textContent = "Pause";
      connect();
    } else {
      pauseButton.textContent = "Resume";
      img.alt = `Paused: the last frame from camera ${camera}`;
      release("paused", stillFrame());
    }
  });
  pauseButton.hidden = false;

  if (document.fullscreenEnabled) {
    fullscreenButton.addEventListener("click", () => {
      // The whole page, not just the picture: the controls (this button among
      // them) stay on screen; the stylesheet hides the header instead.
      const request = document.fullscreenElement
        ? document.exitFullscreen()
        : document.documentElement.requestFullscreen();
      // Refused (the browser's call): the button simply stays as it is.
      request.catch(() => {});
    });
    document.addEventListener("fullscreenchange", () => {
      const full = document.fullscreenElement !== null;
      fullscreenButton.textContent = full ? "Exit full screen" : "Full screen";
    });
    fullscreenButton.hidden = false;
  }

  // -- camera settings (GET/POST /controls) ------------------------------------------

  const settingsToggle = document.getElementById("settings-toggle");
  const settingsForm = document.getElementById("settings");
  const settingsFields = document.getElementById("settings-fields");
  const settingsMessage = document.getElementById("settings-message");
  const controlsUrl = viewer.dataset.controlsUrl;
  // The server's description of each control, with the value it has now.
  let controls = {};

  function inputFor(name, control) {
    let input;
    if (control.type === "enum") {
      input = document.createElement("select");
      for (const choice of control.choices) {
        const option = document.createElement("option");
        option.value = String(choice);
        option.textContent = String(choice);
        input.append(option);
      }
      input.value = String(control.value);
    } else if (control.type === "bool") {
      input = document.createElement("input");
      input.type = "checkbox";
      input.checked = Boolean(control.value);
    } else if (control.type === "int" || control.type === "number") {
      input = document.createElement("input");
      input.type = "number";
      if (control.minimum !== undefined) input.min = control.minimum;
      if (control.maximum !== undefined) input.max = control.maximum;
      input.step = control.type === "int" ? "1" : "any";
      input.value = control.value;
    } else {
      input = document.createElement("input");
      input.type = "text";
      if (control.type === "size") {
        input.pattern = "\\d+x\\d+";
        input.placeholder = "WIDTHxHEIGHT";
      } else if (control.maximum !== undefined) {
        input.maxLength = control.maximum;
      }
      input.value = control.value ?? "";
    }
    input.id = `control-${name}`;
    input.name = name;
    return input;
  }

  function valueOf(input, control) {
    if (control.type === "bool") {
      return input.checked;
    }
    if (control.type === "enum") {
      const choice = control.choices.find((c) => String(c) === input.value);
      return choice === undefined ? input.value : choice;
    }
    if (control.type === "int" || control.type === "number") {
      return input.value === "" ? null : Number(input.value);
    }
    return input.value;
  }

  function renderControls(listing) {
    controls = listing.controls;
    const rows = [];
    for (const [name, control] of Object.entries(controls)) {
      const label = document.createElement("label");
      label.htmlFor = `control-${name}`;
      label.textContent = name.replaceAll("_", " ");
      const input = inputFor(name, control);
      rows.push(label, input);
      const hint = [control.description, control.live ? "" : "reopens the camera"]
        .filter(Boolean)
        .join("; ");
      if (hint) {
        const note = document.createElement("p");
        note.className = "hint";
        note.id = `hint-${name}`;
        note.textContent = hint;
        input.setAttribute("aria-describedby", note.id);
        rows.push(note);
      }
    }
    settingsFields.replaceChildren(...rows);
  }

  function say(text, error = false) {
    settingsMessage.textContent = text;
    settingsMessage.classList.toggle("error", error);
  }

  async function openSettings() {
    settingsForm.hidden = false;
    settingsToggle.setAttribute("aria-expanded", "true");
    say("Loading…");
    try {
      const response = await fetch(controlsUrl, { cache: "no-store" });
      if (!response.ok) {
        throw new Error(`HTTP ${response.status}`);
      }
      renderControls(await response.json());
      say("");
      settingsFields.querySelector("input, select")?.focus();
    } catch (error) {
      say(`The settings could not be loaded (${error.message}).`, true);
    }
  }

  function closeSettings() {
    settingsForm.hidden = true;
    settingsToggle.setAttribute("aria-expanded", "false");
    settingsToggle.focus();
  }

  settingsToggle.addEventListener("click", () => {
    if (settingsForm.hidden) {
      openSettings();
    } else {
      closeSettings();
    }
  });
  document.getElementById("settings-close").addEventListener("click", closeSettings);
  settingsForm.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      closeSettings();
    }
  });

  settingsForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    // Only what the user changed: the server keeps the rest (and a reopen
    // happens only when a control that needs one changed).
    const changes = {};
    for (const [name, control] of Object.entries(controls)) {
      const value = valueOf(settingsForm.elements.namedItem(name), control);
      if (value !== control.value) {
        changes[name] = value;
      }
    }
    if (Object.keys(changes).length === 0) {
      say("Nothing changed.");
      return;
    }
    say("Applying…");
    try {
      const response = await fetch(controlsUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(changes),
      });
      const body = await response.json();
      if (!response.ok) {
        say(body.error ?? `HTTP ${response.status}`, true);
        return;
      }
      renderControls(body);
      say(body.reopened ? "Applied; the camera reopened." : "Applied.");
    } catch (error) {
      say(`The settings could not be applied (${error.message}).`, true);
    }
  });
  settingsToggle.hidden = false;

  if (document.visibilityState === "hidden") {
    pageHidden(); // opened in a background tab
  } else {
    startStatus();
  }
})();
