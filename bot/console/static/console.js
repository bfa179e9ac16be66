// Agent console: queue, live transcript, context, replies, notes and hand-back;
// refunds.js adds the refund review (window.ConsoleRefunds), orders.js the seller's Orders view
// (window.ConsoleOrders), insights.js the Insights view (window.ConsoleInsights, merchants and
// admins), review.js the NLU review (window.ConsoleReview); all use window.ConsoleApi.
// Plain JS, no build step. Every text from the server goes in through textContent.
(function () {
  "use strict";

  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var inbox = document.getElementById("inbox");
  var refunds = document.getElementById("refunds");
  var status = document.getElementById("live-status");
  var state = { me: null, current: null, detail: null, canned: [], refreshTimer: null };

  var REASONS = {
    buyer_asked: "Buyer asked for a person",
    repeated_failure: "Bot failed twice",
    policy: "Policy needs a person",
    agent_took_over: "Taken over by an agent",
    merchant_question: "Merchant asked the buyer",
  };
  var SLOT_LABELS = {
    order_id: "Order number",
    refund_method: "Refund method",
    refund_amount: "Amount",
    refund_reason: "Reason",
  };

  // ---- helpers --------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "on") Object.keys(attrs.on).forEach(function (e) { node.addEventListener(e, attrs.on[e]); });
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function say(text) { status.textContent = text; }

  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: {} };
    if (method !== "GET") {
      options.headers["X-CSRF-Token"] = csrf;
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    return fetch(path, options).then(function (response) {
      if (response.status === 401) { window.location.href = "/console/login"; throw new Error("signed out"); }
      var type = response.headers.get("Content-Type") || "";
      var read = type.indexOf("json") >= 0 ? response.json() : response.text();
      return read.then(function (data) {
        if (!response.ok) {
          var failure = new Error(typeof data === "string" ? data : (data.error || "failed"));
          failure.status = response.status;
          failure.data = data;
          throw failure;
        }
        return data;
      });
    });
  }
  function act(promise, done) {
    return promise.then(function (data) { if (done) say(done); return data; })
      .catch(function (e) { say("Not done: " + e.message); });
  }

  function minutes(seconds) {
    if (seconds < 60) return "under a minute";
    var m = Math.round(seconds / 60);
    return m === 1 ? "1 minute" : m + " minutes";
  }
  function clock(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  function who(c) {
    if (!c.customer) return "Guest";
    return c.customer.name ? c.customer.name + " (" + c.customer.id + ")" : c.customer.id;
  }

  // ---- tabs -----------------------------------------------------------------------------
  var orders = document.getElementById("orders");
  var insights = document.getElementById("insights");
  var review = document.getElementById("review");
  function showView(view) {
    Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (t) {
      t.setAttribute("aria-pressed", String(t.getAttribute("data-view") === view));
    });
    inbox.hidden = view !== "inbox";
    refunds.hidden = view !== "refunds";
    orders.hidden = view !== "orders";
    insights.hidden = view !== "insights";
    if (review) review.hidden = view !== "review";
    if (view === "refunds" && window.ConsoleRefunds) window.ConsoleRefunds.show();
    if (view === "orders" && window.ConsoleOrders) window.ConsoleOrders.show();
    if (view === "insights" && window.ConsoleInsights) window.ConsoleInsights.show();
    if (view === "review" && window.ConsoleReview) window.ConsoleReview.show();
  }
  Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (tab) {
    tab.addEventListener("click", function () {
      // The tab's own address, so a link to where the agent was before works again.
      var view = tab.getAttribute("data-view");
      var target = "#" + (view === "inbox" ? "conversations" : view);
      if (location.hash !== target) location.hash = target;
      else showView(view);
    });
  });
  // Links between the views: #conversations/ID, #refunds/REFERENCE, #orders/ORDER.
  function route() {
    var parts = location.hash.replace(/^#/, "").split("/");
    var id = parts[1] ? decodeURIComponent(parts[1]) : null;
    if (parts[0] === "conversations") { showView("inbox"); if (id) openConversation(id); }
    else if (parts[0] === "refunds") { showView("refunds"); if (id && window.ConsoleRefunds) window.ConsoleRefunds.open(id); }
    else if (parts[0] === "orders") { showView("orders"); if (id && window.ConsoleOrders) window.ConsoleOrders.open(id); }
    else if (parts[0] === "insights") showView("insights");
    else if (parts[0] === "review") showView("review");
  }
  window.addEventListener("hashchange", route);
  // The page serves the tabs disabled: a click before every view's script has run would be lost.
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (tab) { tab.disabled = false; });
    route();
  });
  function link(kind, id, text) {
    return el("a", { href: "#" + kind + "/" + encodeURIComponent(id), text: text || id });
  }

  // ---- conversations ----------------------------------------------------------------------
  var listPane = el("section", { class: "pane list", "aria-labelledby": "queue-title" });
  var convPane = el("section", { class: "pane conversation", "aria-label": "Conversation" });
  var contextPane = el("aside", { class: "pane context", "aria-label": "Context" });
  inbox.appendChild(listPane);
  inbox.appendChild(convPane);
  inbox.appendChild(contextPane);
  convPane.appendChild(el("p", { class: "empty", text: "Pick a conversation from the queue." }));

  function loadQueue() {
    return api("GET", "/console/api/conversations").then(renderQueue);
  }
  function scheduleQueue() {
    if (state.refreshTimer) return;
    state.refreshTimer = setTimeout(function () { state.refreshTimer = null; loadQueue(); }, 250);
  }

  function renderQueue(data) {
    var unclaimed = data.queue.filter(function (c) { return !c.handoff.agent; }).length;
    document.title = (unclaimed ? "(" + unclaimed + ") " : "") + "Agent console";
    clear(listPane);
    listPane.appendChild(el("h2", { id: "queue-title", text: "Queue" }));
    listPane.appendChild(el("p", { class: "muted", text: data.agents_online + " agent(s) online" }));
    var waiting = el("ul", { class: "queue", "aria-label": "Waiting and claimed conversations" });
    if (!data.queue.length) waiting.appendChild(el("li", { class: "muted", text: "Nobody is waiting." }));
    data.queue.forEach(function (c) {
      var h = c.handoff;
      var owner = h.agent ? (state.me && h.agent.id === state.me.id ? "You" : h.agent.display_name) : null;
      var line = owner ? "With " + owner : "Waiting " + minutes(h.waiting_seconds);
      waiting.appendChild(item(c, [
        el("span", { class: "badge " + (owner ? "claimed" : "waiting"), text: line }),
        el("span", { class: "muted", text: " · " + c.channel + " · " + c.language + " · " + (REASONS[h.reason] || h.reason) }),
      ]));
    });
    listPane.appendChild(waiting);
    listPane.appendChild(el("h2", { text: "With the bot" }));
    var recent = el("ul", { class: "queue", "aria-label": "Conversations with the bot" });
    if (!data.recent.length) recent.appendChild(el("li", { class: "muted", text: "No recent conversations." }));
    data.recent.forEach(function (c) {
      recent.appendChild(item(c, [el("span", { class: "muted", text: c.channel + " · " + c.language + " · bot" })]));
    });
    listPane.appendChild(recent);
  }

  function item(c, meta) {
    var button = el("button", {
      type: "button", class: "conv", "data-id": c.id,
      "aria-current": state.current === c.id ? "true" : null,
      on: { click: function () { openConversation(c.id); } },
    }, [
      el("strong", { text: who(c) }),
      el("span", { class: "meta" }, meta),
      el("span", { class: "preview", text: c.last_message || "" }),
    ]);
    return el("li", {}, [button]);
  }

  function openConversation(id) {
    state.current = id;
    inbox.classList.add("open");
    return api("GET", "/console/api/conversations/" + encodeURIComponent(id)).then(function (data) {
      state.detail = data;
      renderConversation(data);
      renderContext(data);
      Array.prototype.forEach.call(listPane.querySelectorAll(".conv"), function (b) {
        if (b.getAttribute("data-id") === id) b.setAttribute("aria-current", "true");
        else b.removeAttribute("aria-current");
      });
    });
  }

  function mine(data) {
    return data.handoff && data.handoff.agent && state.me && data.handoff.agent.id === state.me.id;
  }

  // What the agent typed, opened and where the caret was in the panel: a refresh (any change of
  // the queue, a colleague's note) draws the panel again, and keystrokes must not go astray.
  function keptInput() {
    var kept = { values: {}, open: [], focus: null };
    Array.prototype.forEach.call(convPane.querySelectorAll("input[id], textarea[id]"), function (f) {
      if (f.value !== f.defaultValue) kept.values[f.id] = f.value;
    });
    Array.prototype.forEach.call(convPane.querySelectorAll("details[id]"), function (d) {
      if (d.open) kept.open.push(d.id);
    });
    var active = document.activeElement;
    if (active && active.id && convPane.contains(active)) {
      kept.focus = { id: active.id, start: active.selectionStart, end: active.selectionEnd };
    }
    return kept;
  }
  function restoreInput(kept) {
    function field(id) { var f = document.getElementById(id); return f && convPane.contains(f) ? f : null; }
    Object.keys(kept.values).forEach(function (id) { var f = field(id); if (f) f.value = kept.values[id]; });
    kept.open.forEach(function (id) { var d = field(id); if (d) d.open = true; });
    var focus = kept.focus && field(kept.focus.id);
    if (!focus) return;
    focus.focus();
    if (typeof kept.focus.start === "number" && focus.setSelectionRange) {
      focus.setSelectionRange(kept.focus.start, kept.focus.end);
    }
  }

  function renderConversation(data) {
    var kept = convPane.getAttribute("data-id") === data.id ? keptInput() : null;
    convPane.setAttribute("data-id", data.id);
    clear(convPane);
    var h = data.handoff;
    var base = "/console/api/conversations/" + encodeURIComponent(data.id);
    var heading = el("div", { class: "conv-head" }, [
      el("button", { type: "button", class: "back link", text: "← Queue",
        on: { click: function () { inbox.classList.remove("open"); state.current = null; } } }),
      el("h2", { id: "conv-title", text: who(data) }),
      el("p", { class: "muted", text: data.channel + " · " + data.language + " · " + (h ? (h.agent ? "with " + h.agent.display_name : "waiting for a person") : "with the bot") }),
    ]);
    convPane.appendChild(heading);

    var controls = el("div", { class: "controls", role: "group", "aria-label": "Conversation actions" });
    if (!h || !h.agent) {
      controls.appendChild(el("button", { type: "button", text: h ? "Claim" : "Take over from the bot",
        on: { click: function () { act(api("POST", base + "/claim", {}), "Claimed.").then(refresh); } } }));
    } else if (!mine(data)) {
      controls.appendChild(el("p", { class: "muted", text: h.agent.display_name + " has this conversation." }));
      controls.appendChild(el("button", { type: "button", text: "Take over from " + h.agent.display_name,
        on: { click: function () { act(api("POST", base + "/claim", { take_over: true }), "Taken over.").then(refresh); } } }));
    } else {
      controls.appendChild(handBackForm(base, data));
      controls.appendChild(el("button", { type: "button", class: "secondary", text: "Close conversation",
        on: { click: function () { act(api("POST", base + "/close", {}), "Closed.").then(refresh); } } }));
    }
    convPane.appendChild(controls);

    var log = el("ol", { class: "transcript", role: "log", "aria-live": "polite", "aria-label": "Transcript" });
    data.messages.forEach(function (m) { log.appendChild(renderMessage(m)); });
    convPane.appendChild(log);

    if (data.notes.length) {
      var notes = el("ul", { class: "notes", "aria-label": "Private notes" });
      data.notes.forEach(function (n) { notes.appendChild(renderNote(n)); });
      convPane.appendChild(el("h3", { text: "Private notes" }));
      convPane.appendChild(notes);
    }
    convPane.appendChild(composer(base, data));
    if (kept) restoreInput(kept);
    log.scrollTop = log.scrollHeight;
  }

  function renderMessage(m) {
    var label = m.direction === "in" ? "Buyer" : m.sender === "agent" ? (m.author || "Agent") : m.sender === "system" ? "Notice" : "Bot";
    var li = el("li", { class: "msg " + (m.direction === "in" ? "in" : "out") + " " + m.sender, "data-id": m.id }, [
      el("span", { class: "who", text: label }),
      el("span", { class: "text", text: m.text || (m.image ? "[image]" : "") }),
      el("time", { datetime: m.created_at, text: clock(m.created_at) }),
    ]);
    (m.attachments || []).forEach(function (a) {
      li.appendChild(el("a", { class: "evidence", href: "/console/evidence/" + encodeURIComponent(a.evidence_id), target: "_blank", rel: "noopener",
        text: "Open " + a.filename + (a.application ? " (on " + a.application + ")" : "") }));
    });
    if (m.buttons && m.buttons.length) {
      li.appendChild(el("span", { class: "muted buttons", text: "Buttons: " + m.buttons.map(function (b) { return b.title; }).join(" | ") }));
    }
    return li;
  }
  function renderNote(n) {
    return el("li", {}, [el("strong", { text: (n.agent || "Agent") + ": " }), n.text, " ", el("time", { datetime: n.created_at, text: clock(n.created_at) })]);
  }

  function handBackForm(base, data) {
    var form = el("form", { class: "handback" });
    var details = el("details", { id: "handback-details" }, [el("summary", { text: "What you learned (optional)" })]);
    var inputs = {};
    Object.keys(SLOT_LABELS).forEach(function (slot) {
      var id = "slot-" + slot;
      var current = data.bot && data.bot.slots ? data.bot.slots[slot] : null;
      inputs[slot] = el("input", { id: id, name: slot, value: current || "" });
      details.appendChild(el("label", { for: id, text: SLOT_LABELS[slot] }));
      details.appendChild(inputs[slot]);
    });
    form.appendChild(details);
    form.appendChild(el("button", { type: "submit", text: "Hand back to the bot" }));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var slots = {};
      Object.keys(inputs).forEach(function (k) {
        var v = inputs[k].value.trim();
        var before = data.bot && data.bot.slots ? data.bot.slots[k] : null;
        if (v && v !== String(before || "")) slots[k] = v;
      });
      act(api("POST", base + "/handback", { slots: slots }), "Handed back to the bot.").then(refresh);
    });
    return form;
  }

  function composer(base, data) {
    var form = el("form", { class: "composer" });
    var box = el("textarea", { id: "reply-text", rows: "3", required: "required", maxlength: "4000" });
    var canned = el("select", { id: "canned", "aria-label": "Insert a canned reply" }, [el("option", { value: "", text: "Canned replies…" })]);
    state.canned.filter(function (c) { return !c.language || c.language === data.language; }).concat(state.canned.filter(function (c) { return c.language && c.language !== data.language; })).forEach(function (c) { canned.appendChild(el("option", { value: String(c.id), text: c.title + (c.language ? " (" + c.language + ")" : "") })); });
    canned.addEventListener("change", function () {
      var found = state.canned.filter(function (c) { return String(c.id) === canned.value; })[0];
      if (found) { box.value = box.value ? box.value + " " + found.text : found.text; box.focus(); }
      canned.value = "";
    });
    var canReply = mine(data);
    var send = el("button", { type: "submit", text: "Send reply", disabled: canReply ? null : "disabled" });
    var note = el("button", { type: "button", class: "secondary", text: "Add private note" });
    // The box may have been drawn again while the request was on its way: the one on the page
    // is emptied, and only if it still holds what was sent.
    function sent(text) {
      var now = convPane.querySelector("#reply-text");
      if (now && now.value === text) now.value = "";
    }
    note.addEventListener("click", function () {
      var text = box.value;
      if (!text.trim()) { box.focus(); return; }
      act(api("POST", base + "/notes", { text: text }), "Note kept.").then(function (r) { if (r) { sent(text); refresh(); } });
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = box.value;
      if (!text.trim()) return;
      act(api("POST", base + "/reply", { text: text }), "Sent.").then(function (r) { if (r) sent(text); });
    });
    form.appendChild(el("label", { for: "reply-text", text: canReply ? "Reply to the buyer" : "Note (claim the conversation to reply)" }));
    form.appendChild(box);
    form.appendChild(el("div", { class: "row" }, [canned, note, send]));
    return form;
  }

  function renderContext(data) {
    clear(contextPane);
    contextPane.appendChild(el("h2", { text: "Context" }));
    if (data.handoff) {
      contextPane.appendChild(el("p", {}, [el("strong", { text: "Why here: " }), REASONS[data.handoff.reason] || data.handoff.reason,
        data.handoff.detail ? " — " + data.handoff.detail : ""]));
    }
    var c = data.customer_context;
    if (c) {
      contextPane.appendChild(el("h3", { text: "Customer" }));
      contextPane.appendChild(el("p", { text: (c.name || c.id) + " · " + (c.email || "") + " · " + c.id }));
      contextPane.appendChild(el("h3", { text: "Orders" }));
      var orders = el("ul", { class: "facts" });
      c.orders.forEach(function (o) {
        orders.appendChild(el("li", {}, [link("orders", o.id), " — " + o.status.replace(/_/g, " ") + ", " + o.total + " " + o.currency + (o.items.length ? " (" + o.items.join(", ") + ")" : "")]));
      });
      if (!c.orders.length) orders.appendChild(el("li", { class: "muted", text: "No orders." }));
      contextPane.appendChild(orders);
      contextPane.appendChild(el("h3", { text: "Refund applications" }));
      var apps = el("ul", { class: "facts" });
      c.applications.forEach(function (a) {
        apps.appendChild(el("li", {}, [link("refunds", a.reference), " — " + a.status.replace(/_/g, " ") + ", " + a.amount + " " + a.currency + " (" + a.method.replace(/_/g, " ") + ")"]));
      });
      if (!c.applications.length) apps.appendChild(el("li", { class: "muted", text: "None yet." }));
      contextPane.appendChild(apps);
    } else {
      contextPane.appendChild(el("p", { class: "muted", text: "Anonymous buyer: no customer record." }));
    }
    if (data.satisfaction && data.satisfaction.length) {
      // The buyer's ratings (bot/survey): what was asked, the 1-5 answer and any comment.
      contextPane.appendChild(el("h3", { text: "Satisfaction" }));
      var rated = el("ul", { class: "facts", "aria-label": "Satisfaction" });
      data.satisfaction.forEach(function (s) {
        var answer = s.rating === null ? "not rated" : s.rating + "/5";
        rated.appendChild(el("li", { text: s.event.replace(/_/g, " ") + ": " + answer + (s.comment ? " — “" + s.comment + "”" : "") }));
      });
      contextPane.appendChild(rated);
    }
    contextPane.appendChild(el("h3", { text: "Bot state" }));
    var bot = data.bot || {};
    if (!bot.available) {
      contextPane.appendChild(el("p", { class: "muted", text: "Rasa is not reachable right now." }));
      return;
    }
    var slots = el("dl", { class: "slots" });
    slots.appendChild(el("dt", { text: "Form" }));
    slots.appendChild(el("dd", { text: bot.active_form || "none" }));
    Object.keys(bot.slots).forEach(function (k) {
      if (bot.slots[k] === null || bot.slots[k] === undefined) return;
      slots.appendChild(el("dt", { text: k.replace(/_/g, " ") }));
      slots.appendChild(el("dd", { text: String(bot.slots[k]) }));
    });
    contextPane.appendChild(slots);
    contextPane.appendChild(el("h3", { text: "Last intents" }));
    var intents = el("ol", { class: "facts intents" });
    bot.intents.forEach(function (i) {
      var pct = typeof i.confidence === "number" ? " " + Math.round(i.confidence * 100) + "%" : "";
      intents.appendChild(el("li", {}, [el("code", { text: (i.intent || "?") + pct }), " “" + (i.text || "") + "”"]));
    });
    contextPane.appendChild(intents);
  }

  function refresh() {
    loadQueue();
    if (state.current) openConversation(state.current);
  }

  // ---- live updates ------------------------------------------------------------------------
  var socket = null;
  var backoff = 500;
  function connect() {
    socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/console/ws");
    socket.addEventListener("open", function () {
      backoff = 500;
      document.body.setAttribute("data-live", "true");
      socket.send('{"type":"ping"}');
    });
    socket.addEventListener("message", function (event) {
      var data = JSON.parse(event.data);
      if (data.type === "message") {
        if (data.conversation_id === state.current) {
          var log = convPane.querySelector(".transcript");
          if (log && !log.querySelector('[data-id="' + data.message.id + '"]')) {
            log.appendChild(renderMessage(data.message));
            log.scrollTop = log.scrollHeight;
          }
        }
        scheduleQueue();
      } else if (data.type === "queue") {
        scheduleQueue();
        if (state.current) openConversation(state.current);
      } else if (data.type === "note" && data.conversation_id === state.current) {
        openConversation(state.current);
      } else if (data.type === "application" && !refunds.hidden && window.ConsoleRefunds) {
        window.ConsoleRefunds.show();
      }
    });
    socket.addEventListener("close", function (event) {
      document.body.removeAttribute("data-live");
      if (event.code === 4401) { window.location.href = "/console/login"; return; }
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 15000);
    });
  }
  setInterval(function () { if (socket && socket.readyState === 1) socket.send('{"type":"ping"}'); }, 20000);
  // Wait times keep counting between events.
  setInterval(function () { if (!inbox.hidden) loadQueue(); }, 30000);

  window.ConsoleApi = { api: api, el: el, clear: clear, say: say, act: act, link: link };

  api("GET", "/console/api/me").then(function (me) {
    state.me = me;
    return api("GET", "/console/api/canned");
  }).then(function (canned) {
    state.canned = canned;
    connect();
    return loadQueue();
  });
})();
