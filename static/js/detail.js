/* Detail page: the quantity box (+ / − / typed, never below 1), the total, and the 商品介绍 / 评论 tabs. */
(function () {
  'use strict';
  var input = document.getElementById('num_show');
  var priceEl = document.getElementById('unit_price');
  var totalEl = document.getElementById('total_price');

  // Prices in cents as integers, so the total never shows float noise such as 50.400000000000006.
  function cents(text) {
    var m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(String(text).trim());
    return m ? parseInt(m[1], 10) * 100 + parseInt(((m[2] || '') + '00').slice(0, 2), 10) : 0;
  }

  function quantity() {
    var n = parseInt(input.value, 10);
    return /^\d+$/.test(input.value.trim()) && n > 0 ? n : 1;
  }

  function update() {
    var total = cents(priceEl.getAttribute('data-price')) * quantity();
    var yuan = Math.floor(total / 100), fen = total % 100;
    totalEl.textContent = yuan + '.' + (fen < 10 ? '0' : '') + fen + '元';
  }

  if (input && priceEl && totalEl) {
    document.getElementById('num_add').addEventListener('click', function () {
      input.value = quantity() + 1; update();
    });
    document.getElementById('num_minus').addEventListener('click', function () {
      input.value = Math.max(1, quantity() - 1); update();
    });
    input.addEventListener('blur', function () { input.value = quantity(); update(); });
    input.addEventListener('input', function () { if (/^\d+$/.test(input.value.trim())) { update(); } });
    update();
  }

  var tabs = document.querySelectorAll('.detail-tab li');
  Array.prototype.forEach.call(tabs, function (tab) {
    function show() {
      Array.prototype.forEach.call(tabs, function (t) {
        var on = t === tab;
        t.classList.toggle('active', on);
        t.setAttribute('aria-selected', on ? 'true' : 'false');
        document.getElementById('tab_' + t.getAttribute('data-tab')).hidden = !on;
      });
    }
    tab.addEventListener('click', show);
    tab.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); show(); } });
  });
})();
