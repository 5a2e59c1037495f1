/* Cart page: select one / all, totals of the checked rows, +/-/typed counts and delete over AJAX.
   A count changes on the page only after the server accepted it; a refused one goes back to its old value. */
(function () {
  'use strict';
  var form = document.getElementById('cart_form');
  if (!form) { return; }
  var maxCount = parseInt(form.getAttribute('data-max-count'), 10) || 999;
  var checkAll = document.getElementById('check_all');

  var post = window.dailyfresh.post;

  function money(cents) {
    var rest = cents % 100;
    return Math.floor(cents / 100) + '.' + (rest < 10 ? '0' : '') + rest;
  }

  function rows() { return Array.prototype.slice.call(form.querySelectorAll('.cart-row')); }
  function box(row) { return row.querySelector('.col-check input'); }
  function count(row) { return parseInt(row.getAttribute('data-count'), 10); }

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
        } else {
          input.value = old;
          window.alert(reply.errmsg || '更新失败');
        }
      });
  }

  form.addEventListener('click', function (event) {
    var target = event.target;
    var row = target.closest('.cart-row');
    if (!row) { return; }
    if (target.classList.contains('plus')) {
      if (count(row) >= maxCount) { window.alert('商品数目出错（每种商品最多' + maxCount + '件）'); return; }
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
          window.alert(reply.errmsg || '删除失败');
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
      if (!(wanted >= 1 && wanted <= maxCount)) {
        target.value = count(row);
        window.alert('商品数目出错（1-' + maxCount + '的整数）');
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
    if (!form.querySelector('input[name="sku_ids"]:checked')) {
      event.preventDefault();
      window.alert('请先选择要结算的商品');
    }
  });

  refreshTotals();
}());
