// PayPulse banner for a merchant's checkout page. Include it with:
//   <script src="https://status.example.com/embed.js" async></script>
// Optional attributes: data-channels="alipay,wechat" (only these channels, or an all-channel
// incident, show the banner), data-interval="30" (seconds between checks, at least 1),
// data-target="#where" (a CSS selector for the element to put the banner in; default: top of body),
// data-lang="zh-CN" or "en" (default: the page's <html lang>, else the shopper's browser language).
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.src) { return; }
  var base = new URL(".", script.src);
  var every = Math.max(1, parseFloat(script.getAttribute("data-interval")) || 30) * 1000;
  var only = (script.getAttribute("data-channels") || "")
    .split(",")
    .map(function (c) { return c.trim(); })
    .filter(Boolean);
  var target = script.getAttribute("data-target");
  var wanted = script.getAttribute("data-lang") || document.documentElement.lang || "";
  var lang = null; // what the server chose from `wanted`: zh-CN or en
  var catalogue = {};
  var listFormat = null;

  var box = document.createElement("div");
  box.id = "paypulse-banner";
  box.setAttribute("role", "status");
  box.setAttribute("aria-live", "polite");
  box.hidden = true;
  box.style.cssText = [
    "box-sizing:border-box", "width:100%", "margin:0 0 12px", "padding:12px 16px",
    "background:#fdecea", "border:2px solid #d64545", "border-radius:6px", "color:#9b1c1c",
    "font:600 15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'PingFang SC','Microsoft YaHei'," +
      "'Noto Sans CJK SC','WenQuanYi Zen Hei',sans-serif",
  ].join(";");
  var text = document.createElement("div");
  var channels = document.createElement("div");
  channels.style.cssText = "font-weight:400;font-size:13px;margin-top:4px";
  box.appendChild(text);
  box.appendChild(channels);

  function mount() {
    var parent = (target && document.querySelector(target)) || document.body;
    parent.insertBefore(box, parent.firstChild);
  }

  function gettext(msgid) {
    return Object.prototype.hasOwnProperty.call(catalogue, msgid) ? catalogue[msgid] : msgid;
  }

  function relevant(s) {
    if (!s.on) { return false; }
    if (!only.length || s.channels.indexOf("all") >= 0) { return true; }
    return s.channels.some(function (c) { return only.indexOf(c) >= 0; });
  }

  function render(s) {
    box.setAttribute("data-status", s.on ? "on" : "off"); // the page-wide state, even when filtered out
    box.hidden = !relevant(s);
    text.textContent = s.message || "";
    var names = listFormat ? listFormat.format(s.channel_names) : s.channel_names.join(", ");
    channels.textContent = gettext("Affected: %(channels)s").replace("%(channels)s", names);
  }

  function getJson(path) {
    return fetch(new URL(path, base).href, { cache: "no-store", credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); });
  }

  function poll() {
    getJson("api/status?lang=" + encodeURIComponent(lang))
      .then(render, function () { /* keep what is shown; a checkout page gets no error from us */ })
      .then(function () { window.setTimeout(poll, every); });
  }

  function start() {
    getJson("api/i18n" + (wanted ? "?lang=" + encodeURIComponent(wanted) : ""))
      .then(function (c) {
        catalogue = c.messages;
        lang = c.lang;
        box.lang = lang; // the shop's page may be in another language: screen readers switch voice
        listFormat = window.Intl && Intl.ListFormat ? new Intl.ListFormat(lang, { type: "conjunction" }) : null;
        poll();
      }, function () { window.setTimeout(start, every); });
  }

  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
  start();
})();
