/* Index carousel: slides enter from the right (prev: from the left), autoplay every 4 s, paused on hover. */
(function () {
  'use strict';
  var root = document.getElementById('slide');
  if (!root) { return; }
  var slides = root.querySelectorAll('.slide-pics li');
  var dots = root.querySelectorAll('.slide-dots li');
  if (slides.length < 2) { return; }
  var current = 0, busy = false, timer = null;
  var DURATION = 800;

  function easeOutExpo(t) { return t === 1 ? 1 : 1 - Math.pow(2, -10 * t); }

  function place(el, x) { el.style.transform = 'translateX(' + x + 'px)'; }

  function go(target, direction) {
    if (busy || target === current) { return; }
    busy = true;
    var width = root.clientWidth;
    var from = slides[current], to = slides[target];
    var sign = direction > 0 ? 1 : -1;
    place(to, sign * width);
    to.classList.add('current');
    var start = null;
    function step(now) {
      if (start === null) { start = now; }
      var k = easeOutExpo(Math.min(1, (now - start) / DURATION));
      place(from, -sign * width * k);
      place(to, sign * width * (1 - k));
      if (k < 1) { window.requestAnimationFrame(step); return; }
      from.classList.remove('current');
      place(from, 0);
      dots[current] && dots[current].classList.remove('active');
      current = target;
      dots[current] && dots[current].classList.add('active');
      busy = false;
    }
    window.requestAnimationFrame(step);
  }

  function next() { go((current + 1) % slides.length, 1); }
  function prev() { go((current - 1 + slides.length) % slides.length, -1); }
  function play() { stop(); timer = window.setInterval(next, 4000); }
  function stop() { if (timer) { window.clearInterval(timer); timer = null; } }

  root.querySelector('.slide-next').addEventListener('click', next);
  root.querySelector('.slide-prev').addEventListener('click', prev);
  Array.prototype.forEach.call(dots, function (dot, i) {
    dot.addEventListener('click', function () { go(i, i > current ? 1 : -1); });
  });
  root.addEventListener('mouseenter', stop);
  root.addEventListener('mouseleave', play);
  document.addEventListener('visibilitychange', function () { if (document.hidden) { stop(); } else { play(); } });
  play();
})();
