/* Shared by every page script: the _xsrf token and the AJAX POST of the original's JSON contract. */
(function () {
  "use strict";

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

  window.dailyfresh = { xsrf: xsrf, post: post };
})();
