/* fixgate operator dashboard.
 *
 * The bearer token lives in `state.token` and nowhere else: not in a URL, a cookie or any storage,
 * so it goes with the tab. The live feed is GET /dashboard/feed read with fetch() (EventSource cannot
 * send an Authorization header): server-sent events, a snapshot about once a second. On each snapshot
 * the page also reads GET /sessions and GET /health. Actions are the REST API's own calls, with the
 * same token, after a confirmation.
 *
 * Everything the server sends is shown as text (textContent, text nodes), never parsed as HTML: a
 * ClOrdID or a venue's Text is a client's or a venue's bytes.
 */
"use strict";

(() => {
  const OPEN = ["PENDING_NEW", "NEW", "PARTIALLY_FILLED", "PENDING_CANCEL", "PENDING_REPLACE"];
  const CANCELLABLE = new Set(["PENDING_NEW", "NEW", "PARTIALLY_FILLED", "PENDING_REPLACE", "DONE_FOR_DAY"]);
  const ORDER_HOP = "order.received_to_sent";
  const REPORT_HOP = "report.received_to_sent";
  const ORDERS_IN = "order.received_to_decided"; // every order taken, sent to a venue or not
  const REPORTS_IN = "report.received_to_applied";
  const KEEP_S = 300; // the charts' last five minutes

  const state = {
    token: null, // the bearer token: this variable only
    identity: null, // {name, role, may_act} from the feed's hello
    generation: 0, // the feed running; a new one (sign in, filters) ends the old
    controller: null,
    live: false,
    series: { x: [], o50: [], o99: [], r50: [], r99: [], orders: [], reports: [] },
    lastInterval: null,
    sessionCounts: new Map(), // session_id -> {t, in, out}: messages a second from successive counts
    charts: {},
  };

  const $ = (id) => document.getElementById(id);

  // -- DOM helpers: text only ------------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child); // a string becomes a text node
    }
    return node;
  }

  const cell = (value, cls) => el("td", { class: cls }, value === null || value === undefined ? "" : String(value));

  function money(value) {
    const text = value === null || value === undefined ? "" : String(value);
    const sign = text.startsWith("-") ? " neg" : text !== "" && text !== "0" ? " pos" : "";
    return el("td", { class: "n" + sign }, text);
  }

  const numberCell = (value) => el("td", { class: "n" }, value === null || value === undefined ? "–" : String(value));

  function fill(table, rows, columns, emptyText) {
    const body = $(table).tBodies[0];
    if (rows.length === 0) {
      body.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: columns }, emptyText)));
    } else {
      body.replaceChildren(...rows);
    }
  }

  function clock(iso) {
    if (!iso) return "";
    const when = new Date(iso);
    return isNaN(when) ? String(iso) : when.toISOString().slice(11, 19);
  }

  function micros(value) {
    if (value === null || value === undefined) return "–";
    return value >= 1000 ? (value / 1000).toFixed(2) + " ms" : Math.round(value) + " µs";
  }

  function badge(text, cls) {
    return el("span", { class: "badge " + (cls || "") }, text);
  }

  function toast(text, isError) {
    const box = $("toast");
    box.textContent = text;
    box.className = isError ? "error" : "";
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
  }

  // -- REST calls with the token ---------------------------------------------------------------------

  function headers(extra) {
    return Object.assign({ Authorization: "Bearer " + state.token }, extra || {});
  }

  async function detailOf(response) {
    try {
      const body = await response.json();
      return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    } catch (_) {
      return response.status + " " + response.statusText;
    }
  }

  async function call(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    if (response.status === 401) {
      signOut("signed out: " + (await detailOf(response)));
      throw new Error("signed out");
    }
    return response;
  }

  // -- sign in and out -------------------------------------------------------------------------------

  function signIn(token) {
    state.token = token;
    $("sign-in-error").textContent = "";
    $("sign-in-button").disabled = true;
    setLive("connecting", "off");
    restartFeed();
  }

  function signOut(why) {
    state.generation += 1;
    if (state.controller) state.controller.abort();
    state.token = null;
    state.identity = null;
    state.live = false;
    clearData();
    $("dashboard").hidden = true;
    $("sign-in").hidden = false;
    $("sign-out").hidden = true;
    $("who").textContent = "";
    $("updated").textContent = "";
    $("sign-in-button").disabled = false;
    $("sign-in-error").textContent = why || "";
    setLive("signed out", "off");
  }

  function clearData() {
    for (const table of document.querySelectorAll("main table")) {
      for (const body of table.tBodies) body.replaceChildren();
      if (table.tFoot) table.tFoot.replaceChildren();
    }
    for (const id of ["rates", "limits", "account-states", "rejections", "sessions-note", "health-status",
      "firm-state", "trouble"]) {
      $(id).replaceChildren();
    }
    $("trouble").hidden = true;
    for (const key of Object.keys(state.series)) state.series[key] = [];
    state.lastInterval = null;
    state.sessionCounts.clear();
    for (const chart of Object.values(state.charts)) chart.destroy();
    state.charts = {};
  }

  function setLive(text, cls) {
    const live = $("live");
    live.textContent = text;
    live.className = "badge " + cls;
  }

  // -- the feed --------------------------------------------------------------------------------------

  function filterQuery() {
    const query = new URLSearchParams();
    const account = $("filter-account").value.trim();
    const symbol = $("filter-symbol").value.trim();
    const status = $("filter-status").value;
    const side = $("filter-side").value;
    if (account) query.set("account", account);
    if (symbol) query.set("symbol", symbol);
    if (status === "OPEN") OPEN.forEach((s) => query.append("status", s));
    else if (status) query.set("status", status);
    if (side) query.set("side", side);
    return query.toString();
  }

  function restartFeed() {
    state.generation += 1;
    if (state.controller) state.controller.abort();
    runFeed(state.generation);
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function runFeed(generation) {
    const current = () => state.token !== null && generation === state.generation;
    while (current()) {
      const controller = new AbortController();
      state.controller = controller;
      let response;
      try {
        response = await fetch("/dashboard/feed?" + filterQuery(), {
          headers: headers(), cache: "no-store", signal: controller.signal,
        });
      } catch (error) {
        if (!current()) return;
        // Before the first answer: a gateway away, or a token no HTTP header can carry.
        if (!state.identity) { signOut("could not ask the gateway: " + error.message); return; }
        setLive("reconnecting", "warn");
        await sleep(2000);
        continue;
      }
      if (!current()) return;
      if (response.status === 401 || response.status === 403) {
        signOut(await detailOf(response));
        return;
      }
      if (response.status === 422) {
        $("filter-error").textContent = await detailOf(response);
        setLive("filter refused", "warn");
        return; // until the filters change
      }
      if (!response.ok) {
        showTrouble("the feed answered " + response.status + ": " + (await detailOf(response)));
        setLive("reconnecting", "warn");
        await sleep(2000);
        continue;
      }
      $("filter-error").textContent = "";
      try {
        await readEvents(response.body, current);
      } catch (_) {
        // aborted (sign out, new filters) or the connection dropped
      }
      if (!current()) return;
      setLive("reconnecting", "warn");
      await sleep(1000);
    }
  }

  async function readEvents(body, current) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done || !current()) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let kind = "message";
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) kind = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (current()) handle(kind, JSON.parse(data));
      }
    }
  }

  function handle(kind, data) {
    if (kind === "hello") {
      // A new feed (signed in, new filters) sends the charts' whole history again.
      for (const key of Object.keys(state.series)) state.series[key] = [];
      state.lastInterval = null;
      state.identity = data;
      $("who").textContent = data.name + " (" + data.role + ")";
      $("sign-out").hidden = false;
      $("sign-in").hidden = true;
      $("dashboard").hidden = false;
      $("token").value = "";
      for (const node of document.querySelectorAll(".operator-only")) node.hidden = !data.may_act;
    } else if (kind === "snapshot") {
      setLive("live", "ok");
      $("updated").textContent = "updated " + clock(data.at) + " UTC";
      render(data);
    } else if (kind === "trouble") {
      showTrouble(data.detail);
    }
  }

  function showTrouble(text) {
    $("trouble").textContent = text;
    $("trouble").hidden = false;
  }

  // -- rendering a snapshot --------------------------------------------------------------------------

  function render(s) {
    // A section the gateway could not read this time (the database away) is missing: its panel keeps
    // what it showed, and the banner says what is missing.
    if ("health" in s) renderHealth(s.health);
    if ("sessions" in s) renderSessions(s.sessions);
    if ("latency" in s) renderLatency(s.latency);
    if ("counters" in s) renderFlow(s.counters);
    if ("risk" in s) renderRisk(s.risk);
    if ("positions" in s) renderPositions(s.positions, s.pnl);
    if ("orders" in s) renderOrders(s.orders);
    if ("fills" in s) renderFills(s.fills);
    if ("audit" in s) renderAudit(s.audit);
    if (s.trouble.length) showTrouble(s.trouble.join(" · "));
    else $("trouble").hidden = true;
  }

  function renderLatency(latency) {
    if (!latency) {
      fill("latency", [], 10, "no latency: this API runs without a gateway");
      return;
    }
    const series = state.series;
    for (const [fromNs, toNs, hops] of latency.intervals) {
      const seconds = (toNs - fromNs) / 1e9;
      const at = toNs / 1e9;
      const p = (hop, index) => (hops[hop] && hops[hop][0] > 0 ? hops[hop][index] : null);
      series.x.push(at);
      series.o50.push(p(ORDER_HOP, 1));
      series.o99.push(p(ORDER_HOP, 3));
      series.r50.push(p(REPORT_HOP, 1));
      series.r99.push(p(REPORT_HOP, 3));
      series.orders.push(hops[ORDERS_IN] ? hops[ORDERS_IN][0] / seconds : 0);
      series.reports.push(hops[REPORTS_IN] ? hops[REPORTS_IN][0] / seconds : 0);
      state.lastInterval = hops;
    }
    const oldest = Date.now() / 1000 - KEEP_S;
    while (series.x.length && series.x[0] < oldest) {
      for (const key of Object.keys(series)) series[key].shift();
    }
    const rows = Object.entries(latency.since_start).map(([hop, h]) => {
      const last = state.lastInterval && state.lastInterval[hop];
      return el("tr", {},
        cell(hop),
        numberCell(last ? last[0] : null),
        numberCell(last && last[0] ? micros(last[1]) : null),
        numberCell(last && last[0] ? micros(last[3]) : null),
        numberCell(h.count),
        numberCell(h.count ? micros(h.p50_us) : null),
        numberCell(h.count ? micros(h.p90_us) : null),
        numberCell(h.count ? micros(h.p99_us) : null),
        numberCell(h.count ? micros(h.p99_9_us) : null),
        numberCell(h.count ? micros(h.max_us) : null));
    });
    fill("latency", rows, 10, "nothing timed yet");
    drawCharts();
  }

  function chartOptions(target, height, label, series, log) {
    const axis = { stroke: "#8293a6", grid: { stroke: "#2a3441", width: 1 }, ticks: { stroke: "#2a3441", width: 1 } };
    return {
      width: Math.max(target.clientWidth - 4, 200),
      height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      scales: { x: { time: true }, y: log ? { distr: 3 } : { range: (u, min, max) => [0, Math.max(max, 1)] } },
      axes: [
        Object.assign({}, axis, { values: (u, splits) => splits.map((t) => new Date(t * 1e3).toISOString().slice(11, 19)) }),
        Object.assign({}, axis, { label, size: 56 }),
      ],
      series: [{}].concat(series.map(([name, color, dash]) => ({
        label: name, stroke: color, width: 1.5, dash, spanGaps: false,
      }))),
      legend: { show: true, live: false },
    };
  }

  function drawCharts() {
    if (typeof uPlot === "undefined") return;
    const s = state.series;
    const latencyData = [s.x, s.o50, s.o99, s.r50, s.r99];
    const rateData = [s.x, s.orders, s.reports];
    if (!state.charts.latency) {
      const target = $("latency-chart");
      state.charts.latency = new uPlot(chartOptions(target, 180, "µs", [
        ["order in p50", "#58a6ff"], ["order in p99", "#58a6ff", [4, 3]],
        ["report out p50", "#3fb950"], ["report out p99", "#3fb950", [4, 3]],
      ], true), latencyData, target);
      const rates = $("rates-chart");
      state.charts.rates = new uPlot(chartOptions(rates, 130, "per second", [
        ["orders/s", "#58a6ff"], ["venue reports/s", "#3fb950"],
      ], false), rateData, rates);
    } else {
      state.charts.latency.setData(latencyData);
      state.charts.rates.setData(rateData);
    }
  }

  window.addEventListener("resize", () => {
    for (const [name, chart] of Object.entries(state.charts)) {
      const target = $(name === "latency" ? "latency-chart" : "rates-chart");
      chart.setSize({ width: Math.max(target.clientWidth - 4, 200), height: chart.height });
    }
  });

  function figure(value, label, warn) {
    return el("div", { class: "figure" }, el("b", { class: warn ? "error" : "" }, String(value)), el("span", {}, label));
  }

  function renderFlow(counters) {
    const s = state.series;
    const last = s.x.length - 1;
    const rate = (values) => (last >= 0 ? values[last].toFixed(values[last] < 10 ? 1 : 0) : "–");
    const sessions = state.sessionRates || { in: null, out: null };
    const figures = [
      figure(rate(s.orders), "orders/s"),
      figure(rate(s.reports), "venue reports/s"),
      figure(sessions.in === null ? "–" : sessions.in.toFixed(1), "FIX msg/s in"),
      figure(sessions.out === null ? "–" : sessions.out.toFixed(1), "FIX msg/s out"),
    ];
    if (counters) {
      figures.push(figure(counters.orders, "orders since start"), figure(counters.rejected, "rejected"),
        figure(counters.reports_applied, "reports applied"), figure(counters.cancel_rejects, "cancel rejects"));
      for (const name of ["unknown_reports", "illegal_transitions", "reconcile_mismatches", "reused_exec_ids"]) {
        if (counters[name] > 0) figures.push(figure(counters[name], name.replace(/_/g, " "), true));
      }
    }
    $("rates").replaceChildren(...figures);
  }

  function bar(label, used, max, percent) {
    const width = Math.min(Math.max(parseFloat(percent) || 0, 0), 100);
    const cls = width >= 90 ? "bad" : width >= 70 ? "warn" : "";
    const inner = el("div", { class: cls });
    inner.style.width = width + "%";
    return el("div", { class: "bar-row", title: used + " of " + max },
      el("span", { class: "label", title: label }, label),
      el("div", { class: "bar" }, inner),
      el("span", { class: "value" }, percent + "%"));
  }

  function renderRisk(risk) {
    if (!risk) {
      $("firm-state").replaceChildren(badge("unavailable", "off"));
      fill("halts", [], 6, "risk is not available: this API runs without a gateway");
      return;
    }
    const mayAct = state.identity && state.identity.may_act;
    // A state the daily loss limit set (no kill switch) is lifted by a resume of its scope too.
    const resumeButton = (scope, value) => (mayAct ? el("button", {
      type: "button", class: "small", text: "Resume…", onclick: () => resume(scope, value),
    }) : null);
    const firmHalted = risk.halts.some((h) => h.scope === "firm");
    $("firm-state").replaceChildren(badge("firm " + risk.firm_state, risk.firm_state));
    const states = Object.entries(risk.account_states);
    const lines = states.map(([account, s]) => el("div", { class: "row", dataset: { account, state: s } },
      badge(account + " " + s, s), risk.halts.some((h) => h.scope === "account" && h.value === account)
        ? null : resumeButton("account", account)));
    if (risk.firm_state !== "ACTIVE" && !firmHalted) {
      lines.unshift(el("div", { class: "row" }, badge("firm " + risk.firm_state, risk.firm_state), resumeButton("firm", "")));
    }
    $("account-states").replaceChildren(...(lines.length ? lines
      : [el("span", { class: "muted" }, "every account ACTIVE")]));
    fill("halts", risk.halts.map((h) => el("tr", { dataset: { scope: h.scope, value: h.value } },
      cell(h.scope), cell(h.value || "–"), cell(h.by), cell(clock(h.at)), cell(h.reason, "text"),
      el("td", {}, resumeButton(h.scope, h.value)))), 6, "none");

    const groups = [];
    const group = (title, rows) => {
      if (rows.length) groups.push(el("div", { class: "limit-group" }, el("h3", {}, title), ...rows));
    };
    for (const exposure of [risk.firm].concat(risk.accounts)) {
      group(exposure.account === null ? "firm" : "account " + exposure.account,
        exposure.limits.map((use) => bar(use.limit, use.used, use.max, use.percent)));
    }
    group("max position (worst case)", risk.positions.map((p) => bar(p.account + " " + p.symbol, p.worst_case, p.max, p.percent)));
    group("orders per second", risk.order_rates.map((r) => bar(r.session, r.orders_last_second, r.max, r.percent)));
    $("limits").replaceChildren(...(groups.length ? groups : [el("p", { class: "muted" }, "no exposure limits in use")]));
    const denied = Object.entries(risk.rejections).filter(([, n]) => n > 0);
    $("rejections").textContent = denied.length ? denied.map(([check, n]) => check + " " + n).join(" · ") : "none";
  }

  function renderPositions(positions, pnl) {
    fill("pnl", pnl.accounts.map((a) => el("tr", {},
      cell(a.account), money(a.realized_pnl), money(a.unrealized_pnl), money(a.total_pnl))), 4, "no P&L yet");
    $("pnl").tFoot.replaceChildren(el("tr", {}, cell("firm"), money(pnl.total.realized_pnl),
      money(pnl.total.unrealized_pnl), money(pnl.total.total_pnl)));
    fill("positions", positions.map((p) => el("tr", { dataset: { account: p.account, symbol: p.symbol } },
      cell(p.account), cell(p.symbol), numberCell(p.quantity), numberCell(p.avg_price),
      numberCell(p.mark_price), money(p.unrealized_pnl), money(p.realized_pnl))), 7, "no positions");
  }

  function renderOrders(orders) {
    const mayAct = state.identity && state.identity.may_act;
    fill("orders", orders.map((o) => el("tr", { dataset: { orderId: o.order_id, status: o.status, symbol: o.symbol } },
      numberCell(o.order_id), cell(clock(o.created_at)), cell(o.account), cell(o.cl_ord_id, "text"), cell(o.side),
      cell(o.symbol), numberCell(o.quantity), numberCell(o.price === null ? "MKT" : o.price),
      numberCell(o.cum_qty), numberCell(o.avg_px), el("td", {}, badge(o.status, statusClass(o.status))),
      cell(o.text, "text"),
      el("td", {}, mayAct && CANCELLABLE.has(o.status) ? el("button", {
        type: "button", class: "small", text: "Cancel…", onclick: () => cancelOrder(o),
      }) : null))), 13, "no orders match");
  }

  function statusClass(status) {
    if (status === "FILLED") return "ok";
    if (status === "REJECTED") return "bad";
    if (status.startsWith("PENDING")) return "warn";
    return "";
  }

  function renderFills(fills) {
    fill("fills", fills.map((f) => el("tr", { dataset: { orderId: f.order_id, execId: f.exec_id } },
      cell(clock(f.received_at)), numberCell(f.order_id), cell(f.account), cell(f.side), cell(f.symbol),
      numberCell(f.last_qty), numberCell(f.last_px), cell(f.venue))), 8, "no fills match");
  }

  function renderAudit(audit) {
    fill("audit", audit.map((e) => el("tr", { dataset: { id: e.id, action: e.action } },
      cell(clock(e.at)), cell(e.by), cell(e.action), cell(e.scope || "–"), cell(e.value || "–"),
      cell(e.summary, "text"))), 6, "nothing yet");
  }

  // -- FIX sessions and health -----------------------------------------------------------------------

  function renderSessions(sessions) {
    const note = $("sessions-note");
    if (sessions === null) {
      note.textContent = "unavailable: this API runs without a gateway";
      note.hidden = false;
      fill("sessions", [], 9, "unavailable");
      state.sessionRates = null;
      return;
    }
    note.hidden = true;
    const now = performance.now() / 1000;
    const totals = { in: 0, out: 0 };
    let measured = false;
    const rows = sessions.map((s) => {
      const before = state.sessionCounts.get(s.session_id);
      let rateIn = null;
      let rateOut = null;
      if (before && now > before.t && s.messages_in >= before.in && s.messages_out >= before.out) {
        rateIn = (s.messages_in - before.in) / (now - before.t);
        rateOut = (s.messages_out - before.out) / (now - before.t);
        totals.in += rateIn;
        totals.out += rateOut;
        measured = true;
      }
      state.sessionCounts.set(s.session_id, { t: now, in: s.messages_in, out: s.messages_out });
      return el("tr", { dataset: { session: s.session_id, loggedOn: String(s.logged_on) } },
        el("td", { title: s.begin_string + " " + s.sender_comp_id + " → " + s.target_comp_id }, s.session_id),
        cell(s.role), el("td", {}, badge(s.logged_on ? "logged on" : "logged off", s.logged_on ? "ok" : "bad")),
        cell(s.since ? clock(s.since) : "–"), numberCell(s.next_sender_seq), numberCell(s.next_target_seq),
        numberCell(rateIn === null ? null : rateIn.toFixed(1)), numberCell(rateOut === null ? null : rateOut.toFixed(1)),
        cell(s.last_error || "", "text error"));
    });
    state.sessionRates = measured ? totals : { in: null, out: null };
    fill("sessions", rows, 9, "no FIX sessions");
  }

  function renderHealth(body) {
    const overall = String(body.status);
    $("health-status").replaceChildren(badge(overall, overall === "ok" ? "ok" : overall === "degraded" ? "warn" : "bad"));
    const rows = Object.entries(body).filter(([part]) => part !== "status").map(([part, value]) => {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      const ok = value === "ok" || (value && value.status === "ok");
      return el("tr", { dataset: { part, ok: String(ok) } }, cell(part),
        el("td", { class: "text" }, ok ? badge("ok", "ok") : el("span", { class: "error" }, text)));
    });
    fill("health", rows, 2, "no parts reported");
  }

  // -- operator actions: confirmed, then the REST API's own calls ------------------------------------

  function confirmAction(title, text) {
    const dialog = $("confirm");
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-who").textContent = "Recorded in the audit trail as " + state.identity.name + ".";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      $("confirm-no").focus();
    });
  }

  async function act(method, path, body, success) {
    try {
      const response = await call(method, path, body);
      if (!response.ok) {
        toast(await detailOf(response), true);
        return;
      }
      toast(success(await response.json()));
    } catch (error) {
      if (state.token) toast("the gateway did not answer: " + error.message, true);
    }
  }

  async function kill(event) {
    event.preventDefault();
    const scope = $("kill-scope").value;
    const value = scope === "firm" ? "" : $("kill-value").value.trim();
    const reason = $("kill-reason").value.trim();
    if (scope !== "firm" && !value) {
      toast("name the " + scope + " to halt", true);
      return;
    }
    const what = scope === "firm" ? "the whole firm" : scope + " " + value;
    const ok = await confirmAction("Halt " + what + "?",
      "New orders in this scope are rejected, and every working order in it is cancelled at its venue, until" +
      " someone resumes it." + (reason ? " Reason: " + reason : ""));
    if (!ok) return;
    await act("POST", "/risk/kill", { scope, value, reason }, (r) => {
      $("kill-reason").value = "";
      return "halted " + what + ": " + r.cancels_sent + (r.cancels_sent === 1 ? " cancel sent" : " cancels sent");
    });
  }

  async function resume(scope, value) {
    const what = scope === "firm" ? "the firm" : scope + " " + value;
    if (!(await confirmAction("Resume " + what + "?", "Lifts the kill switch (and a state the daily loss limit" +
      " set in this scope): new orders in it are taken again."))) return;
    await act("POST", "/risk/resume", { scope, value }, (r) => (r.lifted ? "resumed " : "nothing was halted: ") + what);
  }

  async function cancelOrder(order) {
    if (!(await confirmAction("Cancel order " + order.order_id + "?", order.side + " " + order.quantity + " " +
      order.symbol + " for " + order.account + " (ClOrdID " + order.cl_ord_id + "), " + order.status +
      ": a cancel goes to " + order.venue + "."))) return;
    await act("POST", "/orders/" + order.order_id + "/cancel", undefined, (r) => r.detail);
  }

  // -- wiring ----------------------------------------------------------------------------------------

  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (token) signIn(token);
  });
  $("sign-out").addEventListener("click", () => signOut(""));
  $("kill-form").addEventListener("submit", kill);
  $("kill-scope").addEventListener("change", () => { $("kill-value").disabled = $("kill-scope").value === "firm"; });

  let filterTimer = null;
  const filtersChanged = () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => { if (state.token) restartFeed(); }, 400);
  };
  for (const id of ["filter-account", "filter-symbol"]) $(id).addEventListener("input", filtersChanged);
  for (const id of ["filter-status", "filter-side"]) $(id).addEventListener("change", filtersChanged);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("filter-clear").addEventListener("click", () => {
    for (const id of ["filter-account", "filter-symbol", "filter-status", "filter-side"]) $(id).value = "";
    filtersChanged();
  });
  $("token").focus();
})();
