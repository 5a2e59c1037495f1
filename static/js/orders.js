/* Orders pages: commit from the confirmation page; cancel / confirm receipt on the orders list.
   去付款 (.pay-btn) is wired by the payments script. */
(function () {
  "use strict";

  var df = window.dailyfresh;
  var post = df.post;
  // res codes: fresh.orders.place.CommitRes.CREATED, and fresh.orders.status.ActionRes for cancel / confirm.
  var COMMIT_CREATED = 5;
  var ACTION = { NOT_ALLOWED: 3, DONE: 4 };

  /* Confirmation page. The idem_key stays the same for every click on this page, so a double click or a retry
     after a network failure returns the first order instead of creating a second one. */
  var form = document.getElementById("order-form");
  if (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var btn = document.getElementById("order_btn");
      var tip = document.getElementById("order_tip");
      var addr = form.querySelector("input[name=addr_id]:checked");
      if (!addr) { df.say(tip, "请选择收货地址", "error"); return; }
      btn.disabled = true;
      post(form.action, {
        addr_id: addr.value,
        pay_method: form.querySelector("input[name=pay_method]:checked").value,
        sku_ids: form.querySelector("input[name=sku_ids]").value,
        idem_key: form.querySelector("input[name=idem_key]").value
      }).then(function (data) {
        if (data.res === COMMIT_CREATED) {
          var popup = document.getElementById("order-popup");
          popup.hidden = false;
          setTimeout(function () { window.location.href = form.getAttribute("data-done-url"); }, 3000);
        } else {
          btn.disabled = false;
          df.sayRefusal(tip, data, "下单失败，请稍后再试");
        }
      });
    });
  }

  /* Orders list: cancel and confirm receipt. */
  function bind(selector, question) {
    document.querySelectorAll(selector).forEach(function (btn) {
      btn.addEventListener("click", function () {
        if (!confirm(question)) { return; }
        btn.disabled = true;
        post(btn.getAttribute("data-url"), { order_id: btn.getAttribute("data-order-id") }).then(function (data) {
          if (data.res === ACTION.DONE) { window.location.reload(); return; }
          btn.disabled = false;
          alert(data.errmsg || "操作失败");
          if (data.res === ACTION.NOT_ALLOWED) { window.location.reload(); }
        });
      });
    });
  }
  bind(".cancel-btn", "确定取消这个订单吗？");
  bind(".confirm-btn", "确认已经收到货物了吗？");
})();
