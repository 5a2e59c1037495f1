/* Detail page 加入购物车: AJAX add, a short fly-to-cart dot, then the header count (#show_count). */
(function () {
  'use strict';
  var button = document.getElementById('add_cart');
  if (!button) { return; }
  var busy = false;

  function showCount(total) {
    var badge = document.getElementById('show_count');
    if (badge && typeof total === 'number') { badge.textContent = total; }
  }

  // A 20 px red dot starts 80 px right / 10 px below the button's corner, glides to the badge, fades out.
  function fly(done) {
    var badge = document.getElementById('show_count');
    var reduced = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    if (!badge || reduced || !document.body.animate) { done(); return; }
    var from = button.getBoundingClientRect();
    var to = badge.getBoundingClientRect();
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
  }

  button.addEventListener('click', function (event) {
    event.preventDefault();
    if (busy) { return; }
    var input = document.getElementById('num_show');
    busy = true;
    window.dailyfresh.post(button.getAttribute('data-url') || '/cart/add', {
      sku_id: button.getAttribute('data-sku-id') || '',
      count: input ? input.value.trim() : '1'
    }).then(function (reply) {
      busy = false;
      if (reply.res === 5) {
        fly(function () { showCount(reply.total_count); });
      } else {
        window.alert(reply.errmsg || '加入购物车失败');
      }
    });
  });
}());
