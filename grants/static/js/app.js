// Pearl Grants pages: small enhancements only; every form also works without this file.
// - adds and removes budget and expense lines in place (the buttons post the form otherwise);
// - asks before an action that cannot be undone;
// - follows the progress of requested statements without reloading the page;
// - keeps what was typed in a text box when the form comes back refused, and shows the refusal
//   where the page was sent (next to the form), not only at the top.
(function () {
  "use strict";

  function renumber(template, index) {
    var html = template.innerHTML.replace(/__i__/g, String(index));
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
    });
    list.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-line]");
      if (!button) { return; }
      event.preventDefault();
      var row = button.closest("[data-line]");
      if (row) { row.remove(); }
      add.focus();
      updateTotal(box);
    });
    box.addEventListener("input", function () { updateTotal(box); });
    updateTotal(box);
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
      if (target && !target.contains(refused)) {
        var copy = refused.cloneNode(true);
        copy.setAttribute("tabindex", "-1");
        var heading = target.querySelector("h2, h3");
        if (heading) { heading.after(copy); } else { target.prepend(copy); }
        copy.focus();
      }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    keepTyped();
    document.querySelectorAll("[data-lines]").forEach(setUpLines);
    document.querySelectorAll("[data-export-status-url]").forEach(follow);
    setUpConfirm();
  });
})();
