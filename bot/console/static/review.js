// The NLU review view (merchants and admins): buyer messages the bot did not understand, or
// understood with low confidence, in groups of similar messages. Each gets an intent of the
// domain or "ignore"; `refundbot nlu export-reviewed` turns the verdicts into NLU data.
// Uses console.js's helpers (window.ConsoleApi).
(function () {
  "use strict";

  var view = document.getElementById("review");
  if (!view) return;
  var C = window.ConsoleApi;
  var el = C.el, clear = C.clear, api = C.api, say = C.say, link = C.link;
  var KINDS = {
    fallback: "not understood",
    low_confidence: "low confidence",
    out_of_scope: "out of scope",
    before_handoff: "before a handoff after failures",
    correction: "rephrase of a message not understood",
  };
  function day(date) { return date.toISOString().slice(0, 10); }
  function percent(value) { return value === null || value === undefined ? "–" : Math.round(value * 100) + " %"; }

  var tomorrow = new Date(Date.now() + 86400000);
  var since = el("input", { id: "review-since", type: "date", value: day(new Date(tomorrow.getTime() - 7 * 86400000)) });
  var until = el("input", { id: "review-until", type: "date", value: day(tomorrow) });
  var pending = el("input", { id: "review-pending", type: "checkbox", checked: "checked" });
  var form = el("form", { class: "filter", "aria-label": "Period" }, [
    el("label", { for: "review-since", text: "Said since" }), since,
    el("label", { for: "review-until", text: "before (day excluded)" }), until,
    pending, el("label", { for: "review-pending", text: "only messages without a verdict" }),
    el("button", { type: "submit", text: "List messages" }),
  ]);
  var body = el("div", { class: "review-groups", "aria-live": "polite" });
  view.appendChild(form);
  view.appendChild(body);
  form.addEventListener("submit", function (event) { event.preventDefault(); load(); });
  pending.addEventListener("change", load);

  function choices(intents, selected, id) {
    var select = el("select", { id: id });
    intents.concat(["ignore"]).forEach(function (name) {
      var option = el("option", { value: name, text: name === "ignore" ? "ignore (not training data)" : name });
      if (name === selected) option.selected = true;
      select.appendChild(option);
    });
    return select;
  }
  function verdictText(v) {
    if (!v) return "no verdict yet";
    return (v.intent === null ? "ignored" : v.intent) + (v.agent ? " by " + v.agent : "");
  }
  function save(item, intent) {
    return api("POST", "/console/api/nlu-review/verdicts", { sender_id: item.sender_id, event_id: item.event_id, intent: intent })
      .then(function () { item.verdict = { intent: intent === "ignore" ? null : intent, agent: "you" }; });
  }

  function row(item, intents, n) {
    var id = "review-" + item.sender_id + "-" + item.event_id;
    var select = choices(intents, item.verdict ? (item.verdict.intent || "ignore") : (item.suggestion || "ignore"), id);
    var status = el("span", { class: "muted", text: verdictText(item.verdict) });
    var understood = item.intent === "nlu_fallback"
      ? "not understood" + (item.best_guess ? " (best guess " + item.best_guess.name + " " + percent(item.best_guess.confidence) + ")" : "")
      : (item.intent || "?") + " " + percent(item.confidence);
    var button = el("button", { type: "button", text: "Save" });
    button.addEventListener("click", function () {
      button.disabled = true;
      save(item, select.value).then(function () { status.textContent = verdictText(item.verdict); say("Saved."); })
        .catch(function (e) { say("Not saved: " + e.message); })
        .then(function () { button.disabled = false; });
    });
    return el("li", { class: "review-item" }, [
      el("blockquote", { text: item.text }),
      el("p", { class: "muted" }, [
        item.kinds.map(function (k) { return KINDS[k] || k; }).join(", ") + " · understood as " + understood + " · ",
        link("conversations", item.sender_id, "conversation"),
        item.at ? " · " + item.at.slice(0, 16).replace("T", " ") : null,
      ]),
      item.rephrase ? el("p", { class: "muted", text: "Then wrote: " + item.rephrase }) : null,
      el("label", { for: id, class: "visually-hidden", text: "Intent of message " + n }), select, button, " ", status,
    ]);
  }

  function group(g, intents, n) {
    var items = g.items.filter(function (i) { return !pending.checked || !i.verdict; });
    if (!items.length) return null;
    var id = "review-group-" + n;
    var select = choices(intents, items[0].suggestion || "ignore", id);
    var all = el("button", { type: "button", text: "Save for all " + items.length });
    all.addEventListener("click", function () {
      all.disabled = true;
      items.reduce(function (p, item) { return p.then(function () { return save(item, select.value); }); }, Promise.resolve())
        .then(function () { say("Saved for " + items.length + " messages."); load(); })
        .catch(function (e) { say("Not all saved: " + e.message); all.disabled = false; });
    });
    var list = el("ol", { class: "review-items" });
    items.forEach(function (item, i) { list.appendChild(row(item, intents, n + "." + (i + 1))); });
    return el("section", { class: "review-group", "aria-label": "Group " + n }, [
      el("h3", { text: items.length + (items.length === 1 ? " message like: " : " messages like: ") + items[0].text }),
      el("p", {}, [el("label", { for: id, text: "Intent for the whole group " }), select, all]),
      list,
    ]);
  }

  function render(data) {
    clear(body);
    if (data.unavailable) { body.appendChild(el("p", { class: "error", role: "alert", text: data.unavailable })); return; }
    body.appendChild(el("p", { class: "muted", text: "Not understood: confidence under " + percent(data.thresholds.fallback) +
      "; low confidence: under " + percent(data.thresholds.review) + "." +
      (data.truncated ? " Only the newest messages of the period were read." : "") }));
    var shown = 0;
    data.groups.forEach(function (g, i) {
      var section = group(g, data.intents, i + 1);
      if (section) { body.appendChild(section); shown += 1; }
    });
    if (!shown) body.appendChild(el("p", { class: "muted", text: "Nothing to review in this period." }));
  }

  function load() {
    var query = "?since=" + encodeURIComponent(since.value) + "&until=" + encodeURIComponent(until.value);
    return api("GET", "/console/api/nlu-review" + query).then(render)
      .catch(function (e) { clear(body); body.appendChild(el("p", { class: "error", role: "alert", text: e.message })); say("Not shown: " + e.message); });
  }

  window.ConsoleReview = { show: load };
})();
