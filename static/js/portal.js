// Portal behaviour without inline scripts (the CSP forbids them).
(function () {
  "use strict";

  // Language switch: submit on change, hide the fallback button.
  document.querySelectorAll(".js-autosubmit").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  document.querySelectorAll(".js-hide-when-scripted").forEach(function (el) { el.classList.add("is-hidden"); });

  // Import job page: poll the status endpoint, move the progress bar, reload when finished.
  var job = document.getElementById("job");
  if (job && job.dataset.statusUrl && job.dataset.state !== "succeeded" && job.dataset.state !== "failed") {
    var bar = document.getElementById("job-progress");
    var percent = document.getElementById("job-percent");
    var state = document.getElementById("job-state");
    var poll = function () {
      fetch(job.dataset.statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          bar.value = data.percent;
          bar.textContent = data.percent + "%";
          percent.textContent = data.percent + "%";
          state.textContent = data.state_label;
          if (data.done) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    window.setTimeout(poll, 500);
  }
})();
