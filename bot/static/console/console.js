// 清风 admin console: the little script every page loads. No framework, no CDN.
"use strict";
window.Console = (function () {
  function token() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  // POST form data (an object or FormData) with the CSRF header; resolves to parsed JSON.
  function post(url, data) {
    var body = data instanceof FormData ? data : new URLSearchParams(data || {});
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRF-Token": token(), "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (json) { return { ok: response.ok, status: response.status, json: json }; });
    });
  }
  // Forms with data-confirm ask before they submit (停用, 取消, 立即发送).
  document.addEventListener("submit", function (event) {
    var text = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (text && !window.confirm(text)) { event.preventDefault(); }
  });
  // Tables as cards on a phone (console.css, below 760 px): each cell gets its column's name
  // in data-label, and data-empty when it shows nothing. A one-column table and a cell spanning columns (「没有…」) get none. Rows a
  // page script adds later are labelled too.
  function labelRows(table, names) {
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          var name = cell.colSpan > 1 || names.length < 2 ? "" : (names[column] || "");
          cell.setAttribute("data-label", name);
          // An empty cell (no 手机 in this row) is left out of the card, not shown as a bare name.
          var empty = !cell.textContent.trim() && !cell.querySelector("input, select, button, svg");
          cell.toggleAttribute("data-empty", empty);
          column += cell.colSpan;
        });
      });
    });
  }
  function cardTables() {
    document.querySelectorAll(".table-wrap").forEach(function (wrap) {
      var table = wrap.querySelector("table");
      if (!table || !table.tHead || !table.tHead.rows.length) { return; }
      var names = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) {
        return th.textContent.trim();
      });
      labelRows(table, names);
      new MutationObserver(function () { labelRows(table, names); })
        .observe(table, { childList: true, subtree: true });
      wrap.classList.add("cards");
    });
  }
  cardTables();
  return { token: token, post: post };
})();
