// The meeting form: the member checkboxes show only while 参会对象 is 指定党员 (without
// scripts they always show; the server ignores them for any other choice).
(function () {
  var form = document.getElementById("meeting-form");
  var select = form && form.querySelector("select[name=audience]");
  var list = document.getElementById("meeting-members");
  if (!select || !list) { return; }
  function update() { list.hidden = select.value !== "members"; }
  select.addEventListener("change", update);
  update();
})();
