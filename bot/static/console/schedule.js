// The schedule form: show the fields of the chosen kind, target and content, and ask the server
// for a live preview (the same schedules/admin.py preview the CLI prints) as the form changes.
// A problem the preview finds is shown only once the person has typed in or left one of the
// fields it is about, or submitted the form: switching to 每周 does not greet them with a red
// 「请填写发送时间」 for a field they have not reached yet.
"use strict";
(function () {
  var form = document.getElementById("schedule-form");
  if (!form) { return; }
  var timer = null;
  var asked = 0;
  var touched = {};  // field name -> true once typed in, changed or left
  var submitted = form.hasAttribute("data-submitted");  // the server sent the form back
  var idleHint = document.getElementById("preview-status").textContent;

  function touch(event) {
    var name = event.target && event.target.name;
    if (name && name !== "csrf_token") { touched[name] = true; }
  }
  // Whether to show a problem about these fields now ([]: about the whole form, or not a
  // problem with what was filled in at all, such as a lost connection).
  function shown(fields) {
    if (submitted || !fields || !fields.length) { return true; }
    return fields.some(function (name) { return touched[name]; });
  }
  function notYet() {
    var status = document.getElementById("preview-status");
    status.textContent = idleHint;
    status.className = "hint";
    document.getElementById("preview-body").hidden = true;
    showDuplicate(null);
  }

  function value(name) {
    var field = form.elements[name];
    return field ? field.value : "";
  }
  function toggle() {
    var kind = value("kind"), target = value("target"), content = value("content");
    form.querySelectorAll("[data-kinds]").forEach(function (el) {
      el.hidden = el.getAttribute("data-kinds").split(" ").indexOf(kind) < 0;
    });
    form.querySelectorAll("[data-target]").forEach(function (el) {
      el.hidden = el.getAttribute("data-target") !== target;
    });
    form.querySelectorAll("[data-content]").forEach(function (el) {
      el.hidden = el.getAttribute("data-content") !== content;
    });
  }
  // The same schedule already running (same people, content and times): say so on the form,
  // with a link to it; 仍然创建 (new schedules only) creates it anyway.
  function showDuplicate(duplicate) {
    var box = document.getElementById("duplicate-warning");
    if (!box) { return; }
    box.hidden = !duplicate;
    if (!duplicate) { return; }
    document.getElementById("duplicate-note").textContent = duplicate.note;
    var link = document.getElementById("duplicate-link");
    link.hidden = !duplicate.url;
    link.href = duplicate.url || "#";
  }
  function show(result) {
    var status = document.getElementById("preview-status");
    var body = document.getElementById("preview-body");
    if (result.ok && result.json && !result.json.ok && !shown(result.json.fields)) {
      notYet();
      return;
    }
    if (!result.ok || !result.json || !result.json.ok) {
      status.textContent = (result.json && result.json.error) || "暂时无法预览，请稍后再试。";
      status.className = "flash error";
      body.hidden = true;
      showDuplicate(null);
      return;
    }
    var data = result.json;
    showDuplicate(data.duplicate);
    status.textContent = "预览已更新";
    status.className = "hint";
    document.getElementById("preview-audience").textContent = data.audience;
    document.getElementById("preview-size").textContent = data.audience_size;
    document.getElementById("preview-when").textContent = data.when;
    var list = document.getElementById("preview-fires");
    list.textContent = "";
    (data.next_fires.length ? data.next_fires : ["（不会再发送）"]).forEach(function (text) {
      var item = document.createElement("li");
      item.textContent = text;
      list.appendChild(item);
    });
    document.getElementById("preview-text").textContent = data.text;
    body.hidden = false;
  }
  function preview() {
    var mine = ++asked;
    Console.post(form.getAttribute("data-preview-url"), new FormData(form)).then(function (result) {
      if (mine !== asked) { return; }  // an older answer arriving late is dropped
      show(result);
      form.setAttribute("data-previews", String(mine));  // answers shown (the tests wait on it)
    }).catch(function () {
      show({ ok: false, json: { error: "网络中断，无法预览。" } });
    });
  }
  function changed(event) {
    touch(event);
    toggle();
    clearTimeout(timer);
    timer = setTimeout(preview, 250);
  }
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("focusout", function (event) {
    var name = event.target && event.target.name;
    if (!name || touched[name]) { return; }
    touch(event);
    preview();  // leaving a field empty: now say what it needs
  });
  form.addEventListener("submit", function () { submitted = true; });
  toggle();
  preview();
})();
