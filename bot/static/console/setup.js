// 首次设置: the one-time token travels after "#" (never sent to the server, so never in a log);
// copy it into the form and drop it from the address bar and history.
(function () {
  "use strict";
  var field = document.getElementById("setup-token");
  var token = window.location.hash.slice(1);
  if (field && token) {
    field.value = decodeURIComponent(token);
    history.replaceState(null, "", window.location.pathname + window.location.search);
    var next = document.querySelector('#setup-form input[name="name"]');
    if (next) { next.focus(); }
  }
})();
