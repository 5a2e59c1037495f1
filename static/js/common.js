/* Shared by every page script: the _xsrf token, the AJAX POST of the original's JSON contract, inline notes. */
(function () {
  "use strict";

  // The res code of a call sent from a stale page (its _xsrf no longer matches): fresh.web.WebRes.STALE_PAGE.
  var STALE_FORM = -2;

  function xsrf() {
    var field = document.querySelector("input[name=_xsrf]") || document.getElementById("orders-xsrf");
    if (field) { return field.value; }
    var match = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  /* POST form fields with the token; always resolves to the reply's JSON, or {res: -1, errmsg} on failure. */
  function post(url, fields) {
    var body = new URLSearchParams(fields);
    body.append("_xsrf", xsrf());
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-Requested-With": "XMLHttpRequest" }
    }).then(function (resp) {
      return resp.json().catch(function () { return { res: -1, errmsg: "服务器开小差了，请稍后再试" }; });
    }, function () {
      return { res: -1, errmsg: "网络异常，请检查网络后重试" };
    });
  }

  /* Show `text` in the inline note `el` (kind "error", "ok" or ""), with an optional link {href, text}.
     A stale page's note always offers to reload it. */
  function say(el, text, kind, link) {
    if (!el) { return; }
    el.textContent = text || "";
    el.classList.toggle("error", kind === "error");
    el.classList.toggle("ok", kind === "ok");
    if (link) {
      var a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      el.appendChild(document.createTextNode(" "));
      el.appendChild(a);
    }
  }

  /* The note for a refused reply: a stale page gets a reload link. */
  function sayRefusal(el, reply, fallback) {
    if (reply.res === STALE_FORM) {
      say(el, reply.errmsg, "error", { href: window.location.pathname + window.location.search, text: "刷新页面" });
    } else {
      say(el, reply.errmsg || reply.message || fallback, "error");
    }
  }

  window.dailyfresh = { xsrf: xsrf, post: post, say: say, sayRefusal: sayRefusal, STALE_FORM: STALE_FORM };
})();
