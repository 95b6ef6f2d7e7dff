// Keeps an open status page current by polling ./api/status; no framework, nothing from a CDN.
(function () {
  "use strict";

  var pollMs = Math.max(250, parseInt(document.body.getAttribute("data-poll-ms"), 10) || 5000);
  var byId = function (id) { return document.getElementById(id); };
  var lastChange = null;

  function where(channel) {
    return channel === "all" ? "all payment methods" : channel;
  }

  function channelsText(channels) {
    return channels.indexOf("all") >= 0 ? where("all") : channels.join(", ");
  }

  function label(t) {
    switch (t.reason) {
      case "alert_firing": return "Disruption started: " + where(t.channel);
      case "recovered": return "Recovered: " + where(t.channel);
      case "override_on": return "Notice posted by the operations team";
      case "override_off": return "Notice hidden by the operations team";
      default: return "Notice ended";
    }
  }

  function setTime(el, epoch) {
    if (epoch === null || epoch === undefined) {
      el.textContent = "none yet";
      el.removeAttribute("datetime");
      return;
    }
    var when = new Date(epoch * 1000);
    el.setAttribute("datetime", when.toISOString());
    el.textContent = when.toLocaleString();
  }

  function renderHistory(transitions) {
    var list = byId("history");
    list.textContent = "";
    if (!transitions.length) {
      var empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = "No disruptions recorded.";
      list.appendChild(empty);
    }
    transitions.forEach(function (t) {
      var item = document.createElement("li");
      item.className = t.on ? "on" : "off";
      var time = document.createElement("time");
      setTime(time, t.at);
      var text = document.createElement("span");
      text.textContent = label(t);
      item.appendChild(time);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(text);
      list.appendChild(item);
    });
  }

  function render(s) {
    byId("banner").hidden = !s.on;
    byId("normal").hidden = s.on;
    byId("banner-message").textContent = s.message || "";
    byId("banner-channels").textContent = channelsText(s.channels);
    setTime(byId("banner-since"), s.since);
    setTime(byId("updated"), s.updated_at);
    byId("updated").parentNode.classList.remove("stale");
    byId("freshness").textContent = "This page updates itself.";
    if (s.updated_at !== lastChange) {
      lastChange = s.updated_at;
      fetch("api/history?limit=10", { cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (h) { renderHistory(h.transitions); })
        .catch(function () { /* the list stays as it was; the next change retries */ });
    }
  }

  function stale() {
    byId("updated").parentNode.classList.add("stale");
    byId("freshness").textContent = "Cannot reach the status service; retrying.";
  }

  function poll() {
    fetch("api/status", { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(render, stale)
      .then(function () { window.setTimeout(poll, pollMs); });
  }

  poll();
})();
