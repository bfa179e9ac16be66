// Refund review: applications by status, one application's facts, evidence and history, and the
// review actions its status allows. Uses console.js's helpers (window.ConsoleApi).
(function () {
  "use strict";

  var C = window.ConsoleApi;
  var el = C.el, clear = C.clear, api = C.api, act = C.act, link = C.link;
  var refunds = document.getElementById("refunds");
  var ACTIONS = {
    approve: "Approve",
    reject: "Reject…",
    request_info: "Ask the buyer…",
    return_received: "Mark return received",
    refunded: "Mark refunded",
  };

  var filter = el("select", { id: "status-filter" }, [
    el("option", { value: "pending_review", text: "Pending review" }),
    el("option", { value: "awaiting_return", text: "Awaiting return" }),
    el("option", { value: "return_received", text: "Return received" }),
    el("option", { value: "approved", text: "Approved" }),
    el("option", { value: "refunded", text: "Refunded" }),
    el("option", { value: "rejected", text: "Rejected" }),
    el("option", { value: "withdrawn", text: "Withdrawn" }),
    el("option", { value: "", text: "All" }),
  ]);
  var appList = el("div", { class: "applications" });
  var appDetail = el("section", { class: "application", "aria-label": "Application" });
  refunds.appendChild(el("div", { class: "filter" }, [el("label", { for: "status-filter", text: "Status " }), filter]));
  refunds.appendChild(appList);
  refunds.appendChild(appDetail);
  filter.addEventListener("change", loadApplications);

  function loadApplications() {
    var q = filter.value ? "?status=" + encodeURIComponent(filter.value) : "";
    return api("GET", "/console/api/applications" + q).then(function (items) {
      clear(appList);
      var table = el("table", {}, [el("caption", { text: items.length + " application(s)" }),
        el("thead", {}, [el("tr", {}, ["Reference", "Order", "Method", "Amount", "Status"].map(function (t) { return el("th", { scope: "col", text: t }); }))])]);
      var body = el("tbody");
      items.forEach(function (a) {
        body.appendChild(el("tr", {}, [
          el("td", {}, [el("button", { type: "button", class: "link", text: a.reference, on: { click: function () { openApplication(a.reference); } } })]),
          el("td", {}, [link("orders", a.order_id)]),
          el("td", { text: a.method.replace(/_/g, " ") }),
          el("td", { text: a.amount + " " + a.currency }),
          el("td", { text: a.status.replace(/_/g, " ") }),
        ]));
      });
      table.appendChild(body);
      appList.appendChild(table);
    });
  }

  function openApplication(reference) {
    return api("GET", "/console/api/applications/" + encodeURIComponent(reference)).then(function (a) {
      clear(appDetail);
      appDetail.appendChild(el("h2", { text: "Application " + a.reference }));
      var facts = el("dl", { class: "slots" });
      [["Status", a.status.replace(/_/g, " ")], ["Order", a.order_id], ["Customer", a.customer_id],
       ["Method", a.method.replace(/_/g, " ")], ["Amount", a.amount + " " + a.currency],
       ["Reason", (a.reason_category ? a.reason_category.replace(/_/g, " ") + ": " : "") + a.reason],
       ["Review due", a.review_due_at ? new Date(a.review_due_at).toLocaleString() : "—"],
       ["Return tracking", a.return_tracking || "—"]].forEach(function (f) {
        facts.appendChild(el("dt", { text: f[0] }));
        facts.appendChild(el("dd", { text: f[1] }));
      });
      appDetail.appendChild(facts);
      appDetail.appendChild(el("p", { class: "links" }, [link("orders", a.order_id, "Open order " + a.order_id),
        a.conversation_id ? " · " : null, a.conversation_id ? link("conversations", a.conversation_id, "Open the conversation") : null]));
      if (a.evidence.length) {
        var files = el("ul", { class: "facts", "aria-label": "Evidence" });
        a.evidence.forEach(function (f) {
          files.appendChild(el("li", {}, [el("a", { href: "/console/evidence/" + f.id, target: "_blank", rel: "noopener", text: f.filename })]));
        });
        appDetail.appendChild(el("h3", { text: "Evidence" }));
        appDetail.appendChild(files);
      }
      var note = el("textarea", { id: "review-note", rows: "2", maxlength: "1000" });
      appDetail.appendChild(el("label", { for: "review-note", text: "Reason or question for the buyer (needed to reject or ask)" }));
      appDetail.appendChild(note);
      var buttons = el("div", { class: "row", role: "group", "aria-label": "Review actions" });
      a.actions.forEach(function (action) {
        buttons.appendChild(el("button", { type: "button", text: ACTIONS[action].replace("…", ""), on: { click: function () {
          act(api("POST", "/console/api/applications/" + encodeURIComponent(a.reference) + "/" + action, { note: note.value }), ACTIONS[action].replace("…", "") + ": done.")
            .then(function (r) { if (r) { openApplication(a.reference); loadApplications(); } });
        } } }));
      });
      if (!a.actions.length) buttons.appendChild(el("p", { class: "muted", text: "No action is possible in this status." }));
      appDetail.appendChild(buttons);
      appDetail.appendChild(el("h3", { text: "History" }));
      var events = el("ol", { class: "facts" });
      a.events.forEach(function (e) {
        var change = e.from === e.to ? "question to the buyer" : (e.from || "new") + " → " + e.to;
        events.appendChild(el("li", { text: new Date(e.at).toLocaleString() + " · " + e.actor + " · " + change.replace(/_/g, " ") + (e.note ? " · " + e.note : "") }));
      });
      appDetail.appendChild(events);
      appDetail.focus && appDetail.setAttribute("tabindex", "-1");
    });
  }

  window.ConsoleRefunds = { show: loadApplications, open: openApplication };
})();
