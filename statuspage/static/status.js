// Keeps an open status page current by polling ./api/status and ./api/incidents; no framework,
// nothing from a CDN. Words come from the page's catalogue (./api/i18n, the templates' own), and
// every time is shown with one Intl.DateTimeFormat, in the reader's time zone and language.
(function () {
  "use strict";

  var pollMs = Math.max(250, parseInt(document.body.getAttribute("data-poll-ms"), 10) || 5000);
  var lang = document.documentElement.lang || "zh-CN";
  var byId = function (id) { return document.getElementById(id); };
  var catalogue = {};
  var lastChange = null;
  var lastIncidents = null;
  var fresh = byId("freshness").textContent; // both texts come with the page, so they need no catalogue

  function gettext(msgid) {
    return Object.prototype.hasOwnProperty.call(catalogue, msgid) ? catalogue[msgid] : msgid;
  }

  function interpolate(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  }

  // The reader's own variant of the page's language (en-GB on the English page), then the page's.
  var locales = (navigator.languages || []).filter(function (l) {
    return l.split("-")[0].toLowerCase() === lang.split("-")[0].toLowerCase();
  }).concat([lang]);
  var timeFormat = new Intl.DateTimeFormat(locales, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  });
  var listFormat = window.Intl && Intl.ListFormat ? new Intl.ListFormat(lang, { type: "conjunction" }) : null;

  function joinNames(names) {
    return listFormat ? listFormat.format(names) : names.join(", ");
  }

  function affected(names) {
    return interpolate(gettext("Affected: %(channels)s"), { channels: joinNames(names) });
  }

  function setTime(el, iso) {
    if (!iso) {
      el.textContent = gettext("none yet");
      el.removeAttribute("datetime");
      return;
    }
    el.setAttribute("datetime", iso);
    el.textContent = timeFormat.format(new Date(iso));
  }

  function showTimes(root) {
    Array.prototype.forEach.call(root.querySelectorAll("time[datetime]"), function (el) {
      var iso = el.getAttribute("datetime");
      if (iso) { setTime(el, iso); }
    });
  }

  function element(tag, className, text) {
    var el = document.createElement(tag);
    if (className) { el.className = className; }
    if (text !== undefined) { el.textContent = text; }
    return el;
  }

  // A text in the page's language, else in zh-CN, marked with the language it is in.
  function textIn(texts, tag, className) {
    var shown = texts[lang] ? lang : "zh-CN";
    var el = element(tag, className, texts[shown]);
    if (shown !== lang) { el.lang = shown; }
    return el;
  }

  function label(t) {
    switch (t.reason) {
      case "alert_firing": return interpolate(gettext("Disruption started: %(where)s"), { where: t.channel_name });
      case "recovered": return interpolate(gettext("Recovered: %(where)s"), { where: t.channel_name });
      case "override_on": return gettext("Notice posted by the operations team");
      case "override_off": return gettext("Notice hidden by the operations team");
      default: return gettext("Notice ended");
    }
  }

  function renderHistory(transitions) {
    var list = byId("history");
    list.textContent = "";
    if (!transitions.length) {
      list.appendChild(element("li", "empty", gettext("No disruptions recorded.")));
    }
    transitions.forEach(function (t) {
      var item = element("li", t.on ? "on" : "off");
      var time = element("time");
      setTime(time, t.at);
      item.appendChild(time);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(element("span", "", label(t)));
      list.appendChild(item);
    });
  }

  function renderIncidents(incidents) {
    var list = byId("incidents");
    list.textContent = "";
    if (!incidents.length) {
      list.appendChild(element("li", "empty", gettext("No incidents reported.")));
    }
    incidents.forEach(function (incident) {
      var item = element("li", "incident");
      item.setAttribute("data-state", incident.state);
      var heading = element("h3");
      heading.appendChild(textIn(incident.title, "span", "incident-title"));
      heading.appendChild(document.createTextNode(" "));
      heading.appendChild(element("span", "state", incident.state_label));
      item.appendChild(heading);
      if (incident.channel_names.length) {
        item.appendChild(element("p", "incident-channels", affected(incident.channel_names)));
      }
      var updates = element("ol", "updates");
      incident.updates.forEach(function (update) {
        var entry = element("li");
        entry.setAttribute("data-state", update.state);
        var head = element("p", "update-head");
        head.appendChild(element("strong", "state", update.state_label));
        head.appendChild(document.createTextNode(" "));
        var time = element("time");
        setTime(time, update.at);
        head.appendChild(time);
        entry.appendChild(head);
        entry.appendChild(textIn(update.message, "p", "update-message"));
        updates.appendChild(entry);
      });
      item.appendChild(updates);
      list.appendChild(item);
    });
  }

  function render(s) {
    byId("banner").hidden = !s.on;
    byId("normal").hidden = s.on;
    byId("banner-message").textContent = s.message || "";
    byId("banner-channels").textContent = affected(s.channel_names);
    setTime(byId("banner-since"), s.since);
    setTime(byId("updated"), s.updated_at);
    byId("updated").parentNode.classList.remove("stale");
    byId("freshness").textContent = fresh;
    if (s.updated_at !== lastChange) {
      lastChange = s.updated_at;
      getJson("api/history?limit=10&lang=" + encodeURIComponent(lang))
        .then(function (h) { renderHistory(h.transitions); })
        .catch(function () { /* the list stays as it was; the next change retries */ });
    }
  }

  function stale() {
    byId("updated").parentNode.classList.add("stale");
    byId("freshness").textContent = byId("freshness").getAttribute("data-stale");
  }

  function getJson(url) {
    return fetch(url, { cache: "no-store" }).then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); });
  }

  function poll() {
    var query = "?lang=" + encodeURIComponent(lang);
    Promise.all([getJson("api/status" + query), getJson("api/incidents" + query + "&limit=10")])
      .then(function (both) {
        render(both[0]);
        var seen = JSON.stringify(both[1].incidents);
        if (seen !== lastIncidents) {
          lastIncidents = seen;
          renderIncidents(both[1].incidents);
        }
      }, stale)
      .then(function () { window.setTimeout(poll, pollMs); });
  }

  function start() {
    getJson("api/i18n?lang=" + encodeURIComponent(lang))
      .then(function (c) { catalogue = c.messages; poll(); }, function () {
        stale();
        window.setTimeout(start, pollMs);
      });
  }

  showTimes(document);
  start();
})();
