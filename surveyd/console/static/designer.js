/* surveyd console: the survey designer's live preview. While staff type, the form as it stands is posted to the
   server (which renders the preview with the same code that renders real messages) and the panel is swapped in.
   Without this script, "Show preview" does the same by reloading the page. */
(function () {
  "use strict";
  var form = document.getElementById("designer");
  var panel = document.getElementById("preview");
  var status = document.getElementById("preview-status");
  if (!form || !panel || !window.fetch || !window.FormData) { return; }
  var timer = null;
  var sent = 0;

  document.querySelectorAll(".js-hide").forEach(function (el) { el.hidden = true; });

  function refresh() {
    var mine = ++sent;
    var data = new FormData(form);
    data.set("action", "preview");
    fetch(form.getAttribute("data-preview"), {method: "POST", body: data, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null || mine !== sent) { return; }  // an answer to an older edit arrives late: drop it
        panel.innerHTML = html;
        status.textContent = status.getAttribute("data-done");
      })
      .catch(function () { /* the page still works: "Update the preview" reloads it */ });
  }

  function soon() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  var picker = document.getElementById("preview-locale");
  if (picker) { picker.addEventListener("change", refresh); }
})();
