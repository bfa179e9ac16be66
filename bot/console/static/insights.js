// The Insights view (merchants and admins): the report of `refundbot report` for a period, as
// tables, with a CSV download of the same figures. Uses console.js's helpers (window.ConsoleApi).
(function () {
  "use strict";

  var view = document.getElementById("insights");
  if (!view) return;
  var C = window.ConsoleApi;
  var el = C.el, clear = C.clear, api = C.api, say = C.say;
  function words(value) { return String(value || "").replace(/_/g, " "); }
  function percent(rate) { return rate === null ? "–" : (rate * 100).toFixed(1) + " %"; }
  function duration(seconds) {
    if (seconds === null) return "–";
    var s = Math.round(seconds), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
    var m = Math.floor(s % 3600 / 60);
    return (d ? d + " d " : "") + (d || h ? h + " h " : "") + m + " min" + (s < 60 ? " (" + s + " s)" : "");
  }
  function day(date) { return date.toISOString().slice(0, 10); }
  function average(value) { return value === null ? "–" : value.toFixed(2); }
  function csatFact(c) {
    return average(c.average) + " of " + c.rated + " ratings (" + c.asked + " asked, " + percent(c.response_rate) + " answered)";
  }
  function csatRows(c) {
    var rows = [["all", "all", c]];
    [["channel", c.by_channel], ["agent", c.by_agent], ["event", c.by_event]].forEach(function (by) {
      by[1].forEach(function (g) { rows.push([by[0], by[0] === "agent" ? g.key : words(g.key), g]); });
    });
    return rows.map(function (row) {
      var g = row[2], d = g.distribution;
      return [row[0], row[1], g.rated, average(g.average), d["1"], d["2"], d["3"], d["4"], d["5"]];
    });
  }

  // The last seven days, today included: until is the day after today (not included).
  var tomorrow = new Date(Date.now() + 86400000);
  var since = el("input", { id: "insights-since", type: "date", value: day(new Date(tomorrow.getTime() - 7 * 86400000)) });
  var until = el("input", { id: "insights-until", type: "date", value: day(tomorrow) });
  var download = el("a", { class: "download", text: "Download CSV" });
  var form = el("form", { class: "filter", "aria-label": "Period" }, [
    el("label", { for: "insights-since", text: "From" }), since,
    el("label", { for: "insights-until", text: "until (not included)" }), until,
    el("button", { type: "submit", text: "Show" }), download,
  ]);
  var body = el("div", { class: "applications", "aria-live": "polite" });
  view.appendChild(form);
  view.appendChild(body);
  form.addEventListener("submit", function (event) { event.preventDefault(); load(); });

  function query() {
    return "?since=" + encodeURIComponent(since.value) + "&until=" + encodeURIComponent(until.value);
  }
  function table(caption, header, rows) {
    var t = el("table", {}, [el("caption", { text: caption }),
      el("thead", {}, [el("tr", {}, header.map(function (h) { return el("th", { scope: "col", text: h }); }))])]);
    var tbody = el("tbody");
    rows.forEach(function (r) { tbody.appendChild(el("tr", {}, r.map(function (v) { return el("td", { text: String(v) }); }))); });
    if (!rows.length) tbody.appendChild(el("tr", {}, [el("td", { class: "muted", colspan: String(header.length), text: "None in this period." })]));
    t.appendChild(tbody);
    return t;
  }

  function render(r) {
    clear(body);
    var c = r.conversations, d = r.decisions;
    body.appendChild(el("h2", { text: "From " + r.period.since.slice(0, 10) + " until " + r.period.until.slice(0, 10) }));
    var facts = el("dl", { class: "slots" });
    var channels = Object.keys(c.by_channel).map(function (k) { return k + " " + c.by_channel[k]; }).join(", ");
    [["Conversations", c.total + (channels ? " (" + channels + ")" : "")],
     ["Resolved without a person", c.contained + " · " + percent(c.containment_rate)],
     ["Decided applications", d.decided + " (approved " + d.approved + ", rejected " + d.rejected + ") · approval " + percent(d.approval_rate)],
     ["Submission to decision", "median " + duration(r.time_to_decision.median_seconds) + ", p90 " + duration(r.time_to_decision.p90_seconds)],
     ["Submission to payout", "median " + duration(r.time_to_payout.median_seconds) + ", p90 " + duration(r.time_to_payout.p90_seconds)],
     ["NLU fallback rate", r.nlu_fallback.recorded
       ? percent(r.nlu_fallback.rate) + " (" + r.nlu_fallback.fallbacks + " of " + r.nlu_fallback.messages + " typed buyer messages not understood)"
       : r.nlu_fallback.note],
     ["Buyer satisfaction (CSAT)", csatFact(r.csat)],
    ].forEach(function (f) { facts.appendChild(el("dt", { text: f[0] })); facts.appendChild(el("dd", { text: f[1] })); });
    body.appendChild(facts);
    body.appendChild(table("Handoffs by reason", ["Reason", "Handoffs", "Conversations", "Share of conversations"],
      r.handoffs.map(function (h) { return [words(h.reason), h.handoffs, h.conversations, percent(h.rate)]; })));
    body.appendChild(table("Refund applications (status at the period's end)", ["Method", "Status", "Currency", "Applications", "Amount", "Compensation"],
      r.refunds.map(function (g) { return [words(g.method), words(g.status), g.currency, g.applications, g.amount, g.compensation]; })));
    body.appendChild(table("Buyer satisfaction (1–5) by channel, agent and event", ["By", "Group", "Ratings", "Average", "1", "2", "3", "4", "5"],
      r.csat.rated ? csatRows(r.csat) : []));
    var hours = r.messages_by_hour.map(function (n, h) { return [(h < 10 ? "0" : "") + h + ":00", n]; })
      .filter(function (row) { return row[1] > 0; });
    body.appendChild(table("Buyer messages by hour (UTC)", ["Hour", "Messages"], hours));
  }

  // Only the latest request is shown: an earlier one answered late (the tab's first load,
  // then "Show" for another period) must not replace it.
  var latest = 0;

  function load() {
    var mine = ++latest;
    download.setAttribute("href", "/console/api/insights.csv" + query());
    return api("GET", "/console/api/insights" + query())
      .then(function (r) { if (mine === latest) { render(r); } })
      .catch(function (e) {
        if (mine !== latest) { return; }
        clear(body); body.appendChild(el("p", { class: "error", role: "alert", text: e.message })); say("Not shown: " + e.message);
      });
  }

  window.ConsoleInsights = { show: load };
})();
