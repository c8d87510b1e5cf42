// wsgrok dashboard: copy buttons, confirmations, relative times, and the
// live parts over one Server-Sent Events stream per page. No framework.
(function () {
  "use strict";
  var body = document.body;

  // Copy buttons: <button data-copy="text">.
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-copy]");
    if (!b) return;
    var text = b.getAttribute("data-copy");
    var done = function () {
      var old = b.textContent;
      b.textContent = "Copied";
      setTimeout(function () { b.textContent = old; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      var t = document.createElement("textarea");
      t.value = text; document.body.appendChild(t); t.select();
      try { document.execCommand("copy"); done(); } finally { t.remove(); }
    }
  });

  // Forms that ask first: <form data-confirm="...">.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    var q = f.getAttribute && f.getAttribute("data-confirm");
    if (q && !window.confirm(q)) e.preventDefault();
  });

  // Selects that submit their form on change.
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });

  // Times: data-rel shows "3m ago", data-local="time" the local clock time.
  function ago(d) {
    var s = Math.max(0, (Date.now() - d.getTime()) / 1000);
    if (s < 5) return "just now";
    if (s < 60) return Math.floor(s) + "s ago";
    if (s < 3600) return Math.floor(s / 60) + "m ago";
    if (s < 172800) return Math.floor(s / 3600) + "h ago";
    return Math.floor(s / 86400) + "d ago";
  }
  function times(root) {
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d)) return;
      if (t.hasAttribute("data-rel")) t.textContent = ago(d);
      else if (t.getAttribute("data-local") === "time") t.textContent = d.toLocaleTimeString([], { hour12: false });
    });
  }
  times(document);
  setInterval(function () { times(document); }, 10000);

  var live = body.getAttribute("data-live");
  if (!live || !window.EventSource) return;
  var pill = document.getElementById("live-state");
  var es = new EventSource("/events");
  es.onopen = function () { if (pill) pill.setAttribute("data-state", "open"); };
  es.onerror = function () { if (pill) pill.setAttribute("data-state", "closed"); };
  es.addEventListener("logout", function () { window.location = "/login?next=" + encodeURIComponent(location.pathname + location.search); });

  if (live === "tunnels") {
    var box = document.getElementById("tunnels");
    es.addEventListener("tunnels", function (e) {
      box.innerHTML = JSON.parse(e.data).html;
      times(box);
      body.setAttribute("data-tunnels", String(JSON.parse(e.data).count || 0));
    });
  }

  if (live === "traffic") {
    var rows = document.getElementById("traffic-rows");
    var empty = document.getElementById("traffic-empty");
    var filter = document.getElementById("traffic-filter");
    var pause = document.getElementById("traffic-pause");
    var paused = false, maxRows = 500;
    var want = new URLSearchParams(location.search).get("endpoint");
    if (want) filter.value = want;
    var apply = function () {
      var v = filter.value;
      rows.querySelectorAll("tr").forEach(function (r) { r.hidden = v !== "" && r.getAttribute("data-endpoint") !== v; });
    };
    filter.addEventListener("change", apply);
    apply();
    pause.addEventListener("click", function () {
      paused = !paused;
      pause.setAttribute("aria-pressed", String(paused));
      pause.textContent = paused ? "Resume" : "Pause";
    });
    es.addEventListener("request", function (e) {
      if (paused) return;
      var d = JSON.parse(e.data);
      var tb = document.createElement("tbody");
      tb.innerHTML = d.html;
      var tr = tb.firstElementChild;
      if (!tr) return;
      tr.classList.add("fresh");
      if (filter.value && d.endpoint !== filter.value) tr.hidden = true;
      times(tr);
      rows.insertBefore(tr, rows.firstChild);
      while (rows.children.length > maxRows) rows.lastElementChild.remove();
      empty.hidden = true;
      if (d.endpoint && !Array.prototype.some.call(filter.options, function (o) { return o.value === d.endpoint; })) {
        filter.add(new Option(d.endpoint, d.endpoint));
      }
    });
  }

  if (live === "analytics") {
    var panel = document.getElementById("analytics-panel");
    var busy = false, again = false;
    var refresh = function () {
      if (busy) { again = true; return; }
      busy = true;
      fetch(panel.getAttribute("data-src"), { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Error(r.status);
        return r.text();
      }).then(function (html) {
        panel.innerHTML = html;
        times(panel);
      }).catch(function () {}).then(function () {
        busy = false;
        if (again) { again = false; setTimeout(refresh, 1000); }
      });
    };
    es.addEventListener("usage", refresh);
  }
})();
