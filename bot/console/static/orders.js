// The seller's back-office: find an order, read its balance and what the policy allows now, and
// (merchants and admins) start a refund. Uses console.js's helpers (window.ConsoleApi).
(function () {
  "use strict";

  var C = window.ConsoleApi;
  var el = C.el, clear = C.clear, api = C.api, say = C.say, link = C.link;
  var view = document.getElementById("orders");
  var METHODS = {
    immediate_refund: "Immediate refund",
    no_return_refund: "No-return refund",
    return_and_refund: "Return and refund",
  };
  function words(value) { return String(value || "").replace(/_/g, " "); }

  var box = el("input", { id: "order-search", type: "search", maxlength: "254", autocomplete: "off",
    placeholder: "Order number, customer id or e-mail" });
  var searchForm = el("form", { class: "filter", role: "search" }, [
    el("label", { for: "order-search", text: "Find orders" }), box,
    el("button", { type: "submit", text: "Search" }),
  ]);
  var results = el("div", { class: "applications", "aria-live": "polite" });
  var detail = el("section", { class: "application", "aria-label": "Order" });
  view.appendChild(searchForm);
  view.appendChild(results);
  view.appendChild(detail);
  searchForm.addEventListener("submit", function (event) { event.preventDefault(); search(); });

  function search() {
    return api("GET", "/console/api/orders?q=" + encodeURIComponent(box.value.trim())).then(function (data) {
      clear(results);
      var table = el("table", {}, [el("caption", { text: data.orders.length + " order(s)" }),
        el("thead", {}, [el("tr", {}, ["Order", "Customer", "E-mail", "Status", "Total"].map(function (t) { return el("th", { scope: "col", text: t }); }))])]);
      var body = el("tbody");
      data.orders.forEach(function (o) {
        body.appendChild(el("tr", {}, [
          el("td", {}, [link("orders", o.order_id)]),
          el("td", { text: o.customer_id }),
          el("td", { text: o.customer_email }),
          el("td", { text: words(o.status) }),
          el("td", { text: o.total + " " + o.currency }),
        ]));
      });
      table.appendChild(body);
      results.appendChild(table);
      if (data.more) results.appendChild(el("p", { class: "muted", text: "Only the first " + data.orders.length + " are shown: give a whole order number, customer id or e-mail to narrow the search." }));
      if (!data.orders.length) results.appendChild(el("p", { class: "muted", text: "No order matches." }));
    }).catch(function (e) { say("Not found: " + e.message); });
  }

  function open(orderId) {
    return api("GET", "/console/api/orders/" + encodeURIComponent(orderId)).then(render)
      .catch(function (e) { clear(detail); detail.appendChild(el("p", { class: "error", role: "alert", text: e.message })); });
  }

  function render(o) {
    clear(detail);
    detail.appendChild(el("h2", { text: "Order " + o.order_id }));
    var facts = el("dl", { class: "slots" });
    [["Status", words(o.status)], ["Customer", o.customer_id + " · " + o.customer_email],
     ["Paid", o.balance.paid + " " + o.currency], ["Refunded", o.balance.refunded + " " + o.currency],
     ["Requested", o.balance.requested + " " + o.currency], ["Refundable", o.balance.refundable + " " + o.currency]].forEach(function (f) {
      facts.appendChild(el("dt", { text: f[0] }));
      facts.appendChild(el("dd", { text: f[1] }));
    });
    detail.appendChild(facts);
    detail.appendChild(el("h3", { text: "Items" }));
    var items = el("ul", { class: "facts", "aria-label": "Items" });
    o.items.forEach(function (i) { items.appendChild(el("li", { text: i.quantity + " × " + i.title + " (" + i.sku + "), " + i.unit_price + " " + o.currency })); });
    detail.appendChild(items);
    detail.appendChild(el("h3", { text: "Refund methods now" }));
    var methods = el("ul", { class: "facts", "aria-label": "Refund methods now" });
    o.methods.forEach(function (m) {
      methods.appendChild(el("li", { text: METHODS[m.method] + (m.offered ? " — allowed, up to " + m.max_amount + " " + o.currency : " — not allowed: " + m.explanation) }));
    });
    detail.appendChild(methods);
    detail.appendChild(el("h3", { text: "Applications" }));
    var apps = el("ul", { class: "facts", "aria-label": "Applications" });
    o.applications.forEach(function (a) {
      apps.appendChild(el("li", {}, [link("refunds", a.reference), " — " + words(a.status) + ", " + a.amount + " " + a.currency + " (" + words(a.method) + ")",
        a.conversation_id ? " · " : null, a.conversation_id ? link("conversations", a.conversation_id, "conversation") : null]));
    });
    if (!o.applications.length) apps.appendChild(el("li", { class: "muted", text: "None yet." }));
    detail.appendChild(apps);
    if (o.can_refund) detail.appendChild(refundForm(o));
    else detail.appendChild(el("p", { class: "muted", text: "Only a merchant or an admin can start a refund." }));
  }

  function field(form, id, label, control) {
    var error = el("p", { id: id + "-error", class: "error", role: "alert", hidden: "hidden" });
    control.setAttribute("aria-describedby", id + "-error");
    form.appendChild(el("label", { for: id, text: label }));
    form.appendChild(control);
    form.appendChild(error);
    return error;
  }

  function refundForm(o) {
    var form = el("form", { class: "start-refund", "aria-label": "Start a refund" }, [el("h3", { text: "Start a refund" })]);
    var offered = o.methods.filter(function (m) { return m.offered; });
    if (!offered.length) {
      form.appendChild(el("p", { class: "muted", text: "No refund method is allowed for this order now." }));
      return form;
    }
    var method = el("select", { id: "refund-method" }, offered.map(function (m) { return el("option", { value: m.method, text: METHODS[m.method] }); }));
    var amount = el("input", { id: "refund-amount", inputmode: "decimal", required: "required", placeholder: "e.g. 12.50" });
    var category = el("select", { id: "refund-category" }, [el("option", { value: "", text: "—" })].concat(
      o.reason_categories.map(function (c) { return el("option", { value: c, text: words(c) }); })));
    var reason = el("textarea", { id: "refund-reason", rows: "3", maxlength: "2000", required: "required" });
    var errors = {
      method: field(form, "refund-method", "Method", method),
      amount: field(form, "refund-amount", "Amount (" + o.currency + ", up to " + o.balance.refundable + ")", amount),
      reason_category: field(form, "refund-category", "Reason category (needed for return and refund)", category),
      reason: field(form, "refund-reason", "Reason", reason),
    };
    var general = el("p", { class: "error", role: "alert", hidden: "hidden" });
    var submit = el("button", { type: "submit", text: "Start refund" });
    form.appendChild(general);
    form.appendChild(submit);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      Object.keys(errors).forEach(function (k) { errors[k].hidden = true; });
      general.hidden = true;
      submit.disabled = true;
      api("POST", "/console/api/orders/" + encodeURIComponent(o.order_id) + "/refunds", {
        method: method.value, amount: amount.value.trim(), reason: reason.value,
        reason_category: category.value, form_token: o.form_token,
      }).then(function (a) {
        say("Refund " + a.reference + " started: " + words(a.status) + ".");
        return open(o.order_id);
      }).catch(function (e) {
        submit.disabled = false;
        var shown = e.data && errors[e.data.field] ? errors[e.data.field] : general;
        shown.textContent = e.message;
        shown.hidden = false;
      });
    });
    return form;
  }

  window.ConsoleOrders = {
    show: function () { if (!results.firstChild) search(); },
    open: open,
  };
})();
