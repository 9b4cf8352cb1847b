// Pearl Grants pages: small enhancements only; every form also works without this file.
// - adds and removes budget and expense lines in place (the buttons post the form otherwise);
// - asks before an action that cannot be undone;
// - follows the progress of requested statements without reloading the page;
// - keeps what was typed in a text box when the form comes back refused, and shows the refusal
//   where the page was sent (next to the form), not only at the top.
(function () {
  "use strict";

  function renumber(template, index) {
    var html = template.innerHTML.replace(/__i__/g, String(index)).replace(/__n__/g, String(index + 1));
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    return holder.firstElementChild;
  }

  function nextIndex(list) {
    var max = -1;
    list.querySelectorAll("[name]").forEach(function (el) {
      var m = /^[a-z_]+-(\d+)-/.exec(el.getAttribute("name"));
      if (m) { max = Math.max(max, parseInt(m[1], 10)); }
    });
    return max + 1;
  }

  function updateTotal(box) {
    var out = box.querySelector("[data-line-total]");
    if (!out) { return; }
    var cents = 0, ok = true, any = false;
    box.querySelectorAll("[data-amount]").forEach(function (input) {
      var v = input.value.trim();
      if (!v) { return; }
      any = true;
      var m = /^(\d{1,7})\.(\d{2})$/.exec(v);
      if (!m) { ok = false; return; }
      cents += parseInt(m[1], 10) * 100 + parseInt(m[2], 10);
    });
    if (!any) { out.textContent = ""; return; }
    if (!ok) { out.textContent = "Total: write every amount like 1500.00."; return; }
    var whole = Math.floor(cents / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var frac = String(cents % 100).padStart(2, "0");
    out.textContent = "Total of the lines: " + whole + "." + frac + "\u00a0EUR";
  }

  function setUpLines(box) {
    var list = box.querySelector("[data-line-list]");
    var template = box.querySelector("template[data-line-template]");
    var add = box.querySelector("[data-add-line]");
    if (!list || !template || !add) { return; }
    add.addEventListener("click", function (event) {
      event.preventDefault();
      var row = renumber(template, nextIndex(list));
      list.appendChild(row);
      var first = row.querySelector("input, select, textarea");
      if (first) { first.focus(); }
      updateTotal(box);
      box.dispatchEvent(new CustomEvent("lines-changed", { bubbles: true }));
    });
    list.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-line]");
      if (!button) { return; }
      event.preventDefault();
      var row = button.closest("[data-line]");
      if (row) { row.remove(); }
      add.focus();
      updateTotal(box);
      box.dispatchEvent(new CustomEvent("lines-changed", { bubbles: true }));
    });
    box.addEventListener("input", function () { updateTotal(box); });
    updateTotal(box);
  }

  // --- The report form: running totals by category, line numbers, future dates, warnings ---

  // An amount as people type it ("1900", "1 900,00", "1.900,00") in cents, or null:
  // the same reading as grants.money.typed_amount on the server.
  function typedCents(text) {
    var compact = (text || "").trim().replace(/[ \u00a0\u202f\u2009'\u2019]/g, "");
    if (!compact) { return null; }
    var head = compact, tail = "";
    var last = Math.max(compact.lastIndexOf("."), compact.lastIndexOf(","));
    if (last >= 0 && compact.length - last - 1 >= 1 && compact.length - last - 1 <= 2) {
      head = compact.slice(0, last);
      tail = compact.slice(last + 1);
    }
    if (/^[0-9]{1,3}([.,][0-9]{3})+$/.test(head)) { head = head.replace(/[.,]/g, ""); }
    if (!/^[0-9]{1,12}$/.test(head) || (tail && !/^[0-9]{1,2}$/.test(tail))) { return null; }
    return parseInt(head, 10) * 100 + (tail ? parseInt((tail + "0").slice(0, 2), 10) : 0);
  }

  function money(cents, currency) {
    var sign = cents < 0 ? "\u2212" : "";
    var abs = Math.abs(cents);
    var whole = Math.floor(abs / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return sign + whole + "." + String(abs % 100).padStart(2, "0") + "\u00a0" + (currency || "EUR");
  }

  function relabel(form) {
    form.querySelectorAll("[data-line-list] [data-line]").forEach(function (row, i) {
      row.querySelectorAll("[data-line-number]").forEach(function (span) {
        span.textContent = String(i + 1);
      });
    });
  }

  function otherText(bucket) {
    var names = Object.keys(bucket).sort();
    if (!names.length) { return "\u2014"; }
    return names.map(function (c) { return money(bucket[c], c); }).join(", ");
  }

  function showTotal(row, eur, other) {
    var planned = parseInt(row.getAttribute("data-planned-cents"), 10) || 0;
    var left = planned - eur;
    row.querySelector("[data-total-eur]").textContent = money(eur);
    var cell = row.querySelector("[data-total-left]");
    cell.textContent = money(left) + (left < 0 ? " (over the plan)" : "");
    cell.classList.toggle("overdue", left < 0);
    row.querySelector("[data-total-other]").textContent = otherText(other);
  }

  function updateTotals(form) {
    var table = form.querySelector("[data-totals]");
    if (!table) { return; }
    var eur = {}, other = {}, allEur = 0, allOther = {};
    form.querySelectorAll("[data-line-list] [data-line]").forEach(function (row) {
      var category = (row.querySelector("[data-category]") || {}).value || "";
      var currency = ((row.querySelector("[data-currency]") || {}).value || "EUR")
        .trim().toUpperCase();
      var cents = typedCents((row.querySelector("[data-line-amount]") || {}).value);
      if (cents === null || !category) { return; }
      if (currency === "EUR") {
        eur[category] = (eur[category] || 0) + cents;
        allEur += cents;
      } else {
        other[category] = other[category] || {};
        other[category][currency] = (other[category][currency] || 0) + cents;
        allOther[currency] = (allOther[currency] || 0) + cents;
      }
    });
    table.querySelectorAll("[data-total-category]").forEach(function (row) {
      var c = row.getAttribute("data-total-category");
      showTotal(row, eur[c] || 0, other[c] || {});
    });
    var all = table.querySelector("[data-total-all]");
    if (all) { showTotal(all, allEur, allOther); }
  }

  function checkFuture(input) {
    var field = input.closest(".field");
    var shown = field && field.querySelector("[data-future-error]");
    var late = input.value && input.max && input.value > input.max;
    if (late && !shown && field) {
      shown = document.createElement("p");
      shown.className = "field-error";
      shown.setAttribute("data-future-error", "");
      shown.id = input.id + "-future";
      shown.textContent = input.getAttribute("data-not-future");
      input.before(shown);
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", shown.id);
    } else if (!late && shown) {
      shown.remove();
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    }
  }

  function showWarnings(form, lines) {
    form.querySelectorAll("[data-line-list] [data-line]").forEach(function (row) {
      var named = row.querySelector("[name^='expenses-']");
      var m = named && /^expenses-(\d+)-/.exec(named.getAttribute("name"));
      var box = row.querySelector("[data-line-warnings]");
      if (!m || !box || !row.hasAttribute("data-checked")) { return; }
      var warnings = lines[m[1]] || [];
      box.textContent = "";
      if (!warnings.length) { return; }
      var list = document.createElement("ul");
      list.className = "plain";
      warnings.forEach(function (w) {
        var item = document.createElement("li");
        var tag = document.createElement("span");
        tag.className = "tag warn";
        tag.textContent = "Warning";
        item.appendChild(tag);
        item.appendChild(document.createTextNode(" " + w.text));
        list.appendChild(item);
      });
      var hint = document.createElement("p");
      hint.className = "hint";
      hint.textContent = "The line is kept: finance checks it before accepting the report.";
      box.appendChild(list);
      box.appendChild(hint);
    });
  }

  function setUpReportForm(form) {
    var url = form.getAttribute("data-warnings-url");
    var timer = null;
    function check() {
      fetch(url, { method: "POST", body: new FormData(form), credentials: "same-origin",
                   headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (answer) { showWarnings(form, answer.lines || {}); })
        .catch(function () { /* the warnings come back with the saved report */ });
    }
    form.addEventListener("input", function () { updateTotals(form); });
    form.addEventListener("change", function (event) {
      var target = event.target;
      updateTotals(form);
      if (target.hasAttribute("data-not-future")) { checkFuture(target); }
      if (target.hasAttribute("data-check") && url) {
        var row = target.closest("[data-line]");
        if (row) { row.setAttribute("data-checked", ""); }
        window.clearTimeout(timer);
        timer = window.setTimeout(check, 250);
      }
    });
    form.addEventListener("lines-changed", function () {
      relabel(form);
      updateTotals(form);
    });
    updateTotals(form);
  }

  function setUpConfirm() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest("[data-confirm]");
      if (button && !window.confirm(button.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  }

  function follow(item) {
    var url = item.getAttribute("data-export-status-url");
    var badge = item.querySelector("[data-export-status]");
    var bar = item.querySelector("[data-export-progress]");
    var percent = item.querySelector("[data-export-percent]");
    var error = item.querySelector("[data-export-error]");
    var download = item.querySelector("[data-export-download]");
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (s) {
          var done = s.status === "finished";
          badge.textContent = s.status_name;
          badge.className = "badge state-" + s.status;
          bar.value = done ? 100 : s.progress;
          percent.textContent = (done ? 100 : s.progress) + " %";
          if (s.error && !done) { error.textContent = s.error; error.hidden = false; }
          if (done && s.download_url) {
            var link = download.querySelector("a");
            link.href = s.download_url;
            link.textContent = "Download " + (s.file_name || "the workbook");
            download.hidden = false;
          }
          if (s.status === "queued" || s.status === "running") {
            window.setTimeout(poll, 1000);
          }
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    }
    poll();
  }

  var TYPED = "pearl.typed:";

  function typedKey(form, box) {
    return TYPED + form.getAttribute("action") + "#" + box.id;
  }

  function keepTyped() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!window.sessionStorage || (form.method || "").toLowerCase() !== "post") { return; }
      form.querySelectorAll("textarea[id]").forEach(function (box) {
        if (box.value.trim()) { window.sessionStorage.setItem(typedKey(form, box), box.value); }
      });
    });
    var refused = document.querySelector(".flash-error");
    document.querySelectorAll("form[method=post] textarea[id]").forEach(function (box) {
      if (!window.sessionStorage) { return; }
      var key = typedKey(box.form, box);
      var kept = window.sessionStorage.getItem(key);
      if (kept !== null && refused && !box.value) { box.value = kept; }
      window.sessionStorage.removeItem(key);
    });
    if (refused && window.location.hash) {
      var target = document.getElementById(window.location.hash.slice(1));
      if (target && !target.querySelector(".flash-error")) {
        var copy = refused.cloneNode(true);
        copy.setAttribute("tabindex", "-1");
        var heading = target.querySelector("h2, h3");
        if (heading) { heading.after(copy); } else { target.prepend(copy); }
        copy.focus();
      }
    }
  }

  // --- Times in the browser's time zone --------------------------------------------------
  // For a user without a time-zone setting the server writes every time in UTC, as
  // <time datetime="…Z" title="… UTC" data-local-time>; this rewrites the text in the browser's
  // own zone ("2026-12-04 20:20 EET"), the title keeping UTC for the hover. A user with a
  // setting gets the times from the server in that zone (no data-local-time): left alone.
  function browserTimes() {
    var format;
    try {
      format = new Intl.DateTimeFormat("en-GB", {
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
        hourCycle: "h23", timeZoneName: "short"
      });
    } catch (e) { return; }
    document.querySelectorAll("time[data-local-time]").forEach(function (el) {
      var moment = new Date(el.getAttribute("datetime"));
      if (isNaN(moment.getTime())) { return; }
      var part = {};
      format.formatToParts(moment).forEach(function (p) { part[p.type] = p.value; });
      el.textContent = part.year + "-" + part.month + "-" + part.day + " " + part.hour + ":" +
        part.minute + (part.timeZoneName ? " " + part.timeZoneName : "");
    });
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
    document.querySelectorAll("[data-browser-zone]").forEach(function (el) {
      if (zone) { el.textContent = " (it says " + zone + ")"; el.hidden = false; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    browserTimes();
    keepTyped();
    document.querySelectorAll("[data-lines]").forEach(setUpLines);
    document.querySelectorAll("form[data-report-form]").forEach(setUpReportForm);
    document.querySelectorAll("[data-export-status-url]").forEach(follow);
    setUpConfirm();
  });
})();
