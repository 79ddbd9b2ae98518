// The staff app's one script (no build step). Pages work without it; with it, the inbox list and the thread
// refresh themselves when the server says this tenant's conversations changed (server-sent events from
// /app/events). When the stream is refused (503: the worker's live streams are all in use) or keeps failing,
// it polls the same fragment every few seconds instead.
(function () {
  "use strict";
  var mode = document.body.getAttribute("data-live");
  var target = mode === "inbox" ? document.getElementById("inbox-list")
    : mode === "thread" ? document.getElementById("thread-messages") : null;
  if (!target || !window.fetch) { return; }
  var status = document.getElementById("live-status");
  var pending = false, again = false, pollTimer = null, failures = 0;

  function say(text) { if (status) { status.textContent = text; } }

  function refresh() {
    if (pending) { again = true; return; }
    pending = true;
    fetch(target.getAttribute("data-src"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null) { return; }
        // Keep the keyboard where it was: only replace when something changed.
        if (target.innerHTML.trim() !== html.trim()) { target.innerHTML = html; target.setAttribute("data-updated", String(Date.now())); }
      })
      .catch(function () { /* the next event or poll tries again */ })
      .then(function () { pending = false; if (again) { again = false; refresh(); } });
  }

  function poll() {
    if (pollTimer) { return; }
    say("Live updates paused; refreshing every 5 seconds.");
    pollTimer = window.setInterval(refresh, 5000);
  }

  function stopPolling() {
    if (pollTimer) { window.clearInterval(pollTimer); pollTimer = null; }
  }

  function onInbox(event) {
    if (mode === "thread") {
      var data = {};
      try { data = JSON.parse(event.data); } catch (e) { data = {}; }
      var mine = target.getAttribute("data-conversation");
      if (data.conversation_id && data.conversation_id !== mine) { return; }
    }
    refresh();
  }

  if (!window.EventSource) { poll(); return; }
  // A refused stream (every slot taken, e.g. by pages just left whose streams the server has not yet noticed are
  // gone) is tried again later, backing off to a minute, so live updates come back instead of polling for good.
  var source = null, retryTimer = null, retryDelay = 10000;

  function connect() {
    retryTimer = null;
    failures = 0;
    source = new EventSource("/app/events");
    source.addEventListener("open", function () {
      failures = 0;
      retryDelay = 10000;
      if (pollTimer) { stopPolling(); refresh(); }
      say("");
      document.body.setAttribute("data-live-connected", "true");
    });
    source.addEventListener("inbox", onInbox);
    source.addEventListener("error", function () {
      // EventSource reconnects by itself (the server ends each stream after a while); give up on this one only
      // when it fails several times in a row, e.g. refused with 503.
      failures += 1;
      if (source.readyState === EventSource.CLOSED || failures >= 3) {
        source.close();
        document.body.removeAttribute("data-live-connected");
        poll();
        if (!retryTimer) {
          retryTimer = window.setTimeout(connect, retryDelay);
          retryDelay = Math.min(retryDelay * 2, 60000);
        }
      }
    });
  }

  // Leaving the page closes its stream at once, so the next page's stream finds a slot sooner.
  window.addEventListener("pagehide", function () { if (source) { source.close(); } });
  window.addEventListener("pageshow", function (event) { if (event.persisted) { connect(); } });  // back/forward cache
  connect();
})();
