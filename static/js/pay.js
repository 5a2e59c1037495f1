/* 去付款: open the Alipay cashier in a new tab, then follow the order's status live over a websocket.
   The socket reconnects after a drop and asks /order/check meanwhile, so the result is never missed. */
(function () {
  "use strict";

  var post = window.dailyfresh.post;

  var FINAL_CLOSE_CODES = { 4401: true, 4403: true, 4404: true };
  // /order/pay's res code with the cashier's pay_url: fresh.payments.pay.PayRes.GO.
  var PAY_GO = 3;

  function paidOrClosed(payload) { return payload.paid || payload.status === 6; }

  /* Call onStatus(payload) with the order's status now and at every change, until isDone(payload) (by default:
     paid or closed). */
  function watchOrder(orderId, onStatus, isDone) {
    var delay = 1000, done = false, socket = null;
    isDone = isDone || paidOrClosed;
    function handle(payload) {
      onStatus(payload);
      if (isDone(payload)) {
        done = true;
        if (socket) { socket.close(1000); }
      }
    }
    function check() {
      post("/order/check", { order_id: orderId }).then(function (data) {
        if (data && data.status) { handle(data); }
      });
    }
    function connect() {
      if (done) { return; }
      var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + window.location.host + "/ws/orders/" + encodeURIComponent(orderId));
      socket.onopen = function () { delay = 1000; };
      socket.onmessage = function (ev) {
        var msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.type === "status") { handle(msg); }
      };
      socket.onclose = function (ev) {
        socket = null;
        if (done || FINAL_CLOSE_CODES[ev.code]) { return; }
        check();
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10000);
      };
    }
    connect();
    window.dailyfreshWatchers = window.dailyfreshWatchers || {};
    window.dailyfreshWatchers[orderId] = { close: function () { if (socket) { socket.close(4000); } } };
  }

  function showOnCard(card, payload) {
    var text = payload.paid ? "支付成功" : payload.status === 1 ? "等待支付…" : payload.status_name;
    var note = card.querySelector(".live-status");
    if (note) { note.textContent = text; note.classList.toggle("paid", !!payload.paid); }
    card.querySelectorAll(".order-head .stat, td.status .status-name").forEach(function (el) {
      el.textContent = payload.status_name;
    });
    if (payload.status !== 1) {
      card.querySelectorAll(".pay-btn, .cancel-btn").forEach(function (btn) { btn.remove(); });
    }
  }

  document.querySelectorAll(".pay-btn").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var orderId = btn.getAttribute("data-order-id");
      var card = btn.closest(".order-card");
      // Opened now, inside the click, so the browser does not treat it as an unwanted pop-up.
      var cashier = window.open("", "_blank");
      btn.disabled = true;
      post("/order/pay", { order_id: orderId }).then(function (data) {
        btn.disabled = false;
        if (data.res !== PAY_GO) {
          if (cashier) { cashier.close(); }
          alert(data.errmsg || "支付失败");
          return;
        }
        if (cashier) { cashier.location.href = data.pay_url; } else { window.location.href = data.pay_url; }
        var note = card.querySelector(".live-status");
        if (!note) {
          note = document.createElement("div");
          note.className = "live-status";
          btn.parentNode.insertBefore(note, btn);
        }
        note.textContent = "等待支付…";
        watchOrder(orderId, function (payload) { showOnCard(card, payload); });
      });
    });
  });

  // Paid orders waiting for shipment follow their status too: when staff ship one (or it is refunded or closed),
  // the page is loaded again, showing the new status with its carrier, tracking number and buttons.
  document.querySelectorAll(".order-card").forEach(function (card) {
    var stat = card.querySelector(".order-head .stat");
    if (!stat || stat.textContent.trim() !== "待发货") { return; }
    var waiting = function (payload) { return payload.status !== 2; };
    watchOrder(card.getAttribute("data-order-id"), function (payload) {
      if (waiting(payload)) { window.location.reload(); }
    }, waiting);
  });

  // The return page follows its order by itself.
  document.querySelectorAll("[data-watch-order]").forEach(function (el) {
    watchOrder(el.getAttribute("data-watch-order"), function (payload) { showOnCard(el, payload); });
  });
})();
