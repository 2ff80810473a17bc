/* surveyd console: the live alert inbox. Without this script (or without EventSource) the inbox works by
   reloading. Rows arrive rendered by the server; this only places them. */
(function () {
  "use strict";
  var table = document.querySelector("table[data-live]");
  if (!table || !window.EventSource) { return; }
  var body = table.tBodies[0];
  var wrap = document.getElementById("alerts-table");
  var none = document.getElementById("no-alerts");
  var count = document.getElementById("alert-count");
  var status = document.getElementById("live-status");
  var lang = document.documentElement.lang || "en";

  function parse(html) {
    var holder = document.createElement("template");
    holder.innerHTML = html;
    return holder.content.querySelector("tr");
  }

  function recount() {
    var n = body.rows.length;
    var text = count.getAttribute(n === 1 ? "data-one" : "data-many");
    count.textContent = text.replace("{count}", n.toLocaleString(lang));
    wrap.hidden = n === 0;
    none.hidden = n !== 0;
  }

  function place(html, asNew) {
    var row = parse(html);
    if (!row) { return; }
    var old = document.getElementById(row.id);
    if (old) {
      old.replaceWith(row);
    } else if (asNew) {
      body.insertBefore(row, body.firstChild);
      row.classList.add("new");
      var link = row.querySelector("a");
      status.textContent = status.getAttribute("data-new") + " " + (link ? link.textContent : "");
    }
    recount();
  }

  var source = new EventSource(table.getAttribute("data-live"));
  source.addEventListener("alert", function (event) { place(event.data, true); });
  source.addEventListener("update", function (event) { place(event.data, false); });
  source.addEventListener("gone", function (event) {
    var row = parse(event.data);
    var old = row && document.getElementById(row.id);
    if (old) { old.remove(); recount(); }
  });
})();
