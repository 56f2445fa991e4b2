// exorelay explorer: the only script. It refreshes the backlog counters from /v1/stats; every page
// works without it (the server renders the same figures).
(function () {
  "use strict";

  // Same rules as indexer.api.explorer.views.duration.
  function duration(seconds) {
    var s = Math.max(0, seconds);
    if (s < 1) return s.toFixed(2) + " s";
    if (s < 60) return s.toFixed(1) + " s";
    var w = Math.floor(s);
    if (w < 3600) return Math.floor(w / 60) + " min " + (w % 60) + " s";
    if (w < 86400) return Math.floor(w / 3600) + " h " + Math.floor((w % 3600) / 60) + " min";
    return Math.floor(w / 86400) + " d " + Math.floor((w % 86400) / 3600) + " h";
  }

  // Same rules as indexer.api.explorer.views.utc_text, from the API's RFC 3339 text (always UTC, "Z").
  function utc(text) {
    var m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?/.exec(text);
    if (!m) return text;
    var out = m[1] + " " + m[2];
    var micro = (m[3] || "").slice(0, 6).padEnd(6, "0");
    if (parseInt(micro, 10) !== 0) out += "." + micro.slice(0, 3);
    return out + " UTC";
  }

  function setValue(el, value, text) {
    if (el.textContent === text) return;
    el.textContent = text;
    if ("value" in el) el.value = value;
    el.classList.remove("changed");
    void el.offsetWidth; // restart the highlight animation
    el.classList.add("changed");
  }

  function apply(root, stats) {
    root.querySelectorAll("[data-backlog]").forEach(function (el) {
      var n = String(stats.backlog[el.dataset.backlog] || 0);
      setValue(el, n, n);
    });
    root.querySelectorAll("[data-count]").forEach(function (el) {
      var parts = el.dataset.count.split(".");
      var n = String((stats.counts[parts[0]] || {})[parts[1]] || 0);
      setValue(el, n, n);
    });
    root.querySelectorAll("[data-oldest]").forEach(function (el) {
      var age = stats.oldest_pending_age_s[el.dataset.oldest];
      var text = age === null || age === undefined ? "none" : duration(age);
      if (el.textContent !== text) el.textContent = text;
    });
    var stamp = root.querySelector("[data-stats-generated]");
    if (stamp) {
      stamp.setAttribute("datetime", stats.generated_at);
      stamp.textContent = utc(stats.generated_at);
    }
  }

  function start(root) {
    var url = root.dataset.statsUrl;
    var interval = parseInt(root.dataset.pollMs, 10) || 5000;
    var status = root.querySelector("[data-stats-status]");
    var button = root.querySelector("[data-stats-refresh]");
    var busy = false;

    function refresh() {
      if (busy) return;
      busy = true;
      fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (stats) {
          apply(root, stats);
          var live = "Refreshed every " + interval / 1000 + " s.";
          status.classList.remove("stale");
          if (status.textContent !== live) status.textContent = live;
          root.dataset.refreshes = String((parseInt(root.dataset.refreshes, 10) || 0) + 1);
        })
        .catch(function (error) {
          status.classList.add("stale");
          status.textContent = "Could not refresh (" + error.message + "); the figures may be out of date.";
        })
        .finally(function () {
          busy = false;
        });
    }

    if (button) {
      button.hidden = false;
      button.addEventListener("click", refresh);
    }
    setInterval(function () {
      if (!document.hidden) refresh();
    }, interval);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) refresh();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-stats-url]").forEach(start);
  });
})();
