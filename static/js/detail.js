/* Detail page: the quantity box (+ / − / typed, 1 to the stock and the per-line limit, said next to the box),
   the total, 加入购物车 (AJAX, a fly-to-cart dot, the header count) and 立即购买 (AJAX, then the confirmation
   page), and the 商品介绍 / 评论 tabs. Without JavaScript the same form posts and the server redirects. */
(function () {
  'use strict';
  var df = window.dailyfresh;
  var form = document.getElementById('buy_form');
  var input = document.getElementById('num_show');
  var priceEl = document.getElementById('unit_price');
  var totalEl = document.getElementById('total_price');
  var tip = document.getElementById('num_tip');

  // Prices in cents as integers, so the total never shows float noise such as 50.400000000000006.
  function cents(text) {
    var m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(String(text).trim());
    return m ? parseInt(m[1], 10) * 100 + parseInt(((m[2] || '') + '00').slice(0, 2), 10) : 0;
  }

  if (form && input && priceEl && totalEl) {
    var stock = parseInt(form.getAttribute('data-stock'), 10) || 0;
    var maxCount = parseInt(form.getAttribute('data-max-count'), 10) || 999;
    var limit = Math.min(stock, maxCount);
    var plus = document.getElementById('num_add'), minus = document.getElementById('num_minus');
    var busy = false;

    var say = function (text, kind, link) { df.say(tip, text, kind, link); };
    var hint = function () { say(tip.getAttribute('data-hint'), ''); };

    var limitText = function () {
      return stock < maxCount ? '库存仅剩' + stock + '件' : '每单最多购买' + maxCount + '件';
    };

    // The typed value as a count, or null when it is not one (empty, not digits, 0).
    var typed = function () {
      var text = input.value.trim();
      var n = /^[0-9]{1,6}$/.test(text) ? parseInt(text, 10) : 0;
      return n > 0 ? n : null;
    };

    var show = function (n) {
      input.value = n;
      var total = cents(priceEl.getAttribute('data-price')) * n;
      var yuan = Math.floor(total / 100), fen = total % 100;
      totalEl.textContent = yuan + '.' + (fen < 10 ? '0' : '') + fen + '元';
      plus.disabled = n >= limit;
      minus.disabled = n <= 1;
    };

    // Settle the box on a valid count: too many becomes the limit, with the reason next to the box. A corrected
    // count is not sent by the click that caused the correction (leaving the box comes first, on mousedown): the
    // shopper sees the new count and confirms it with another click.
    var corrected = false, correctedAt = 0;
    var settle = function () {
      var n = typed();
      if (n === null) { show(1); say('请输入1到' + limit + '之间的整数', 'error'); corrected = true; correctedAt = Date.now(); return 1; }
      if (n > limit) { show(limit); say(limitText() + '，已为您改为' + limit + '件', 'error'); corrected = true; correctedAt = Date.now(); return limit; }
      show(n);
      return n;
    };

    plus.hidden = false;
    minus.hidden = false;
    plus.addEventListener('click', function () {
      var n = typed() || 1;
      if (n >= limit) { say(limitText(), 'error'); show(limit); return; }
      show(n + 1); hint();
    });
    minus.addEventListener('click', function () { show(Math.max(1, (typed() || 1) - 1)); hint(); });
    input.addEventListener('blur', settle);
    input.addEventListener('input', function () {
      corrected = false;
      var n = typed();
      if (n !== null && n <= limit) { show(n); hint(); } else if (n !== null) { say(limitText(), 'error'); }
    });
    show(Math.min(typed() || 1, Math.max(limit, 1)));

    var badge = document.getElementById('show_count');
    // A 20 px red dot starts 80 px right / 10 px below the button's corner, glides to the badge, fades out.
    var fly = function (button, done) {
      var reduced = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
      if (!badge || reduced || !document.body.animate) { done(); return; }
      var from = button.getBoundingClientRect(), to = badge.getBoundingClientRect();
      var dot = document.createElement('div');
      dot.setAttribute('aria-hidden', 'true');
      dot.style.cssText = 'position:fixed;width:20px;height:20px;border-radius:50%;background:#c40000;' +
        'z-index:9;pointer-events:none;left:' + (from.left + 80) + 'px;top:' + (from.top + 10) + 'px';
      document.body.appendChild(dot);
      var dx = to.left + 7 - (from.left + 80), dy = to.top + 7 - (from.top + 10);
      var glide = dot.animate([{ transform: 'translate(0,0)' }, { transform: 'translate(' + dx + 'px,' + dy + 'px)' }],
        { duration: 200, easing: 'ease-out', fill: 'forwards' });
      glide.onfinish = function () {
        var fade = dot.animate([{ opacity: 1 }, { opacity: 0 }], { duration: 200, fill: 'forwards' });
        fade.onfinish = function () { dot.remove(); done(); };
      };
    };

    var refusal = function (reply) {
      if (reply.res === df.STALE_FORM) { say(reply.errmsg, 'error', { href: window.location.pathname, text: '刷新页面' }); return; }
      if (reply.res === 4 && typeof reply.stock === 'number') {
        var text = reply.stock <= 0 ? '该商品已售罄' : '库存不足：库存' + reply.stock + '件';
        if (reply.in_cart) { text += '，购物车中已有' + reply.in_cart + '件'; }
        say(text, 'error');
        return;
      }
      if (reply.res === 0) {
        say(reply.errmsg || '请先登录', 'error', { href: '/user/login?next=' + encodeURIComponent(window.location.pathname), text: '去登录' });
        return;
      }
      say(reply.errmsg || '操作失败，请稍后再试', 'error');
    };

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (busy || limit < 1) { return; }
      var wanted = typed();
      if (wanted === null || wanted > limit) { settle(); }
      if (corrected && Date.now() - correctedAt < 1500) { corrected = false; return; }
      corrected = false;
      var n = settle();
      var buyNow = event.submitter && event.submitter.id === 'buy_now';
      var button = buyNow ? event.submitter : document.getElementById('add_cart');
      busy = true;
      df.post(buyNow ? form.getAttribute('data-buy-url') : form.getAttribute('action'), {
        sku_id: form.elements.sku_id.value, count: String(n)
      }).then(function (reply) {
        busy = false;
        if (reply.res !== 5) { refusal(reply); return; }
        if (buyNow) { window.location.href = reply.next; return; }
        fly(button, function () {
          if (badge && typeof reply.total_count === 'number') { badge.textContent = reply.total_count; }
          say('已加入购物车' + n + '件', 'ok', { href: '/cart', text: '去购物车结算 >' });
        });
      });
    });
  }

  var tabs = document.querySelectorAll('.detail-tab li');
  Array.prototype.forEach.call(tabs, function (tab) {
    function select() {
      Array.prototype.forEach.call(tabs, function (t) {
        var on = t === tab;
        t.classList.toggle('active', on);
        t.setAttribute('aria-selected', on ? 'true' : 'false');
        document.getElementById('tab_' + t.getAttribute('data-tab')).hidden = !on;
      });
    }
    tab.addEventListener('click', select);
    tab.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); select(); } });
  });
})();
