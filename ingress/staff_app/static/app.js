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

  if (!window.EventSource) { poll(); return; }
  var source = new EventSource("/app/events");
  source.addEventListener("open", function () { failures = 0; say(""); document.body.setAttribute("data-live-connected", "true"); });
  source.addEventListener("inbox", function (event) {
    if (mode === "thread") {
      var data = {};
      try { data = JSON.parse(event.data); } catch (e) { data = {}; }
      var mine = target.getAttribute("data-conversation");
      if (data.conversation_id && data.conversation_id !== mine) { return; }
    }
    refresh();
  });
  source.addEventListener("error", function () {
    // EventSource reconnects by itself (the server ends each stream after a while); give up only when it fails
    // several times in a row, e.g. refused with 503.
    failures += 1;
    if (source.readyState === EventSource.CLOSED || failures >= 3) { source.close(); poll(); }
  });
})();
