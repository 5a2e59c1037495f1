// Register page: check each field when it loses focus and again on submit; the server checks everything anyway.
(function () {
  "use strict";
  var form = document.getElementById("reg_form");
  if (!form) return;
  var checks = {
    username: function (v) { return /^[A-Za-z0-9_]{5,20}$/.test(v) ? "" : "请输入5-20个字符的用户名（字母、数字或下划线）"; },
    pwd: function (v) { return v.length >= 8 && v.length <= 20 ? "" : "密码最少8位，最长20位"; },
    cpwd: function (v) { return v === form.elements.pwd.value ? "" : "两次输入的密码不一致"; },
    email: function (v) { return /^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$/.test(v) ? "" : "你输入的邮箱格式不正确"; },
    allow: function (v, el) { return el.checked ? "" : "请勾选同意"; }
  };
  function check(name) {
    var el = form.elements[name];
    var msg = checks[name](el.value, el);
    var tip = form.querySelector('.error-tip[data-for="' + name + '"]');
    if (tip) tip.textContent = msg;
    el.closest("li").classList.toggle("has-error", !!msg);
    return !msg;
  }
  Object.keys(checks).forEach(function (name) {
    var el = form.elements[name];
    el.addEventListener(name === "allow" ? "change" : "blur", function () { check(name); });
  });
  form.addEventListener("submit", function (ev) {
    var ok = Object.keys(checks).map(check).every(Boolean);
    if (!ok) ev.preventDefault();
  });
})();
