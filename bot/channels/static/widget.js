/* Refund assistant web chat widget. Embed with one tag:
 *   <script src="https://GATEWAY/widget.js" data-token="SIGNED_TOKEN" async></script>
 * data-token is optional (without it the buyer is a guest); data-lang (en, es, ru) is the shop's
 * language, else the browser's is used: the conversation starts in it and the server may change
 * it (the buyer writes or asks for another). Plain JS, no build step.
 * Protocol: see bot/channels/webchat.py.
 */
(function () {
  "use strict";
  if (window.RefundBot) return;

  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  var base = new URL(script ? script.src : "/widget.js", window.location.href);
  var origin = base.origin;
  var token = (script && script.getAttribute("data-token")) || "";
  var SESSION_KEY = "refundbot.session";
  // How often a frame is sent before it is given up, and the errors that refuse a frame.
  var MAX_SENDS = 3;
  var REFUSALS = [
    "bad_frame", "bad_button", "failed", "too_long", "empty", "bad_characters", "rate_limited",
  ];
  var OPEN_KEY = "refundbot.open";
  // The widget's own words: en, es, ru (bot/languages.py); {n} and {name} are filled in.
  var LANGS = ["en", "es", "ru"];
  var LABELS = {
    open: ["Open refund assistant chat", "Abrir el chat de reembolsos", "Открыть чат по возвратам"],
    unread: ["{n} unread", "{n} sin leer", "непрочитанных: {n}"],
    connecting: ["Connecting…", "Conectando…", "Подключение…"],
    reconnecting: ["Reconnecting…", "Reconectando…", "Переподключение…"],
    offline: ["Offline — reconnecting…", "Sin conexión — reconectando…",
      "Нет связи — переподключение…"],
    close: ["Close chat", "Cerrar el chat", "Закрыть чат"],
    title: ["Refund assistant", "Asistente de reembolsos", "Помощник по возвратам"],
    log: ["Conversation", "Conversación", "Переписка"],
    typing: ["The assistant is typing", "El asistente está escribiendo", "Помощник печатает"],
    placeholder: ["Type a message…", "Escribe un mensaje…", "Введите сообщение…"],
    message: ["Message", "Mensaje", "Сообщение"],
    attach: ["Attach a photo or PDF", "Adjuntar una foto o un PDF", "Прикрепить фото или PDF"],
    send: ["Send", "Enviar", "Отправить"],
    you: ["You", "Tú", "Вы"],
    agentNamed: ["{name}, support", "{name}, soporte", "{name}, поддержка"],
    agent: ["Support agent", "Agente de soporte", "Сотрудник поддержки"],
    assistant: ["Assistant", "Asistente", "Помощник"],
    image: ["Image from the assistant", "Imagen del asistente", "Изображение от помощника"],
    quick: ["Quick replies", "Respuestas rápidas", "Быстрые ответы"],
    signedIn: ["Signed in as {name}", "Sesión iniciada como {name}", "Вы вошли как {name}"],
    guest: ["Guest", "Invitado", "Гость"],
    failed: ["Something went wrong.", "Algo salió mal.", "Что-то пошло не так."],
    tooLong: ["Messages can be at most {n} characters long.",
      "Los mensajes pueden tener como máximo {n} caracteres.",
      "Сообщение может быть не длиннее {n} символов."],
    fileType: ["I can only take photos (JPEG, PNG, GIF, WebP) and PDF files.",
      "Solo puedo recibir fotos (JPEG, PNG, GIF, WebP) y archivos PDF.",
      "Я принимаю только фото (JPEG, PNG, GIF, WebP) и PDF."],
    fileSize: ["Files can be at most {n} MB.", "Los archivos pueden tener como máximo {n} MB.",
      "Файл может быть не больше {n} МБ."],
    notYet: ["Still connecting; try again in a moment.", "Conectando todavía; inténtalo en un momento.",
      "Ещё подключаюсь; попробуйте чуть позже."],
    uploading: ["Uploading {name}…", "Subiendo {name}…", "Загрузка {name}…"],
    uploadFailed: ["The upload failed.", "No se pudo subir el archivo.", "Не удалось загрузить файл."],
    uploadOffline: ["The upload failed; check your connection.",
      "No se pudo subir el archivo; revisa tu conexión.",
      "Не удалось загрузить файл; проверьте подключение."],
  };
  function supported(code) {
    code = String(code || "").toLowerCase().split(/[-_]/)[0];
    return LANGS.indexOf(code) >= 0 ? code : null;
  }
  // What the conversation starts in: the shop's data-lang, else the browser's language.
  var hint = (script && script.getAttribute("data-lang")) || navigator.language || "";
  var lang = supported(hint) || "en";
  function t(key, params) {
    var words = LABELS[key][LANGS.indexOf(lang)];
    return words.replace(/\{(\w+)\}/g, function (_, name) { return String((params || {})[name]); });
  }

  var state = {
    ws: null,
    session: null,
    welcomed: false,
    attempt: 0,
    reconnectTimer: null,
    outbox: [], // frames not yet echoed by the server, resent after a reconnect
    lastSent: null, // client_id of the frame sent last
    seen: {}, // server message id -> element
    pending: {}, // client_id -> element
    unread: 0,
    open: false,
    customer: undefined, // who the buyer is, once welcomed (null: a guest)
    limits: { message_max_chars: 4000, upload_max_bytes: 10485760, upload_types: [] },
  };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }

  var SVG = "http://www.w3.org/2000/svg";
  // Inline icons: no emoji font or image request needed on the shop's page.
  function icon(d, stroked) {
    function make(tag, attrs) {
      var node = document.createElementNS(SVG, tag);
      Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
      return node;
    }
    var svg = make("svg", {
      viewBox: "0 0 24 24", width: "24", height: "24", "aria-hidden": "true", focusable: "false",
    });
    svg.appendChild(make("path", stroked ? {
      d: d, fill: "none", stroke: "currentColor", "stroke-width": "2",
      "stroke-linecap": "round", "stroke-linejoin": "round",
    } : { d: d, fill: "currentColor" }));
    return svg;
  }
  var CHAT_ICON = "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z";
  var CLIP_ICON = "M21 11.5l-8.6 8.6a5.3 5.3 0 0 1-7.5-7.5l8.6-8.6a3.5 3.5 0 0 1 5 5l-8.6 8.6" +
    "a1.8 1.8 0 0 1-2.5-2.5l7.9-7.9";

  function uid() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function loadSession() {
    try { return window.localStorage.getItem(SESSION_KEY); } catch (e) { return null; }
  }

  function saveSession(value) {
    try { window.localStorage.setItem(SESSION_KEY, value); } catch (e) { /* private mode */ }
  }

  // ---- DOM -------------------------------------------------------------------------------
  var css = el("link", { rel: "stylesheet", href: origin + "/widget.css" });
  document.head.appendChild(css);

  var badge = el("span", { class: "rb-badge", hidden: "", "aria-hidden": "true" });
  var launcher = el("button", {
    type: "button", class: "rb-launcher", "aria-expanded": "false", "aria-controls": "rb-panel",
  }, [icon(CHAT_ICON, false), badge]);

  var status = el("span", { class: "rb-status", "aria-live": "polite" });
  var closeButton = el("button", { type: "button", class: "rb-close", text: "×" });
  var title = el("h2", { id: "rb-title" });
  var header = el("div", { class: "rb-header" }, [el("div", {}, [title, status]), closeButton]);
  var log = el("div", {
    class: "rb-log", role: "log", "aria-live": "polite", "aria-relevant": "additions", tabindex: "0",
  });
  var typingText = el("span", { class: "rb-sr" });
  var typing = el("div", { class: "rb-typing", hidden: "", "aria-live": "polite" }, [
    el("span", { class: "rb-dots", "aria-hidden": "true" }, [el("i"), el("i"), el("i")]),
    typingText,
  ]);
  var errorBox = el("div", { class: "rb-error", role: "alert", hidden: "" });
  var input = el("textarea", { id: "rb-input", class: "rb-input", rows: "1", autocomplete: "off" });
  var fileInput = el("input", {
    type: "file", id: "rb-file", class: "rb-file", accept: "image/*,application/pdf",
    tabindex: "-1", "aria-hidden": "true",
  });
  var attach = el("button", { type: "button", class: "rb-attach" }, [icon(CLIP_ICON, true)]);
  var send = el("button", { type: "submit", class: "rb-send" });
  var form = el("form", { class: "rb-form" }, [attach, fileInput, input, send]);
  var panel = el("section", {
    id: "rb-panel", class: "rb-panel", role: "dialog", "aria-labelledby": "rb-title", hidden: "",
  }, [header, log, typing, errorBox, form]);
  var root = el("div", { class: "rb-root" }, [panel, launcher]);

  function mount() { document.body.appendChild(root); }
  // Put every label in the conversation's language (again when the server changes it).
  function relabel(code) {
    lang = supported(code) || lang;
    root.setAttribute("lang", lang);
    title.textContent = t("title");
    typingText.textContent = t("typing");
    send.textContent = t("send");
    [[closeButton, "aria-label", "close"], [log, "aria-label", "log"], [input, "aria-label", "message"],
      [input, "placeholder", "placeholder"], [attach, "aria-label", "attach"],
    ].forEach(function (a) { a[0].setAttribute(a[1], t(a[2])); });
    status.textContent = whoLabel();
    updateBadge();
  }
  function whoLabel() {
    var who = state.customer;
    if (who === undefined) return t("connecting");
    return who ? t("signedIn", { name: who.name || who.id }) : t("guest");
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  // ---- rendering -------------------------------------------------------------------------
  function timeLabel(iso) {
    var d = iso ? new Date(iso) : new Date();
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function senderLabel(m) {
    if (m.direction === "in") return t("you");
    if (m.sender === "agent") return m.author ? t("agentNamed", { name: m.author }) : t("agent");
    return t("assistant");
  }

  function disableOldButtons() {
    var groups = log.querySelectorAll(".rb-buttons button");
    for (var i = 0; i < groups.length; i++) groups[i].disabled = true;
  }

  function renderMessage(m) {
    var mine = m.direction === "in";
    var bubble = el("div", { class: "rb-bubble" });
    if (m.sender === "agent") bubble.appendChild(el("span", { class: "rb-author", "aria-hidden": "true", text: senderLabel(m) }));
    if (m.text) bubble.appendChild(el("span", { class: "rb-text", text: m.text }));
    if (m.image) bubble.appendChild(el("img", { src: m.image, alt: t("image") }));
    var meta = el("div", { class: "rb-meta" }, [
      el("span", { class: "rb-sr", text: senderLabel(m) + ", " }),
      el("time", { datetime: m.created_at || new Date().toISOString(), text: timeLabel(m.created_at) }),
    ]);
    var row = el("div", {
      class: "rb-msg " + (mine ? "rb-mine" : "rb-theirs") + (m.sender === "system" ? " rb-system" : ""),
    }, [bubble, meta]);
    if (m.id) row.setAttribute("data-id", String(m.id));
    if (m.buttons && m.buttons.length) {
      var group = el("div", { class: "rb-buttons", role: "group", "aria-label": t("quick") });
      m.buttons.forEach(function (b) {
        var button = el("button", { type: "button", class: "rb-quick", text: b.title });
        button.addEventListener("click", function () { pressButton(m.id, b.index, b.title); });
        group.appendChild(button);
      });
      row.appendChild(group);
    }
    return row;
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  // Show a server message once, replacing the local copy of our own message if there is one.
  function showMessage(m, live) {
    if (state.seen[m.id]) return;
    var row = renderMessage(m);
    if (m.direction === "in") disableOldButtons();
    var local = m.client_id && state.pending[m.client_id];
    if (local) {
      log.replaceChild(row, local);
      delete state.pending[m.client_id];
    } else {
      log.appendChild(row);
    }
    if (m.client_id) dropFromOutbox(m.client_id);
    state.seen[m.id] = row;
    if (live && m.direction === "out" && (!state.open || document.hidden)) {
      state.unread += 1;
      updateBadge();
    }
    scrollDown();
  }

  function showPending(frame, text) {
    var row = renderMessage({ direction: "in", sender: "buyer", text: text });
    row.classList.add("rb-pending");
    disableOldButtons();
    log.appendChild(row);
    state.pending[frame.client_id] = row;
    scrollDown();
  }

  function updateBadge() {
    if (state.unread > 0 && !state.open) {
      badge.textContent = state.unread > 9 ? "9+" : String(state.unread);
      badge.hidden = false;
      launcher.setAttribute("aria-label", t("open") + ", " + t("unread", { n: state.unread }));
    } else {
      badge.hidden = true;
      launcher.setAttribute("aria-label", t("open"));
    }
  }

  var errorTimer = null;
  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(function () { errorBox.hidden = true; }, 6000);
  }

  // ---- connection ------------------------------------------------------------------------
  function wsUrl() {
    return (origin.indexOf("https:") === 0 ? "wss:" : "ws:") + origin.replace(/^https?:/, "") +
      "/webchat/ws";
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    status.textContent = state.attempt ? t("reconnecting") : t("connecting");
    var ws = new WebSocket(wsUrl());
    state.ws = ws;
    state.welcomed = false;
    ws.onopen = function () {
      var hello = { type: "hello", token: token || null, session: loadSession(), language: hint };
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      onFrame(frame);
    };
    ws.onclose = function () {
      if (state.ws !== ws) return;
      state.ws = null;
      state.welcomed = false;
      status.textContent = t("offline");
      typing.hidden = true;
      // Exponential back-off with jitter, capped at 30 s.
      var delay = Math.min(30000, 500 * Math.pow(2, state.attempt)) * (0.75 + Math.random() / 2);
      state.attempt += 1;
      state.reconnectTimer = setTimeout(connect, delay);
    };
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "welcome":
        state.welcomed = true;
        state.attempt = 0;
        state.session = frame.session;
        saveSession(frame.session);
        if (frame.limits) state.limits = frame.limits;
        state.customer = frame.customer || null;
        relabel(frame.language);
        log.textContent = "";
        state.seen = {};
        state.pending = {};
        frame.history.forEach(function (m) { showMessage(m, false); });
        // Whatever the server has not got yet is sent again; the client id keeps it single. A
        // frame sent this often without an answer is given up: resending it for ever would
        // keep the buyer's next messages from ever being answered.
        state.outbox.slice().forEach(function (item) {
          showPending(item.frame, item.text);
          if (item.sent >= MAX_SENDS) settle(item.frame.client_id, true);
          else transmit(item.frame);
        });
        break;
      case "message":
        if (frame.language && frame.language !== lang) relabel(frame.language);
        showMessage(frame.message, true);
        break;
      case "typing":
        typing.hidden = !frame.on;
        if (frame.on) scrollDown();
        break;
      case "ack":
        settle(frame.client_id, false);
        break;
      case "error":
        showError(frame.message || t("failed"));
        // The server names the frame it refused; a refusal without a name is of the last frame.
        if (frame.client_id) settle(frame.client_id, true);
        else if (REFUSALS.indexOf(frame.code) >= 0 && state.lastSent) settle(state.lastSent, true);
        break;
      default:
        break;
    }
  }

  // A frame the server took (ack) or will not take (refused): out of the outbox and no longer
  // pending; a refused one is shown as not sent.
  function settle(clientId, refused) {
    dropFromOutbox(clientId);
    var row = state.pending[clientId];
    if (!row) return;
    row.classList.remove("rb-pending");
    if (refused) row.classList.add("rb-failed");
    delete state.pending[clientId];
  }

  function dropFromOutbox(clientId) {
    state.outbox = state.outbox.filter(function (item) { return item.frame.client_id !== clientId; });
  }

  function transmit(frame) {
    if (state.ws && state.welcomed && state.ws.readyState === WebSocket.OPEN) {
      state.ws.send(JSON.stringify(frame));
      state.lastSent = frame.client_id;
      state.outbox.forEach(function (item) {
        if (item.frame.client_id === frame.client_id) item.sent += 1;
      });
    }
  }

  function queue(frame, text) {
    state.outbox.push({ frame: frame, text: text, sent: 0 });
    showPending(frame, text);
    transmit(frame);
  }

  // ---- actions ---------------------------------------------------------------------------
  function sendText() {
    var text = input.value.trim();
    if (!text) return;
    if (text.length > state.limits.message_max_chars) {
      showError(t("tooLong", { n: state.limits.message_max_chars }));
      return;
    }
    input.value = "";
    autoGrow();
    queue({ type: "message", text: text, client_id: uid() }, text);
  }

  function pressButton(messageId, index, title) {
    queue({ type: "button", message_id: messageId, index: index, client_id: uid() }, title);
    input.focus();
  }

  function upload(file) {
    if (!file) return;
    var types = state.limits.upload_types || [];
    if (types.length && types.indexOf(file.type) < 0) {
      showError(t("fileType"));
      return;
    }
    if (file.size > state.limits.upload_max_bytes) {
      showError(t("fileSize", { n: Math.floor(state.limits.upload_max_bytes / 1048576) }));
      return;
    }
    if (!state.session) { showError(t("notYet")); return; }
    var data = new FormData();
    data.append("session", state.session);
    data.append("client_id", uid());
    data.append("language", lang); // what is refused before the conversation is read
    data.append("file", file, file.name);
    status.textContent = t("uploading", { name: file.name });
    fetch(origin + "/webchat/upload", { method: "POST", body: data })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) showError(body.error || t("uploadFailed"));
        });
      })
      .catch(function () { showError(t("uploadOffline")); })
      .then(function () { if (state.welcomed) status.textContent = whoLabel(); });
  }

  function setOpen(open) {
    state.open = open;
    panel.hidden = !open;
    root.classList.toggle("rb-is-open", open);
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    try { window.sessionStorage.setItem(OPEN_KEY, open ? "1" : "0"); } catch (e) { /* ignore */ }
    if (open) {
      state.unread = 0;
      updateBadge();
      scrollDown();
      input.focus();
    } else {
      updateBadge();
      launcher.focus();
    }
  }

  function autoGrow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  }

  launcher.addEventListener("click", function () { setOpen(!state.open); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") setOpen(false);
  });
  form.addEventListener("submit", function (event) { event.preventDefault(); sendText(); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); sendText(); }
  });
  input.addEventListener("input", autoGrow);
  attach.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    upload(fileInput.files && fileInput.files[0]);
    fileInput.value = "";
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && state.open) { state.unread = 0; updateBadge(); }
  });

  window.RefundBot = {
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
  };

  relabel(lang);
  connect();
  var wasOpen = false;
  try { wasOpen = window.sessionStorage.getItem(OPEN_KEY) === "1"; } catch (e) { /* ignore */ }
  if (wasOpen) {
    if (document.body) setOpen(true);
    else document.addEventListener("DOMContentLoaded", function () { setOpen(true); });
  }
})();
