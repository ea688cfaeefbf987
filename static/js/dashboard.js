// Bureau dashboard: the year selector submits on change; a job page reloads until its file is ready.
(function () {
  "use strict";
  document.documentElement.classList.add("js-enabled");
  document.querySelectorAll("select.js-autosubmit").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  var job = document.getElementById("job");
  if (job && (job.dataset.state === "pending" || job.dataset.state === "running")) {
    window.setTimeout(function () { window.location.reload(); }, 3000);
  }
})();
