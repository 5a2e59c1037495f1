/* Cart page: select one / all, totals of the checked rows, +/-/typed counts and delete over AJAX.
   A count changes on the page only after the server accepted it; a refused one goes back to its old value, and
   the reason shows next to the box (.row-tip), never in an alert. Without JavaScript the same buttons post the
   form to their formaction and the server redirects back. */
(function () {
  'use strict';
  var form = document.getElementById('cart_form');
  if (!form) { return; }
  var maxCount = parseInt(form.getAttribute('data-max-count'), 10) || 999;
  var checkAll = document.getElementById('check_all');

  var df = window.dailyfresh;
  var post = df.post;

  function money(cents) {
    var rest = cents % 100;
    return Math.floor(cents / 100) + '.' + (rest < 10 ? '0' : '') + rest;
  }

  function rows() { return Array.prototype.slice.call(form.querySelectorAll('.cart-row')); }
  function box(row) { return row.querySelector('.col-check input'); }
  function count(row) { return parseInt(row.getAttribute('data-count'), 10); }
  function limit(row) { return parseInt(row.getAttribute('data-limit'), 10) || maxCount; }
  function tip(row) { return row.querySelector('.row-tip'); }
  function limitText(row) {
    var stock = parseInt(row.getAttribute('data-stock'), 10);
    return stock < maxCount ? '库存仅剩' + stock + '件' : '每种商品最多' + maxCount + '件';
  }

  // The +/- state and the note under the box for the row's current count.
  function settleRow(row) {
    if (row.classList.contains('off-sale') || row.classList.contains('sold-out')) { return; }
    var n = count(row);
    row.querySelector('.plus').disabled = n >= limit(row);
    row.querySelector('.minus').disabled = n <= 1;
    df.say(tip(row), n >= limit(row) ? limitText(row) : '', '');
  }

  function refreshTotals() {
    var cents = 0, num = 0, enabled = 0, checked = 0;
    rows().forEach(function (row) {
      var cb = box(row);
      if (cb.disabled) { return; }
      enabled += 1;
      if (cb.checked) {
        checked += 1;
        num += count(row);
        cents += count(row) * parseInt(row.getAttribute('data-price'), 10);
      }
    });
    document.getElementById('total_price').textContent = money(cents);
    document.getElementById('total_num').textContent = num;
    checkAll.checked = enabled > 0 && checked === enabled;
    checkAll.disabled = enabled === 0;
    document.getElementById('settle').disabled = checked === 0;
  }

  function setAllCount(total) {
    if (typeof total === 'number') { document.getElementById('all_count').textContent = total; }
  }

  function showEmpty() {
    form.hidden = true;
    document.getElementById('cart_empty').hidden = false;
  }

  function removeRow(row, total) {
    row.parentNode.removeChild(row);
    setAllCount(total);
    if (rows().length === 0) { showEmpty(); } else { refreshTotals(); }
  }

  function setBusy(row, busy) {
    row.classList.toggle('busy', busy);
    var offSale = row.classList.contains('off-sale');
    Array.prototype.forEach.call(row.querySelectorAll('.stepper button, .stepper input, .delete'), function (el) {
      el.disabled = busy || (offSale && !el.classList.contains('delete'));
    });
    if (!busy) { settleRow(row); }
  }

  function changeCount(row, wanted) {
    var input = row.querySelector('.num');
    var old = count(row);
    if (row.classList.contains('busy')) { return; }
    if (wanted === old) { input.value = old; return; }
    setBusy(row, true);
    post(form.getAttribute('data-update-url'), { sku_id: row.getAttribute('data-sku-id'), count: wanted })
      .then(function (reply) {
        setBusy(row, false);
        if (reply.res === 5) {
          row.setAttribute('data-count', wanted);
          input.value = wanted;
          row.querySelector('.amount').textContent = money(wanted * parseInt(row.getAttribute('data-price'), 10));
          var tag = row.querySelector('.col-name .tag');
          if (tag && !row.classList.contains('off-sale')) { tag.parentNode.removeChild(tag); box(row).disabled = false; }
          setAllCount(reply.total_count);
          refreshTotals();
          settleRow(row);
        } else {
          input.value = old;
          if (reply.res === 4 && typeof reply.stock === 'number') {
            row.setAttribute('data-stock', reply.stock);
            row.setAttribute('data-limit', Math.min(reply.stock, maxCount));
            settleRow(row);
            df.say(tip(row), reply.stock > 0 ? '库存不足：仅剩' + reply.stock + '件' : '该商品已售罄', 'error');
          } else {
            df.sayRefusal(tip(row), reply, '更新失败，请稍后再试');
          }
        }
      });
  }

  form.addEventListener('click', function (event) {
    var target = event.target;
    var row = target.closest('.cart-row');
    if (!row || target.tagName !== 'BUTTON') { return; }
    // The buttons are the no-JavaScript form's too: here the page changes in place instead.
    event.preventDefault();
    if (target.classList.contains('plus')) {
      if (count(row) >= limit(row)) { df.say(tip(row), limitText(row), 'error'); return; }
      changeCount(row, count(row) + 1);
    } else if (target.classList.contains('minus')) {
      if (count(row) > 1) { changeCount(row, count(row) - 1); }
    } else if (target.classList.contains('delete')) {
      if (row.classList.contains('busy')) { return; }
      setBusy(row, true);
      post(form.getAttribute('data-delete-url'), { sku_id: row.getAttribute('data-sku-id') }).then(function (reply) {
        // 商品不存在 (res 2) means it was already gone from the cart: drop the row as well.
        if (reply.res === 3 || reply.res === 2) {
          removeRow(row, reply.total_count);
        } else {
          setBusy(row, false);
          df.sayRefusal(tip(row), reply, '删除失败，请稍后再试');
        }
      });
    }
  });

  form.addEventListener('change', function (event) {
    var target = event.target;
    if (target === checkAll) {
      rows().forEach(function (row) { if (!box(row).disabled) { box(row).checked = checkAll.checked; } });
      refreshTotals();
    } else if (target.name === 'sku_ids') {
      refreshTotals();
    } else if (target.classList.contains('num')) {
      var row = target.closest('.cart-row');
      var text = target.value.trim();
      var wanted = /^[0-9]{1,6}$/.test(text) ? parseInt(text, 10) : NaN;
      if (!(wanted >= 1)) {
        target.value = count(row);
        df.say(tip(row), '请输入1到' + limit(row) + '之间的整数', 'error');
        return;
      }
      if (wanted > limit(row)) {
        target.value = count(row);
        df.say(tip(row), limitText(row) + '，请输入1到' + limit(row) + '之间的整数', 'error');
        return;
      }
      changeCount(row, wanted);
    }
  });

  // Enter in a count field confirms that field instead of submitting the checkout form.
  form.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && event.target.classList.contains('num')) {
      event.preventDefault();
      event.target.blur();
    }
  });

  form.addEventListener('submit', function (event) {
    if (event.submitter && event.submitter.id !== 'settle') { event.preventDefault(); return; }
    if (!form.querySelector('input[name="sku_ids"]:checked')) {
      event.preventDefault();
      df.say(document.getElementById('settle_tip'), '请先选择要结算的商品', 'error');
    }
  });

  refreshTotals();
}());
