// The member simulator: send as the chosen member, show replies and sandbox pushes.
(function () {
  "use strict";
  const who = document.getElementById("who");
  const chat = document.getElementById("chat");
  const text = document.getElementById("text");
  const send = document.getElementById("send");
  const title = document.getElementById("chat-title");
  let user = "";
  let lastPush = 0;
  let timer = null;
  let pollingFor = -1; // the generation whose poll is in flight
  // Bumped on every change of identity: an answer that arrives for an earlier identity is dropped,
  // so one member's reply or push never shows up in another member's chat.
  let generation = 0;

  function bubble(kind, body) {
    const li = document.createElement("li");
    li.className = kind;
    const div = document.createElement("div");
    div.className = "bubble";
    div.textContent = body;
    li.appendChild(div);
    chat.appendChild(li);
    chat.scrollTop = chat.scrollHeight;
  }

  async function post(url, payload) {
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
    const body = await res.json().catch(() => ({ error: "服务器没有返回有效内容" }));
    if (!res.ok) throw new Error(body.error || "发送失败");
    return body;
  }

  async function pollInbox() {
    const gen = generation;
    if (!user || pollingFor === gen) return; // a slow poll still running would show its pushes twice
    pollingFor = gen;
    try {
      const res = await fetch(`/sim/api/inbox?user=${encodeURIComponent(user)}&after=${lastPush}`);
      if (!res.ok) return;
      const body = await res.json();
      if (gen !== generation) return;
      for (const m of body.messages) {
        if (m.id <= lastPush) continue;
        bubble("push", m.text);
        lastPush = m.id;
      }
    } catch (e) {
      /* offline for a moment: the next poll catches up */
    } finally {
      if (pollingFor === gen) pollingFor = -1;
    }
  }

  function choose(newUser, name) {
    user = newUser;
    lastPush = 0;
    generation += 1;
    chat.innerHTML = "";
    title.textContent = name || "未选择成员";
    text.disabled = send.disabled = !user;
    if (timer) clearInterval(timer);
    if (user) {
      bubble("system", `你现在是「${name}」`);
      pollInbox();
      timer = setInterval(pollInbox, 2000);
      text.focus();
    }
  }

  async function say(kind, body) {
    if (!user) return;
    if (kind === "text") bubble("me", body);
    else bubble("system", "（已关注公众号）");
    const gen = generation;
    try {
      const res = await post("/sim/api/send", { user, text: body, kind });
      if (gen === generation && res.reply) bubble("bot", res.reply);
    } catch (e) {
      if (gen === generation) bubble("system", `出错了：${e.message}`);
    }
  }

  who.addEventListener("change", () => {
    const opt = who.selectedOptions[0];
    choose(who.value, opt && who.value ? opt.dataset.name : "");
  });
  document.getElementById("visitor").addEventListener("click", async () => {
    try {
      const res = await post("/sim/api/visitor", {});
      who.value = "";
      choose(res.user, res.name);
    } catch (e) {
      bubble("system", `出错了：${e.message}`);
    }
  });
  document.getElementById("subscribe").addEventListener("click", () => say("subscribe", ""));
  document.getElementById("composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = text.value.trim();
    if (!body) return;
    text.value = "";
    say("text", body);
  });
})();
