// web/admin.js — the admin pages (/admin/...): one page that routes on its
// path and draws each section from the admin API, signed in by the session
// cookie of /admin/login. Every write sends the session's CSRF token in
// X-CSRF-Token (docs/admin.md). A panel whose API this server lacks says
// "not configured"; nothing here is made up.
import {
  browserZone, el, errorText, formatDay, formatRange, formatTime, notice,
  SlotPicker,
} from "/static/common.js";

const zone = browserZone();
const title = document.getElementById("title");
const status = document.getElementById("status");
const view = document.getElementById("view");
let csrf = null;
let route = 0; /* bumped per navigation: late answers of old views drop */

// ---- the API ---------------------------------------------------------------

// Like common.js api(), with the CSRF token on writes; a 401 (the session
// ended) goes back to the sign-in page.
async function call(method, path, body) {
  const init = { method, headers: { Accept: "application/json" },
                 credentials: "same-origin" };
  if (method !== "GET" && csrf)
    init.headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    return { ok: false, status: 0,
             error: { code: "network", message: "", details: {} } };
  }
  if (res.status === 401 && !path.startsWith("/admin/login")) {
    location.assign("/admin/login");
    return new Promise(() => {}); /* never: the page is going away */
  }
  let json = null;
  if (res.status !== 204) {
    try {
      json = await res.json();
    } catch {
      json = null;
    }
  }
  if (res.ok)
    return { ok: true, status: res.status, data: json };
  const error = (json && json.error) || { code: "http_" + res.status,
                                          message: "", details: {} };
  error.details = error.details || {};
  return { ok: false, status: res.status, error };
}

function q(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== "")
      p.set(k, v);
  const s = p.toString();
  return s ? "?" + s : "";
}

// ---- small pieces ----------------------------------------------------------

function words(s) {
  return String(s || "").replace(/_/g, " ");
}

function badge(value, kind, label) {
  return el("span", { class: "badge", dataset: { status: value, kind: kind || "status" } },
            label ? label + ": " + words(value) : words(value));
}

function when(iso) {
  if (!iso)
    return "—";
  return new Intl.DateTimeFormat(undefined, {
    dateStyle: "medium", timeStyle: "short", timeZone: zone,
  }).format(new Date(iso));
}

function link(href, text) {
  return el("a", { href }, text);
}

function facts(pairs) {
  const dl = el("dl", { class: "facts" });
  for (const [k, v] of pairs) {
    if (v === null || v === undefined || v === "")
      continue;
    dl.append(el("dt", null, k), el("dd", null, v));
  }
  return dl;
}

function section(heading, ...children) {
  const id = "h-" + heading.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return el("section", { class: "card", "aria-labelledby": id },
            el("h2", { id }, heading), ...children);
}

function table(caption, headers, rows) {
  const t = el("table", null, el("caption", null, caption),
               el("thead", null, el("tr", null,
                  ...headers.map((h) => el("th", { scope: "col" }, h)))));
  const body = el("tbody");
  for (const r of rows)
    body.append(el("tr", null, ...r.map((c) =>
      c instanceof Node && c.tagName === "TD" ? c : el("td", null, c ?? "—"))));
  t.append(body);
  /* On a phone a wide table scrolls sideways in its wrap: the wrap is a
   * named region the keyboard can reach and scroll. */
  return el("div", { class: "table-wrap", tabindex: "0", role: "region",
                     "aria-label": caption }, t);
}

function errorCell(text) {
  return text ? el("td", { class: "error-text" }, text) : el("td", null, "—");
}

function field(id, label, input, hint) {
  input.id = id;
  const kids = [el("label", { for: id }, label), input];
  if (hint) {
    input.setAttribute("aria-describedby", id + "-hint");
    kids.push(el("p", { id: id + "-hint", class: "hint" }, hint));
  }
  return el("div", { class: "field" }, ...kids);
}

function select(options, value) {
  const s = el("select");
  for (const [v, text] of options)
    s.add(new Option(text, v, false, v === value));
  return s;
}

function say(text, kind) {
  notice(status, text, kind);
}

function setTitle(text) {
  title.textContent = text;
  document.title = text + " · bookingd admin";
}

function failed(r) {
  say(errorText(r), "error");
}

function notConfigured(what, why) {
  return el("p", { class: "not-configured" },
            el("strong", null, "Not configured. "),
            what + (why ? " " + why : ""));
}

// ---- navigation ------------------------------------------------------------

function navigate(path, replace) {
  if (replace)
    history.replaceState(null, "", path);
  else
    history.pushState(null, "", path);
  render(true);
}

document.addEventListener("click", (ev) => {
  const a = ev.target.closest("a[href]");
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey ||
      ev.ctrlKey || ev.shiftKey || ev.altKey || a.target ||
      a.getAttribute("href").startsWith("#"))
    return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !/^\/admin(\/|$)/.test(url.pathname) ||
      url.pathname === "/admin/login")
    return;
  ev.preventDefault();
  navigate(url.pathname + url.search);
});
// Back and forward; a fragment (the skip link) changes no view.
let shown = null;
window.addEventListener("popstate", () => {
  if (location.pathname + location.search !== shown)
    render(true);
});

async function render(focus) {
  const mine = ++route;
  shown = location.pathname + location.search;
  const parts = location.pathname.replace(/\/+$/, "").split("/").slice(2)
    .map(decodeURIComponent);
  const sectionName = parts[0] || "bookings";
  for (const a of document.querySelectorAll("#nav a"))
    if (a.dataset.section === sectionName)
      a.setAttribute("aria-current", "page");
    else
      a.removeAttribute("aria-current");
  say("");
  view.replaceChildren();
  view.setAttribute("aria-busy", "true");
  const views = {
    bookings: (m) => parts[1] ? bookingView(parts[1], m) : bookingsView(m),
    clients: (m) => parts[1] ? clientView(parts[1], m) : clientsView(m),
    "event-types": (m) => parts[1] ? eventTypeView(parts[1], m)
                                   : eventTypesView(m),
    hosts: (m) => parts[1] ? hostView(parts[1], m) : hostsView(m),
    deliveries: deliveriesView,
    integrations: integrationsView,
    metrics: metricsView,
  };
  const fn = views[sectionName];
  if (!fn) {
    setTitle("Not found");
    say("There is no such admin page.", "error");
  } else {
    await fn(mine);
  }
  if (mine !== route)
    return;
  view.removeAttribute("aria-busy");
  if (focus)
    title.focus();
}

function stale(mine) {
  return mine !== route;
}

// ---- Today and upcoming ----------------------------------------------------

const STATUSES = ["pending", "confirmed", "cancelled", "completed", "no_show"];
const SOURCES = ["web", "api", "calcom", "calendly", "notion", "calendar"];

// The instant the browser's today began, as RFC 3339 (whole seconds).
function startOfToday() {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function dateOf(iso) {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
  }).format(new Date(iso));
}

// "YYYY-MM-DD" plus n days: calendar arithmetic, not n times 24 hours (a
// day of a daylight saving change lasts 23 or 25).
function dateAfter(date, n) {
  const d = new Date(date + "T12:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function bookingRow(b) {
  return el("li", { class: "row" },
    el("span", { class: "row-time" },
       formatTime(b.start, zone) + "–" + formatTime(b.end, zone)),
    el("span", { class: "row-main" },
       link("/admin/bookings/" + encodeURIComponent(b.uid),
            b.event_type_title || b.event_type || "Booking"),
       el("span", { class: "row-meta" },
          (b.client.name ? b.client.name + " · " : "") +
          (b.client.email || "") + (b.host ? " · with " + b.host : ""))),
    el("span", { class: "badges" },
       badge(b.status),
       b.flag ? badge(b.flag, "flag") : null,
       b.payment_status && b.payment_status !== "none"
         ? badge(b.payment_status, "payment", "payment") : null,
       badge(b.source, "source")));
}

async function bookingsView(mine) {
  setTitle("Today and upcoming");
  const params = new URLSearchParams(location.search);
  const [types, hosts] = await Promise.all([
    call("GET", "/api/v1/event-types?limit=500"),
    call("GET", "/api/v1/hosts?limit=500"),
  ]);
  if (stale(mine))
    return;
  const form = el("form", { class: "filters", role: "search",
                            "aria-label": "Filter bookings" });
  const fStatus = select([["", "Any status"],
    ...STATUSES.map((s) => [s, words(s)])], params.get("status") || "");
  const fType = select([["", "Any event type"],
    ...(types.ok ? types.data.data : []).map((t) => [t.slug, t.title])],
    params.get("event_type") || "");
  const fHost = select([["", "Any host"],
    ...(hosts.ok ? hosts.data.data : []).map((h) => [h.slug, h.name])],
    params.get("host") || "");
  const fSource = select([["", "Any source"],
    ...SOURCES.map((s) => [s, s])], params.get("source") || "");
  const fClient = el("input", { type: "search", maxlength: "254",
                                value: params.get("client") || "",
                                autocomplete: "off" });
  const fPast = el("input", { type: "checkbox" });
  fPast.checked = params.get("past") === "1";
  // Bookings waiting for the admin (docs/calendars.md "Ask").
  const fFlagged = el("input", { type: "checkbox", id: "f-flagged" });
  fFlagged.checked = params.get("flagged") === "true";
  form.append(
    field("f-status", "Status", fStatus),
    field("f-type", "Event type", fType),
    field("f-host", "Host", fHost),
    field("f-source", "Source", fSource),
    field("f-client", "Client email or id", fClient),
    el("div", { class: "field check" }, fPast,
       el("label", { for: "f-past" }, "Include past")),
    el("div", { class: "field check" }, fFlagged,
       el("label", { for: "f-flagged" }, "Flagged only")),
    el("div", { class: "field" },
       el("button", { type: "submit", class: "primary" }, "Show")));
  fPast.id = "f-past";
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    navigate("/admin" + q({
      status: fStatus.value, event_type: fType.value, host: fHost.value,
      source: fSource.value, client: fClient.value.trim(),
      past: fPast.checked ? "1" : "",
      flagged: fFlagged.checked ? "true" : "",
    }), true);
  });
  const list = el("div", { id: "bookings", "aria-live": "polite" });
  view.append(form, list);
  const base = {
    status: params.get("status"), event_type: params.get("event_type"),
    host: params.get("host"), source: params.get("source"),
    client: params.get("client"),
    flagged: params.get("flagged") === "true" ? "true" : null,
    from: params.get("past") === "1" ? null : startOfToday(),
    timezone: zone, limit: 100,
  };
  let groups = new Map();
  let count = 0;
  async function page(cursor) {
    const r = await call("GET", "/api/v1/bookings" + q({ ...base, cursor }));
    if (stale(mine))
      return;
    if (!r.ok)
      return failed(r);
    for (const b of r.data.data) {
      const day = dateOf(b.start);
      let g = groups.get(day);
      if (!g) {
        const id = "day-" + day;
        g = el("ul", { class: "rows", "aria-labelledby": id });
        groups.set(day, g);
        list.append(el("section", { class: "day-group" },
                       el("h2", { id }, formatDay(day)), g));
      }
      g.append(bookingRow(b));
      count++;
    }
    list.querySelector(".more")?.remove();
    if (r.data.next_cursor) {
      list.append(el("p", { class: "more" },
        el("button", { type: "button",
                       onclick: () => page(r.data.next_cursor) },
           "Show more")));
    }
    say(count ? count + (count === 1 ? " booking" : " bookings") +
               " shown." : "No bookings match.");
  }
  await page(null);
}

// ---- one booking -----------------------------------------------------------

function changeText(c) {
  const bits = [];
  if (c.changes && c.changes.status)
    bits.push(words(c.changes.status[0] || "new") + " → " +
              words(c.changes.status[1]));
  if (c.changes && c.changes.start && c.changes.start[0])
    bits.push("moved to " + when(c.changes.start[1]));
  return words(c.action) + " by " + c.actor +
         (bits.length ? " (" + bits.join(", ") + ")" : "") +
         (c.note ? ": " + c.note : "");
}

async function bookingView(uid, mine) {
  setTitle("Booking");
  const p = "/api/v1/bookings/" + encodeURIComponent(uid);
  const [r, hist, msgs, acts] = await Promise.all([
    call("GET", p + q({ timezone: zone })),
    call("GET", p + "/history"),
    call("GET", p + "/messages"),
    call("GET", "/api/v1/activity" + q({ booking: uid, limit: 50 })),
  ]);
  if (stale(mine))
    return;
  if (!r.ok)
    return failed(r);
  const b = r.data;
  setTitle((b.event_type_title || "Booking") + " with " +
           (b.client.name || b.client.email));
  const statusLine = el("p", { id: "booking-status", class: "badges" },
    badge(b.status),
    b.flag ? badge(b.flag, "flag") : null,
    b.payment_status && b.payment_status !== "none"
      ? badge(b.payment_status, "payment", "payment") : null,
    badge(b.source, "source"));
  view.append(section("Details", statusLine, facts([
    ["When", formatRange(b.start, b.end, zone)],
    ["Client", b.client.id
      ? link("/admin/clients/" + encodeURIComponent(b.client.id),
             (b.client.name || "") + " <" + b.client.email + ">")
      : b.client.email],
    ["Client's zone", b.attendee_timezone],
    ["Host", b.host],
    ["Event type", b.event_type],
    ["Location", b.location],
    ["Meeting link", b.meeting_url],
    ["Notes", b.notes],
    ["Cancellation reason", b.cancellation_reason],
    ["Rescheduled from", b.rescheduled_from],
    ["Booked", when(b.created_at)],
    ["UID", b.uid],
  ])));
  // The answers to the event type's questions (admin view only).
  if (b.answers && b.answers.length)
    view.append(section("Answers", facts(b.answers.map((a) =>
      [a.label, a.type === "checkbox" ? (a.value ? "Yes" : "No")
                                      : String(a.value)]))));
  if (b.payment || b.credit) {
    const n = b.payment && b.payment.invoice;
    const inv = n ? await call("GET", "/api/v1/invoices/" +
                               encodeURIComponent(n)) : null;
    if (stale(mine))
      return;
    view.append(paymentBox(b, inv && inv.ok ? inv.data : null));
  }
  if (b.flag)
    view.append(flagBox(b));
  view.append(actions(b));
  const timeline = el("ol", { class: "timeline" });
  if (hist.ok) {
    for (const c of hist.data.data)
      timeline.append(el("li", null,
        el("time", { datetime: c.at }, when(c.at)), changeText(c)));
  }
  view.append(section("History",
    hist.ok ? timeline : el("p", null, errorText(hist))));
  view.append(section("Messages",
    !msgs.ok ? el("p", null, errorText(msgs))
    : msgs.data.data.length === 0 ? el("p", null, "No email about it yet.")
    : table("Email about this booking", ["Kind", "To", "Status", "Sent", "Error"],
            msgs.data.data.map((m) => [words(m.kind), m.to,
              badge(m.status), when(m.sent_at),
              errorCell(m.last_error)]))));
  view.append(section("Activity",
    !acts.ok ? el("p", null, errorText(acts))
    : acts.data.data.length === 0 ? el("p", null, "No activity recorded.")
    : table("Ledger activity about this booking", ["When", "Kind", "Source"],
            acts.data.data.map((a) => [when(a.at),
                                       words(a.kind).toLowerCase(),
                                       a.source || "—"]))));
}

// ---- payment, invoice and refund (POST .../refund) -------------------------

// minor units in a currency's own digits (2 for EUR, 0 for JPY).
function money(minor, currency) {
  const d = digitsOf(currency);
  return (minor / 10 ** d).toFixed(d) + " " + String(currency).toUpperCase();
}

// "12", "12.5", "12,50" in the currency's major units → minor units, or
// null when it is not such an amount.
function minorOf(text, currency) {
  const d = digitsOf(currency);
  const m = /^([0-9]{1,9})(?:[.,]([0-9]+))?$/.exec(text.trim());
  if (!m || (m[2] && m[2].length > d))
    return null;
  return Number(m[1]) * 10 ** d + Number((m[2] || "").padEnd(d, "0") || 0);
}

// The booking's payment: amount, status, its invoice (the PDF route takes
// the session cookie: a plain link) and what was refunded, or the package
// credit it was paid with; a paid booking not yet refunded gets a refund
// form (a part or all, asked once more before it is sent).
function paymentBox(b, inv) {
  const box = section("Payment");
  box.id = "payment-box";
  const p = b.payment;
  const pdf = (number) => el("a", {
    href: "/api/v1/invoices/" + encodeURIComponent(number) + ".pdf",
    id: "invoice-link", target: "_blank", rel: "noopener" },
    "Invoice " + number + " (PDF)");
  box.append(facts([
    ["Status", badge(b.payment_status, "payment")],
    ["Amount", p ? money(p.amount, p.currency) : null],
    ["Paid with", b.credit
      ? "a credit of package " + b.credit.package + " (purchase " +
        b.credit.purchase + ")" : null],
    ["Invoice", p && p.invoice ? pdf(p.invoice) : null],
    ["Invoice status", inv ? badge(inv.status, "payment") : null],
    ["Refunded", inv && inv.refunded ? money(inv.refunded, inv.currency)
                                     : null],
  ]));
  if (!p || b.credit || b.payment_status !== "paid" ||
      (inv && inv.refunded > 0))
    return box;
  const out = el("p", { class: "notice", role: "alert", hidden: true });
  const amount = el("input", { inputmode: "decimal", maxlength: "13",
                               autocomplete: "off",
                               placeholder: money(p.amount, p.currency)
                                 .split(" ")[0] });
  const sendBtn = el("button", { type: "button", class: "danger",
                                 id: "refund-confirm" }, "Refund now");
  const confirmText = el("p", { id: "refund-question" });
  const confirmBox = el("div", { class: "confirm-box", hidden: true,
                                 role: "group",
                                 "aria-label": "Confirm the refund" },
    confirmText, el("div", { class: "actions" }, sendBtn,
      el("button", { type: "button", onclick: () => {
        confirmBox.hidden = true;
        amount.focus();
      } }, "Don't refund")));
  const form = el("form", { id: "refund-form", hidden: true, novalidate: "" },
    field("refund-amount", "Amount to refund (" +
          String(p.currency).toUpperCase() + ")", amount,
          "Empty: all of " + money(p.amount, p.currency) +
          ". A payment is refunded once; a part leaves the booking paid."),
    el("div", { class: "actions" },
       el("button", { type: "submit", class: "danger-outline" },
          "Review refund")));
  let minor = null;
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    minor = amount.value.trim() ? minorOf(amount.value, p.currency) : 0;
    if (minor === null || minor > p.amount || (amount.value.trim() &&
                                               minor < 1)) {
      amount.setAttribute("aria-invalid", "true");
      return notice(out, "Give an amount from " + money(1, p.currency) +
                    " to " + money(p.amount, p.currency) +
                    ", or leave it empty to refund all.", "error");
    }
    amount.removeAttribute("aria-invalid");
    out.hidden = true;
    confirmText.textContent = "Refund " +
      money(minor || p.amount, p.currency) + (minor && minor < p.amount
        ? " of " + money(p.amount, p.currency) : " (all of it)") +
      " to " + (b.client ? b.client.email : b.attendee.email) +
      "? This cannot be undone.";
    confirmBox.hidden = false;
    sendBtn.focus();
  });
  sendBtn.addEventListener("click", async () => {
    sendBtn.disabled = true;
    const r = await call("POST", "/api/v1/bookings/" +
                         encodeURIComponent(b.uid) + "/refund",
                         minor ? { amount: minor } : {});
    if (!r.ok) {
      sendBtn.disabled = false;
      confirmBox.hidden = true;
      return notice(out, errorText(r), "error");
    }
    // 202: the refund job asks Stripe; the invoice records it when done.
    confirmBox.hidden = true;
    form.hidden = true;
    notice(out, "Refund requested; waiting for Stripe…", "info");
    const done = await refundSettled(b, p);
    await render(false);
    say(done ? "Refunded " + money(minor || p.amount, p.currency) + "."
             : "Refund requested; Stripe has not confirmed it yet: " +
               "reload this page later.");
    title.focus();
  });
  const open = el("button", { type: "button", id: "refund-open",
                              "aria-expanded": "false",
                              "aria-controls": "refund-form" },
                  "Refund…");
  open.addEventListener("click", () => {
    form.hidden = !form.hidden;
    open.setAttribute("aria-expanded", String(!form.hidden));
    if (!form.hidden)
      amount.focus();
  });
  box.append(out, el("div", { class: "actions" }, open), form, confirmBox);
  return box;
}

// Polls the booking (and its invoice) until the refund is recorded, for at
// most 60 s; true when it was.
async function refundSettled(b, p) {
  const until = Date.now() + 60000;
  while (Date.now() < until) {
    const r = await call("GET", "/api/v1/bookings/" +
                         encodeURIComponent(b.uid));
    if (r.ok && r.data.payment_status === "refunded")
      return true;
    if (p.invoice) {
      const inv = await call("GET", "/api/v1/invoices/" +
                             encodeURIComponent(p.invoice));
      if (inv.ok && inv.data.refunded > 0)
        return true;
    }
    await new Promise((res) => setTimeout(res, 500));
  }
  return false;
}

// A flagged booking's question to the admin: its event was deleted in the
// host's calendar (docs/calendars.md "Ask"). Cancel it, or keep it and put
// the event back.
function flagBox(b) {
  const box = section("Deleted in the calendar");
  box.id = "flag-box";
  const out = el("p", { class: "notice", role: "alert", hidden: true });
  async function resolve(action, done) {
    for (const x of box.querySelectorAll("button"))
      x.disabled = true;
    const r = await call("POST", "/api/v1/bookings/" +
                         encodeURIComponent(b.uid) + "/resolve-flag",
                         { action });
    for (const x of box.querySelectorAll("button"))
      x.disabled = false;
    if (!r.ok)
      return notice(out, errorText(r), "error");
    await render(false);
    say(done);
  }
  box.append(
    el("p", null, "The host deleted this booking's event in a calendar. " +
       "The booking still holds its time until you decide."),
    el("div", { class: "actions" },
       el("button", { type: "button", class: "danger",
                      onclick: () => resolve("cancel", "Booking cancelled.") },
          "Cancel booking"),
       el("button", { type: "button", class: "primary",
                      onclick: () => resolve("keep",
                        "Booking kept; its event is put back.") },
          "Keep it and restore the event")),
    out);
  return box;
}

// Mark completed / no-show (POST .../complete, .../no-show): offered from
// the booking's start on, for the statuses the lifecycle lets change
// (confirmed; a completed booking can become a no-show and back).
function attendance(b, out) {
  const started = Date.parse(b.start) <= Date.now();
  const can = { complete: b.status === "confirmed" || b.status === "no_show",
                "no-show": b.status === "confirmed" ||
                           b.status === "completed" };
  if (!can.complete && !can["no-show"])
    return null;
  if (!started)
    return el("p", { class: "hint", id: "attendance-hint" },
              "Completed and no-show can be marked from the start on.");
  const mark = async (what, btn, done) => {
    btn.disabled = true;
    const r = await call("POST", "/api/v1/bookings/" +
                         encodeURIComponent(b.uid) + "/" + what, {});
    btn.disabled = false;
    if (!r.ok)
      return notice(out, errorText(r), "error");
    await render(false);
    say(done);
    title.focus();
  };
  const buttons = [];
  if (can.complete) {
    const btn = el("button", { type: "button", id: "mark-completed" },
                   b.status === "no_show" ? "Mark completed (they came)"
                                          : "Mark completed");
    btn.addEventListener("click", () =>
      mark("complete", btn, "Marked completed."));
    buttons.push(btn);
  }
  if (can["no-show"]) {
    const btn = el("button", { type: "button", id: "mark-no-show" },
                   "Mark no-show");
    btn.addEventListener("click", () =>
      mark("no-show", btn, "Marked as a no-show."));
    buttons.push(btn);
  }
  return el("div", { class: "actions", role: "group",
                     "aria-label": "Attendance" }, ...buttons);
}

function actions(b) {
  const box = section("Actions");
  const open = b.status === "pending" || b.status === "confirmed";
  const out = el("p", { class: "notice", role: "alert", hidden: true });
  const marks = attendance(b, out);
  if (!open) {
    box.append(out, el("p", null, "A " + words(b.status) + " booking " +
                       (marks ? "can only have its attendance corrected."
                              : "has no actions left.")));
    if (marks)
      box.append(marks);
    return box;
  }
  // Cancel with a reason.
  const reason = el("textarea", { rows: "3", maxlength: "4000" });
  const cancelForm = el("form", { id: "cancel-form", hidden: true },
    field("cancel-reason", "Reason (included in the client's email)", reason),
    el("div", { class: "actions" },
       el("button", { type: "submit", class: "danger" }, "Cancel booking"),
       el("button", { type: "button", onclick: () => {
         cancelForm.hidden = true;
         cancelOpen.focus();
       } }, "Keep it")));
  const cancelOpen = el("button", { type: "button", class: "danger-outline",
                                    "aria-expanded": "false",
                                    "aria-controls": "cancel-form" },
                        "Cancel…");
  cancelOpen.addEventListener("click", () => {
    cancelForm.hidden = false;
    cancelOpen.setAttribute("aria-expanded", "true");
    reason.focus();
  });
  cancelForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const btn = cancelForm.querySelector("button[type=submit]");
    btn.disabled = true;
    const body = reason.value.trim() ? { reason: reason.value.trim() } : {};
    const r = await call("POST", "/api/v1/bookings/" +
                         encodeURIComponent(b.uid) + "/cancel", body);
    btn.disabled = false;
    if (!r.ok)
      return notice(out, errorText(r), "error");
    await render(false);
    say("Booking cancelled.");
    title.focus();
  });
  // Reschedule with the slot picker of the booking pages.
  const slotsBox = el("div", { class: "days" });
  const slotsStatus = el("p", { class: "notice info", role: "status",
                                hidden: true });
  const moveBox = el("div", { id: "reschedule-box", hidden: true },
    el("p", { class: "hint" }, "Times are shown in " + zone + "."),
    slotsStatus, slotsBox);
  // Picking a time asks, in the page, before moving the booking.
  const confirmText = el("p");
  const moveBtn = el("button", { type: "button", class: "primary" },
                     "Move booking");
  const confirmBox = el("div", { class: "confirm-box", hidden: true,
                                 role: "group",
                                 "aria-label": "Confirm the new time" },
    confirmText, el("div", { class: "actions" }, moveBtn,
      el("button", { type: "button", onclick: () => {
        confirmBox.hidden = true;
        picker.clear();
      } }, "Keep the current time")));
  const picker = new SlotPicker(slotsBox, slotsStatus, (slot) => {
    confirmText.textContent = "Move this booking to " +
      formatRange(slot.start, slot.end, zone) + "?";
    confirmBox.hidden = false;
    moveBtn.focus();
  }, { exclude: b.uid, token: b.manage_token });
  moveBox.append(confirmBox);
  moveBtn.addEventListener("click", async () => {
    const slot = picker.selected;
    if (!slot)
      return;
    moveBtn.disabled = true;
    const r = await call("POST", "/api/v1/bookings/" +
                         encodeURIComponent(b.uid) + "/reschedule",
                         { start: slot.start });
    moveBtn.disabled = false;
    if (!r.ok) {
      notice(out, errorText(r), "error");
      confirmBox.hidden = true;
      if (r.status === 409)
        picker.load();
      return;
    }
    await render(false);
    say("Booking moved to " + formatRange(slot.start, slot.end, zone) + ".");
    title.focus();
  });
  const moveOpen = el("button", { type: "button", "aria-expanded": "false",
                                  "aria-controls": "reschedule-box" },
                      "Reschedule…");
  moveOpen.addEventListener("click", () => {
    moveBox.hidden = !moveBox.hidden;
    moveOpen.setAttribute("aria-expanded", String(!moveBox.hidden));
    if (!moveBox.hidden)
      picker.load(b.event_type, zone);
  });
  box.append(out, el("div", { class: "actions" }, cancelOpen, moveOpen),
             cancelForm, moveBox);
  if (marks)
    box.append(marks);
  return box;
}

// ---- clients ---------------------------------------------------------------

async function clientsView(mine) {
  setTitle("Clients");
  const params = new URLSearchParams(location.search);
  const fStatus = select([["", "Any status"], ["prospect", "prospect"],
    ["active", "active"], ["inactive", "inactive"]], params.get("status") || "");
  const fEmail = el("input", { type: "search", maxlength: "254",
                               value: params.get("email") || "" });
  const form = el("form", { class: "filters", role: "search",
                            "aria-label": "Filter clients" },
    field("c-status", "Status", fStatus),
    field("c-email", "Email", fEmail),
    el("div", { class: "field" },
       el("button", { type: "submit", class: "primary" }, "Show")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    navigate("/admin/clients" + q({ status: fStatus.value,
                                    email: fEmail.value.trim() }), true);
  });
  view.append(form);
  const r = await call("GET", "/api/v1/clients" + q({
    status: params.get("status"), email: params.get("email"), limit: 200 }));
  if (stale(mine))
    return;
  if (!r.ok)
    return failed(r);
  const creditCells = [];
  view.append(table("Clients, newest first",
    ["Name", "Email", "Status", "Sessions", "Revenue", "Credits left",
     "Since"],
    r.data.data.map((c) => {
      const cell = el("td", { dataset: { credits: c.id } }, "…");
      creditCells.push([c.id, cell]);
      return [
        link("/admin/clients/" + encodeURIComponent(c.id), c.name || c.email),
        c.email, badge(c.status), String(c.sessions ?? "—"),
        revenueText(c.revenue), cell, when(c.created_at)];
    })));
  if (r.data.next_cursor)
    view.append(el("p", { class: "hint" }, "Showing the newest 200."));
  // Credits are one request per client: four at a time.
  const queue = creditCells.slice();
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const cr = await call("GET", "/api/v1/clients/" +
                            encodeURIComponent(job[0]) + "/credits");
      if (stale(mine))
        return;
      job[1].textContent = !cr.ok ? (cr.status === 404 ? "—" : "?")
        : cr.data.data.length === 0 ? "—"
        : String(cr.data.total.remaining);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

// [{currency, amount}] → "75.00 EUR, 10 JPY", or "—".
function revenueText(list) {
  if (!list || !list.length)
    return "—";
  return list.map((x) => money(x.amount, x.currency)).join(", ");
}

async function clientView(id, mine) {
  setTitle("Client");
  const [r, bookings] = await Promise.all([
    call("GET", "/api/v1/clients/" + encodeURIComponent(id)),
    call("GET", "/api/v1/bookings" + q({ client: id, limit: 200,
                                         timezone: zone })),
  ]);
  if (stale(mine))
    return;
  if (!r.ok)
    return failed(r);
  const c = r.data;
  setTitle(c.name || c.email);
  view.append(section("Details", facts([
    ["Email", c.email], ["Status", badge(c.status)],
    ["Sessions", String(c.sessions ?? "—")],
    ["Revenue", revenueText(c.revenue)],
    ["Phone", c.phone],
    ["Notes", c.notes ? el("span", { class: "client-notes" }, c.notes) : null],
    ["Time zone", c.timezone], ["Since", when(c.created_at)],
    ["Id", c.id]])));
  const cr = await call("GET", "/api/v1/clients/" + encodeURIComponent(id) +
                        "/credits");
  if (stale(mine))
    return;
  const credits = section("Package credits");
  credits.id = "credits-box";
  if (!cr.ok && cr.status === 404 && /no such path/.test(cr.error.message))
    credits.append(notConfigured("Packages of sessions:",
                                 "this server has no packages API."));
  else if (!cr.ok)
    credits.append(el("p", null, errorText(cr)));
  else if (cr.data.data.length === 0)
    credits.append(el("p", null, "No package bought."));
  else
    credits.append(
      el("p", { id: "credits-total" }, cr.data.total.remaining + " left, " +
         cr.data.total.used + " used, " + cr.data.total.expired +
         " expired."),
      table("Packages bought, newest first",
        ["Package", "Status", "Sessions", "Left", "Used", "Expired",
         "Bought", "Credits expire", "Invoice"],
        cr.data.data.map((x) => [x.name + " (" + x.package + ")",
          badge(x.status), String(x.sessions), String(x.remaining),
          String(x.used), String(x.expired), when(x.purchased_at),
          when(x.expires_at),
          x.invoice ? el("a", { href: "/api/v1/invoices/" +
                                encodeURIComponent(x.invoice) + ".pdf",
                                target: "_blank", rel: "noopener" },
                         x.invoice) : "—"])));
  view.append(credits);
  // Name, status, phone and notes are the owner's to correct.
  const name = el("input", { maxlength: "200", value: c.name || "",
                             autocomplete: "off" });
  const st = select([["prospect", "prospect"], ["active", "active"],
                     ["inactive", "inactive"]], c.status);
  const phone = el("input", { type: "tel", maxlength: "40",
                              value: c.phone || "", autocomplete: "off" });
  const notes = el("textarea", { rows: "4", maxlength: "5000" });
  notes.value = c.notes || "";
  const err = el("p", { class: "notice error", role: "alert", hidden: true });
  const form = el("form", { class: "form-grid" },
    field("cl-name", "Name", name), field("cl-status", "Status", st),
    field("cl-phone", "Phone", phone,
          "Digits, spaces and + - ( ) . / only, a + first."),
    field("cl-notes", "Notes", notes));
  form.append(el("div", { class: "field" }, el("button", {
    type: "submit", class: "primary" }, "Save")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const res = await call("PATCH", "/api/v1/clients/" + encodeURIComponent(id),
                           { name: name.value.trim() || null,
                             status: st.value,
                             phone: phone.value.trim() || null,
                             notes: notes.value.trim() ? notes.value : null });
    if (!res.ok)
      return notice(err, errorText(res), "error");
    await render(false);
    say("Client saved.");
  });
  view.append(section("Edit", err, form));
  const rows = bookings.ok ? bookings.data.data : [];
  const done = rows.filter((b) => b.status === "completed").length;
  const noShow = rows.filter((b) => b.status === "no_show").length;
  view.append(section("Bookings",
    el("p", null, rows.length + " bookings, " + done + " completed, " +
       noShow + " no-show."),
    rows.length ? el("ul", { class: "rows" }, ...rows.map(bookingRow)) : null));
}

// ---- event types -----------------------------------------------------------

async function eventTypesView(mine) {
  setTitle("Event types");
  const r = await call("GET", "/api/v1/event-types?limit=500");
  if (stale(mine))
    return;
  if (!r.ok)
    return failed(r);
  view.append(el("p", null,
    el("a", { class: "button primary", href: "/admin/event-types/new" },
       "New event type")));
  view.append(table("Event types", ["Title", "Slug", "Host", "Minutes",
                                    "Active"],
    r.data.data.map((t) => [
      link("/admin/event-types/" + encodeURIComponent(t.slug), t.title),
      t.slug, t.host, String(t.duration_minutes), t.active ? "yes" : "no"])));
  view.append(el("p", null, "Weekly hours and date overrides are the " +
    "host's: ", link("/admin/hosts", "Hours"), "."));
}

const ET_NUMBERS = [
  ["duration_minutes", "Duration (minutes)", 5, 1440],
  ["slot_interval_minutes", "Start times every (minutes)", 5, 1440],
  ["buffer_before_minutes", "Buffer before (minutes)", 0, 1440],
  ["buffer_after_minutes", "Buffer after (minutes)", 0, 1440],
  ["minimum_notice_minutes", "Minimum notice (minutes)", 0, 525600],
  ["horizon_days", "Bookable up to (days ahead)", 1, 730],
  ["max_per_day", "At most per day (empty: no limit)", 1, 1000],
];

async function eventTypeView(slug, mine) {
  const creating = slug === "new";
  setTitle(creating ? "New event type" : "Event type");
  const [hosts, r] = await Promise.all([
    call("GET", "/api/v1/hosts?limit=500"),
    creating ? Promise.resolve({ ok: true, data: null })
             : call("GET", "/api/v1/event-types/" + encodeURIComponent(slug)),
  ]);
  if (stale(mine))
    return;
  if (!r.ok)
    return failed(r);
  const t = r.data || { active: true, duration_minutes: 30 };
  if (!creating)
    setTitle(t.title);
  const inputs = {};
  const form = el("form", { id: "event-type-form", novalidate: true });
  const grid = el("div", { class: "form-grid" });
  inputs.slug = el("input", { required: true, maxlength: "64",
                              pattern: "[a-z0-9][a-z0-9-]*",
                              value: t.slug || "" });
  if (!creating)
    inputs.slug.readOnly = true;
  inputs.title = el("input", { required: true, maxlength: "200",
                               value: t.title || "" });
  inputs.host = select((hosts.ok ? hosts.data.data : [])
    .map((h) => [h.slug, h.name]), t.host || "");
  inputs.description = el("textarea", { rows: "3", maxlength: "4000" });
  inputs.description.value = t.description || "";
  grid.append(field("et-title", "Title", inputs.title),
              field("et-slug", "Slug (in the booking URL)", inputs.slug,
                    creating ? "Lowercase letters, digits and dashes." : null),
              field("et-host", "Host", inputs.host));
  for (const [k, label, min, max] of ET_NUMBERS) {
    inputs[k] = el("input", { type: "number", min: String(min),
                              max: String(max), inputmode: "numeric",
                              value: t[k] ?? "" });
    grid.append(field("et-" + k, label, inputs[k]));
  }
  inputs.locKind = select([["", "None"], ["video", "Video"],
    ["phone", "Phone"], ["in_person", "In person"]],
    t.location ? t.location.kind : "");
  inputs.locValue = el("input", { maxlength: "500",
                                  value: t.location ? t.location.value : "" });
  grid.append(field("et-lockind", "Location", inputs.locKind),
              field("et-locvalue", "Link, number or address", inputs.locValue));
  inputs.active = el("input", { type: "checkbox", id: "et-active" });
  inputs.active.checked = !!t.active;
  const err = el("p", { class: "notice error", role: "alert", hidden: true });
  const questions = questionsEditor(t.questions || []);
  form.append(grid, field("et-description", "Description", inputs.description),
    el("div", { class: "field check" }, inputs.active,
       el("label", { for: "et-active" }, "Active (offered on the booking page)")),
    questions.box, err,
    el("div", { class: "actions" },
       el("button", { type: "submit", class: "primary" },
          creating ? "Create" : "Save")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const i of form.querySelectorAll("[aria-invalid]"))
      i.removeAttribute("aria-invalid");
    const body = {
      title: inputs.title.value.trim(),
      host: inputs.host.value,
      description: inputs.description.value.trim() || null,
      active: inputs.active.checked,
      location: inputs.locKind.value
        ? { kind: inputs.locKind.value, value: inputs.locValue.value.trim() }
        : null,
    };
    for (const [k] of ET_NUMBERS) {
      const v = inputs[k].value.trim();
      if (v !== "")
        body[k] = Number(v);
      else if (k === "max_per_day" && !creating)
        body[k] = null;
    }
    if (creating)
      body.slug = inputs.slug.value.trim();
    body.questions = questions.value();
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    const res = creating
      ? await call("POST", "/api/v1/event-types", body)
      : await call("PATCH", "/api/v1/event-types/" + encodeURIComponent(slug),
                   body);
    btn.disabled = false;
    if (!res.ok) {
      const f = res.error.details.field;
      const key = f === "location.kind" ? "locKind"
        : f === "location.value" ? "locValue" : f;
      notice(err, (f ? f + ": " : "") + errorText(res), "error");
      const input = (key && inputs[key]) || questions.inputFor(f || "");
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
      return;
    }
    navigate("/admin/event-types/" + encodeURIComponent(res.data.slug), true);
    say(creating ? "Event type created." : "Saved.");
  });
  view.append(section(creating ? "Create" : "Edit", form));
  if (!creating)
    view.append(el("p", null, link("/" + encodeURIComponent(t.host) + "/" +
                                   encodeURIComponent(t.slug),
                                   "Open the booking page")));
}

// The booking form's custom questions (docs/booking-page.md "Custom
// questions"): one fieldset per question with its id, label, type,
// required and, for a select, its options one per line; add, remove, move.
// value() gives the list the API takes; inputFor("questions[1].options[0]")
// the input a 422 names.
const QUESTION_TYPES = [["text", "Text"], ["select", "Select (one of a list)"],
                        ["checkbox", "Checkbox"], ["phone", "Phone"]];

function questionsEditor(initial) {
  const list = el("ol", { class: "questions", "aria-label": "Questions" });
  let seq = 0;
  const renumber = () => {
    [...list.children].forEach((row, i) => {
      row.legend.textContent = "Question " + (i + 1);
      row.up.disabled = i === 0;
      row.down.disabled = i === list.children.length - 1;
    });
    add.disabled = list.children.length >= 10;
  };
  function addRow(q) {
    const n = ++seq;
    const row = el("li", { class: "question" });
    const idIn = el("input", { maxlength: "40", pattern: "[a-z0-9_-]+",
                               value: q.id || "", required: true,
                               autocomplete: "off" });
    const label = el("input", { maxlength: "200", value: q.label || "",
                                required: true });
    const type = select(QUESTION_TYPES, q.type || "text");
    const req = el("input", { type: "checkbox", id: "q" + n + "-required" });
    req.checked = !!q.required;
    const options = el("textarea", { rows: "3" });
    options.value = (q.options || []).join("\n");
    const optField = field("q" + n + "-options", "Options (one per line)",
                           options);
    const sync = () => {
      optField.hidden = type.value !== "select";
    };
    type.addEventListener("change", sync);
    sync();
    row.legend = el("legend");
    row.up = el("button", { type: "button", class: "small" }, "Move up");
    row.down = el("button", { type: "button", class: "small" }, "Move down");
    const remove = el("button", { type: "button", class: "small" }, "Remove");
    row.up.addEventListener("click", () => {
      if (row.previousElementSibling)
        list.insertBefore(row, row.previousElementSibling);
      renumber();
      row.up.disabled ? row.down.focus() : row.up.focus();
    });
    row.down.addEventListener("click", () => {
      if (row.nextElementSibling)
        list.insertBefore(row.nextElementSibling, row);
      renumber();
      row.down.disabled ? row.up.focus() : row.down.focus();
    });
    remove.addEventListener("click", () => {
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      renumber();
      (next ? next.querySelector("input") : add).focus();
    });
    row.inputs = { id: idIn, label, type, required: req, options };
    row.append(el("fieldset", null, row.legend,
      el("div", { class: "form-grid" },
         field("q" + n + "-label", "Label", label),
         field("q" + n + "-id", "Id", idIn,
               "Lowercase letters, digits, _ and -; the answer's key."),
         field("q" + n + "-type", "Type", type)),
      el("div", { class: "field check" }, req,
         el("label", { for: "q" + n + "-required" }, "Required")),
      optField,
      el("div", { class: "actions" }, row.up, row.down, remove)));
    list.append(row);
    renumber();
    return row;
  }
  const add = el("button", { type: "button", class: "small" },
                 "Add a question");
  add.addEventListener("click", () => {
    const row = addRow({ type: "text" });
    row.inputs.label.focus();
  });
  for (const q of initial)
    addRow(q);
  renumber();
  const box = el("fieldset", { class: "questions-box" },
    el("legend", null, "Questions on the booking form"),
    el("p", { class: "hint" }, "Asked after name and email, up to 10. " +
       "Answers are kept with the booking and shown to you."),
    list, add);
  return {
    box,
    value: () => [...list.children].map((row) => {
      const i = row.inputs;
      const q = { id: i.id.value.trim(), label: i.label.value.trim(),
                  type: i.type.value, required: i.required.checked };
      if (q.type === "select")
        q.options = i.options.value.split("\n").map((o) => o.trim())
          .filter(Boolean);
      return q;
    }),
    inputFor: (f) => {
      const m = /^questions\[(\d+)\](?:\.(\w+))?/.exec(f);
      const row = m && list.children[Number(m[1])];
      if (!row)
        return m ? add : null;
      return row.inputs[m[2]] || row.inputs.label;
    },
  };
}

// ---- hosts and their weekly hours -----------------------------------------

const DAYS = [["mon", "Monday"], ["tue", "Tuesday"], ["wed", "Wednesday"],
              ["thu", "Thursday"], ["fri", "Friday"], ["sat", "Saturday"],
              ["sun", "Sunday"]];
const HHMM = "([01][0-9]|2[0-3]):[0-5][0-9]|24:00";

async function hostsView(mine) {
  setTitle("Hosts and hours");
  const r = await call("GET", "/api/v1/hosts?limit=500");
  if (stale(mine))
    return;
  if (!r.ok)
    return failed(r);
  view.append(r.data.data.length === 0
    ? el("p", null, "No hosts yet: add one below.")
    : table("Hosts", ["Name", "Slug", "Email", "Time zone"],
            r.data.data.map((h) => [
              link("/admin/hosts/" + encodeURIComponent(h.slug), h.name),
              h.slug, h.email, h.timezone])));
  view.append(newHostForm());
}

// POST /api/v1/hosts: a new host with the browser's zone proposed; the
// field a 422 names is marked and focused. Its hours are set on its page.
function newHostForm() {
  const inputs = {
    name: el("input", { maxlength: "200", required: true,
                        autocomplete: "off" }),
    slug: el("input", { maxlength: "64", required: true, autocomplete: "off",
                        pattern: "[a-z0-9]+(-[a-z0-9]+)*",
                        spellcheck: "false" }),
    email: el("input", { type: "email", maxlength: "254", required: true,
                         autocomplete: "off" }),
    timezone: el("input", { maxlength: "64", required: true, value: zone,
                            autocomplete: "off", spellcheck: "false" }),
  };
  // The slug follows the name until it is typed in.
  let slugTyped = false;
  inputs.slug.addEventListener("input", () => { slugTyped = true; });
  inputs.name.addEventListener("input", () => {
    if (!slugTyped)
      inputs.slug.value = inputs.name.value.toLowerCase()
        .normalize("NFKD").replace(/[^a-z0-9]+/g, "-")
        .replace(/^-+|-+$/g, "").slice(0, 64);
  });
  const err = el("p", { class: "notice error", role: "alert", hidden: true });
  const form = el("form", { id: "new-host-form", class: "form-grid",
                            novalidate: true },
    field("nh-name", "Name", inputs.name),
    field("nh-slug", "Slug", inputs.slug,
          "Lowercase letters, digits and dashes: the booking page is /slug."),
    field("nh-email", "Email", inputs.email),
    field("nh-timezone", "Time zone", inputs.timezone,
          "An IANA zone, such as Europe/Berlin."),
    err,
    el("div", { class: "actions" },
       el("button", { type: "submit", class: "primary" }, "Create host")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const i of Object.values(inputs))
      i.removeAttribute("aria-invalid");
    const body = {};
    for (const [k, i] of Object.entries(inputs))
      body[k] = i.value.trim();
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    const r = await call("POST", "/api/v1/hosts", body);
    btn.disabled = false;
    if (!r.ok) {
      notice(err, errorText(r), "error");
      const f = r.error.details.field;
      const input = inputs[f] || (r.status === 409 ? inputs.slug : null);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
      return;
    }
    navigate("/admin/hosts/" + encodeURIComponent(r.data.slug));
    say("Host " + r.data.name + " created: set its weekly hours.");
  });
  return section("New host", form);
}

function timeInput(value, label) {
  return el("input", { class: "hhmm", inputmode: "numeric", maxlength: "5",
                       pattern: HHMM, placeholder: "09:00", value: value || "",
                       "aria-label": label, required: true });
}

// One row of hours: start and end, and a button that removes the row.
function hoursRow(list, what, start, end, extra) {
  const row = el("li", { class: "hours-row" });
  row.start = timeInput(start, what + " from");
  row.end = timeInput(end, what + " until");
  row.append(...(extra || []), row.start, el("span", { "aria-hidden": "true" }, "–"),
             row.end,
             el("button", { type: "button", class: "small",
                            onclick: () => {
                              const next = row.nextElementSibling ||
                                           row.previousElementSibling;
                              row.remove();
                              (next ? next.querySelector("input")
                                    : list.addButton)?.focus();
                            } }, "Remove"));
  list.append(row);
  return row;
}

// ---- the week grid editor ---------------------------------------------------
//
// A drawing of the hours form above it, and a second way to edit it: the
// seven days of a week as columns, each range a block. The form stays the
// source of truth (and the accessible fallback with exact times); the grid
// reads it on every change and writes back whole days.
//   Pointer: drag on an empty part of a day to draw a block; drag a block's
//   top or bottom edge to move that end; drag its middle to move it; its ×
//   removes it. Steps of 30 minutes.
//   Keyboard: a day column is one tab stop; Enter or "a" adds a block
//   there (09:00–17:00, or the first free hours). A block is one tab stop:
//   Up/Down move it, Shift+Up/Down move its end, Alt+Up/Down its start,
//   Delete or Backspace removes it.
// "Every week" edits the weekly hours; a dated week ("Week of …") shows
// that week's dates with their overrides and edits overrides: changing a
// date's blocks makes (or changes) its override, "Day off" makes it
// unavailable, "Use weekly hours" removes the override.
const STEP = 30; /* minutes */
const DAY_MIN = 1440;

function hhmm(min) {
  return String(Math.floor(min / 60)).padStart(2, "0") + ":" +
         String(min % 60).padStart(2, "0");
}

function minOf(text) {
  const m = /^(\d\d):(\d\d)$/.exec(String(text).trim());
  if (!m)
    return null;
  const v = Number(m[1]) * 60 + Number(m[2]);
  return v >= 0 && v <= DAY_MIN ? v : null;
}

// Sorted, merged ranges ([start, end] minutes, start < end).
function normalize(ranges) {
  const out = [];
  for (const [a, b] of ranges.filter(([a, b]) => a < b)
    .sort((x, y) => x[0] - y[0])) {
    const last = out[out.length - 1];
    if (last && a <= last[1])
      last[1] = Math.max(last[1], b);
    else
      out.push([a, b]);
  }
  return out;
}

function weekGrid(form) {
  /* form: {lists (day -> ul of rows), overrides (ul), weeklyRow(day),
   * overrideRow(o), onChange()} of hostView. */
  let weekOf = null; /* null: every week; else the Monday, "YYYY-MM-DD" */
  let drag = null;
  let focusAfter = null; /* [dayIndex, blockIndex] to focus after a draw */
  const box = el("div", { class: "wgrid-box" });
  const modeSel = el("select", { id: "wgrid-week" });
  const mondayOf = (date) => {
    const d = new Date(date + "T12:00:00Z");
    d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
    return d.toISOString().slice(0, 10);
  };
  const addDaysTo = (date, n) => {
    const d = new Date(date + "T12:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  };
  const thisMonday = mondayOf(dateOf(new Date().toISOString()));
  modeSel.append(el("option", { value: "" }, "Every week (weekly hours)"));
  for (let i = 0; i < 8; i++) {
    const m = addDaysTo(thisMonday, 7 * i);
    modeSel.append(el("option", { value: m }, "Week of " + formatDay(m) +
                      " (date overrides)"));
  }
  modeSel.addEventListener("change", () => {
    weekOf = modeSel.value || null;
    draw();
  });
  const cols = el("div", { class: "wgrid", role: "group",
                           "aria-label": "Week grid", "aria-describedby":
                           "wgrid-help" });
  const help = el("p", { id: "wgrid-help", class: "hint" },
    "Drag on a day to add hours; drag a block's edges to change them. " +
    "With the keyboard: Enter on a day adds hours; on a block, Up and " +
    "Down move it, Shift+Up/Down change its end, Alt+Up/Down its start, " +
    "Delete removes it. The form below has the exact times.");
  box.append(field("wgrid-week", "Edit", modeSel), help, cols);

  // ---- reading and writing the form
  const weeklyOf = (day) => normalize([...form.lists[day].children]
    .map((r) => [minOf(r.start.value), minOf(r.end.value)])
    .filter(([a, b]) => a !== null && b !== null));
  const overrideRowsOf = (date) => [...form.overrides.children]
    .filter((r) => r.date.value === date);
  // The ranges of column i, and whether they come from an override.
  function rangesOf(i) {
    const day = DAYS[i][0];
    if (!weekOf)
      return { ranges: weeklyOf(day), override: false };
    const rows = overrideRowsOf(addDaysTo(weekOf, i));
    if (!rows.length)
      return { ranges: weeklyOf(day), override: false };
    return { override: true, off: rows.some((r) => r.off.checked),
             ranges: normalize(rows.filter((r) => !r.off.checked)
               .map((r) => [minOf(r.start.value), minOf(r.end.value)])
               .filter(([a, b]) => a !== null && b !== null)) };
  }
  function write(i, ranges) {
    ranges = normalize(ranges);
    const day = DAYS[i][0];
    if (!weekOf) {
      form.lists[day].replaceChildren();
      for (const [a, b] of ranges)
        form.weeklyRow(day, hhmm(a), hhmm(b));
    } else {
      const date = addDaysTo(weekOf, i);
      for (const r of overrideRowsOf(date))
        r.remove();
      if (!ranges.length)
        form.overrideRow({ date, unavailable: true });
      for (const [a, b] of ranges)
        form.overrideRow({ date, start: hhmm(a), end: hhmm(b) });
    }
    form.onChange();
    draw();
  }
  function clearOverride(i) {
    for (const r of overrideRowsOf(addDaysTo(weekOf, i)))
      r.remove();
    form.onChange();
    draw();
  }

  // ---- drawing
  function blockEl(i, j, a, b, ranges) {
    const name = DAYS[i][1];
    const blk = el("div", {
      class: "wblock", tabindex: "0", role: "button",
      "aria-label": name + " " + hhmm(a) + "–" + hhmm(b),
      "aria-describedby": "wgrid-help",
      dataset: { day: String(i), index: String(j) } });
    blk.style.top = (a / DAY_MIN * 100) + "%";
    blk.style.height = ((b - a) / DAY_MIN * 100) + "%";
    /* For the pointer only (the keyboard has Delete): a control inside
     * the block's own role would nest one in the other. */
    const x = el("span", { class: "wblock-x", "aria-hidden": "true",
                           title: "Remove" });
    x.addEventListener("click", (ev) => {
      ev.stopPropagation();
      write(i, ranges.filter((_, k) => k !== j));
    });
    x.addEventListener("pointerdown", (ev) => ev.stopPropagation());
    blk.append(el("span", { class: "wblock-edge top", "aria-hidden": "true" }),
               el("span", { class: "wblock-text", "aria-hidden": "true" },
                  hhmm(a) + "–" + hhmm(b)),
               x,
               el("span", { class: "wblock-edge bottom",
                            "aria-hidden": "true" }));
    blk.addEventListener("keydown", (ev) => {
      let [na, nb] = [a, b];
      const d = ev.key === "ArrowUp" ? -STEP : ev.key === "ArrowDown" ? STEP
        : 0;
      if (ev.key === "Delete" || ev.key === "Backspace") {
        ev.preventDefault();
        focusAfter = [i, -1];
        return write(i, ranges.filter((_, k) => k !== j));
      }
      if (!d)
        return;
      ev.preventDefault();
      if (ev.shiftKey)
        nb = Math.min(DAY_MIN, Math.max(na + STEP, nb + d));
      else if (ev.altKey)
        na = Math.max(0, Math.min(nb - STEP, na + d));
      else if (na + d >= 0 && nb + d <= DAY_MIN) {
        na += d;
        nb += d;
      }
      const next = ranges.map((r, k) => k === j ? [na, nb] : r);
      const keep = normalize(next);
      focusAfter = [i, keep.findIndex(([p, q]) => p <= na && q >= nb)];
      write(i, next);
    });
    return blk;
  }
  function draw() {
    cols.replaceChildren();
    for (let i = 0; i < 7; i++) {
      const { ranges, override, off } = rangesOf(i);
      const date = weekOf ? addDaysTo(weekOf, i) : null;
      const label = date ? formatDay(date) : DAYS[i][1];
      const col = el("div", {
        class: "wcol" + (override ? " override" : ""), tabindex: "0",
        role: "group",
        "aria-label": label + ": " + (off ? "day off"
          : ranges.length ? ranges.map(([a, b]) => hhmm(a) + " to " + hhmm(b))
            .join(", ") : "no hours") + (override ? " (date override)" : "") +
          ". Enter adds hours.",
        dataset: { day: String(i) } });
      for (let h = 3; h < 24; h += 3)
        col.append(el("span", { class: "wtick", "aria-hidden": "true",
                                dataset: { h: String(h) } }));
      ranges.forEach(([a, b], j) => col.append(blockEl(i, j, a, b, ranges)));
      col.addEventListener("keydown", (ev) => {
        if (ev.target !== col || (ev.key !== "Enter" && ev.key !== "a"))
          return;
        ev.preventDefault();
        let a = 9 * 60, b = 17 * 60;
        if (ranges.some(([p, q]) => p < b && q > a)) {
          /* The first free hour. */
          a = 0;
          while (a < DAY_MIN && ranges.some(([p, q]) => p < a + 60 && q > a))
            a += STEP;
          if (a >= DAY_MIN)
            return;
          b = Math.min(DAY_MIN, a + 60);
        }
        focusAfter = [i, normalize([...ranges, [a, b]])
          .findIndex(([p, q]) => p <= a && q >= b)];
        write(i, [...ranges, [a, b]]);
      });
      col.addEventListener("pointerdown", (ev) => startDrag(ev, i, col,
                                                           ranges));
      const head = el("div", { class: "whead" },
        el("span", { class: "wday" }, label));
      if (date) {
        const offBtn = el("button", { type: "button", class: "small",
                                      "aria-label": "Day off on " + label },
                          "Day off");
        offBtn.addEventListener("click", () => write(i, []));
        head.append(offBtn);
        if (override) {
          const back = el("button", { type: "button", class: "small",
            "aria-label": "Use weekly hours on " + label }, "Weekly");
          back.addEventListener("click", () => clearOverride(i));
          head.append(back);
        }
      }
      cols.append(el("div", { class: "wday-col" }, head, col));
    }
    if (focusAfter) {
      const [i, j] = focusAfter;
      focusAfter = null;
      const col = cols.querySelector('.wcol[data-day="' + i + '"]');
      const blk = j >= 0 && col.querySelector('.wblock[data-index="' + j +
                                              '"]');
      (blk || col).focus();
    }
  }

  // ---- dragging
  function minuteAt(col, clientY) {
    const r = col.getBoundingClientRect();
    const m = (clientY - r.top) / r.height * DAY_MIN;
    return Math.max(0, Math.min(DAY_MIN, Math.round(m / STEP) * STEP));
  }
  function startDrag(ev, i, col, ranges) {
    if (ev.button !== 0)
      return;
    const blk = ev.target.closest(".wblock");
    const at = minuteAt(col, ev.clientY);
    let kind = "new", j = -1;
    if (blk) {
      j = Number(blk.dataset.index);
      kind = ev.target.classList.contains("top") ? "start"
        : ev.target.classList.contains("bottom") ? "end" : "move";
    }
    ev.preventDefault();
    col.setPointerCapture(ev.pointerId);
    drag = { i, col, ranges, kind, j, from: at,
             orig: j >= 0 ? ranges[j].slice() : [at, at + STEP],
             now: null };
    const ghost = el("div", { class: "wblock ghost", "aria-hidden": "true" });
    drag.ghost = ghost;
    col.append(ghost);
    const show = () => {
      const [a, b] = drag.now || drag.orig;
      ghost.style.top = (a / DAY_MIN * 100) + "%";
      ghost.style.height = ((b - a) / DAY_MIN * 100) + "%";
      ghost.textContent = hhmm(a) + "–" + hhmm(b);
    };
    show();
    const move = (e) => {
      const m = minuteAt(col, e.clientY);
      let [a, b] = drag.orig;
      if (drag.kind === "new") {
        [a, b] = m >= drag.from ? [drag.from, Math.max(drag.from + STEP, m)]
                                : [m, drag.from + STEP];
      } else if (drag.kind === "start") {
        a = Math.min(m, b - STEP);
      } else if (drag.kind === "end") {
        b = Math.max(m, a + STEP);
      } else {
        const d = Math.max(-a, Math.min(DAY_MIN - b, m - drag.from));
        a += d;
        b += d;
      }
      drag.now = [a, b];
      show();
    };
    const end = (e) => {
      col.removeEventListener("pointermove", move);
      col.removeEventListener("pointerup", end);
      col.removeEventListener("pointercancel", cancel);
      const d = drag;
      drag = null;
      d.ghost.remove();
      if (e.type === "pointercancel")
        return;
      if (d.kind === "move" && !d.now)
        return blkFocus(d.i, d.j);
      const [a, b] = d.now || d.orig;
      const next = d.j >= 0 ? d.ranges.map((r, k) => k === d.j ? [a, b] : r)
                            : [...d.ranges, [a, b]];
      focusAfter = [d.i, normalize(next)
        .findIndex(([p, q]) => p <= a && q >= b)];
      write(d.i, next);
    };
    const cancel = end;
    col.addEventListener("pointermove", move);
    col.addEventListener("pointerup", end);
    col.addEventListener("pointercancel", cancel);
  }
  function blkFocus(i, j) {
    const b = cols.querySelector('.wcol[data-day="' + i + '"] ' +
                                 '.wblock[data-index="' + j + '"]');
    if (b)
      b.focus();
  }
  draw();
  return { box, draw };
}

// The host card of the booking page: photo URL and short bio (PATCH
// /api/v1/hosts/{slug}; docs/booking-page.md "Host card").
function hostCard(host, p) {
  const form = el("form", { id: "host-card-form", novalidate: true });
  const photo = el("input", { type: "url", maxlength: "2048",
                              value: host.photo_url || "",
                              placeholder: "https://…", autocomplete: "off" });
  const bio = el("textarea", { rows: "4", maxlength: "1000" });
  bio.value = host.bio || "";
  const err = el("p", { class: "notice error", role: "alert", hidden: true });
  form.append(
    field("host-photo-url", "Photo URL", photo,
          "An https address of a square picture; leave empty for none. " +
          "Visitors' browsers load it from there."),
    field("host-bio-text", "Short bio", bio,
          "Up to 1000 characters, shown under the name."),
    err,
    el("div", { class: "actions" },
       el("button", { type: "submit", class: "primary" }, "Save host card")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    photo.removeAttribute("aria-invalid");
    bio.removeAttribute("aria-invalid");
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    const r = await call("PATCH", p, {
      photo_url: photo.value.trim() || null,
      bio: bio.value.trim() || null });
    btn.disabled = false;
    if (!r.ok) {
      const f = r.error.details.field;
      notice(err, errorText(r), "error");
      const input = f === "photo_url" ? photo : f === "bio" ? bio : null;
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
      return;
    }
    notice(err, "");
    say("Host card saved.");
  });
  return section("Host card on the booking page", form,
    el("p", null, link("/" + encodeURIComponent(host.slug),
                       "Open this host's booking page")));
}

async function hostView(slug, mine) {
  setTitle("Hours");
  const p = "/api/v1/hosts/" + encodeURIComponent(slug);
  const [h, sch, types] = await Promise.all([
    call("GET", p), call("GET", p + "/schedule"),
    call("GET", "/api/v1/event-types?limit=500"),
  ]);
  if (stale(mine))
    return;
  if (!h.ok)
    return failed(h);
  setTitle("Hours of " + h.data.name);
  const s = sch.ok ? sch.data
                   : { timezone: h.data.timezone, weekly: [], overrides: [] };
  const form = el("form", { id: "schedule-form", novalidate: true });
  const zoneInput = el("input", { value: s.timezone, maxlength: "64",
                                  autocomplete: "off" });
  form.append(field("s-zone", "Time zone of these hours", zoneInput,
                    "An IANA name, such as Europe/Berlin."));
  // The week: one list of hours per day.
  const week = el("div", { class: "week-grid" });
  const lists = {};
  for (const [day, name] of DAYS) {
    const list = el("ul", { class: "hours", "aria-label": name + " hours" });
    lists[day] = list;
    for (const w of s.weekly.filter((w) => w.day === day))
      hoursRow(list, name, w.start, w.end);
    list.addButton = el("button", { type: "button", class: "small",
      onclick: () => {
        hoursRow(list, name, "09:00", "17:00").start.focus();
        wgrid.draw();
      } },
      "Add hours");
    week.append(el("fieldset", { class: "week-day" },
      el("legend", null, name), list, list.addButton));
  }
  form.append(el("h3", null, "Weekly hours"), week);
  // Date overrides: a day off, or other hours on that date.
  const overrides = el("ul", { class: "hours", "aria-label": "Date overrides" });
  function overrideRow(o) {
    const date = el("input", { type: "date", value: o.date || "",
                               "aria-label": "Date", required: true });
    const off = el("input", { type: "checkbox" });
    off.checked = !!o.unavailable;
    const offLabel = el("label", { class: "check" }, off, "Unavailable");
    const row = hoursRow(overrides, "Override", o.start, o.end,
                         [date, offLabel]);
    row.date = date;
    row.off = off;
    const sync = () => {
      row.start.disabled = row.end.disabled = off.checked;
    };
    off.addEventListener("change", sync);
    sync();
    return row;
  }
  for (const o of s.overrides)
    overrideRow(o);
  // The week grid above the form: draws it and edits it (weekGrid).
  const wgrid = weekGrid({
    lists, overrides, overrideRow,
    weeklyRow: (day, a, b) =>
      hoursRow(lists[day], DAYS.find((d) => d[0] === day)[1], a, b),
    onChange: () => say("Not saved yet: Save hours keeps the changes."),
  });
  form.addEventListener("input", () => wgrid.draw());
  form.addEventListener("change", () => wgrid.draw());
  form.addEventListener("click", (ev) => {
    if (ev.target.matches("button.small"))
      queueMicrotask(() => wgrid.draw());
  });
  overrides.addButton = el("button", { type: "button", class: "small",
    onclick: () => overrideRow({ unavailable: true }).date.focus() },
    "Add a date");
  form.append(el("h3", null, "Date overrides"),
              el("p", { class: "hint" }, "A date listed here replaces its " +
                 "weekday's hours: unavailable, or the hours given."),
              overrides, overrides.addButton);
  const err = el("p", { class: "notice error", role: "alert", hidden: true });
  form.append(err, el("div", { class: "actions" },
    el("button", { type: "submit", class: "primary" }, "Save hours")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const i of form.querySelectorAll("[aria-invalid]"))
      i.removeAttribute("aria-invalid");
    const weekly = [], wRows = [], ovs = [], oRows = [];
    for (const [day] of DAYS)
      for (const row of lists[day].children) {
        weekly.push({ day, start: row.start.value.trim(),
                      end: row.end.value.trim() });
        wRows.push(row);
      }
    for (const row of overrides.children) {
      ovs.push(row.off.checked
        ? { date: row.date.value, unavailable: true }
        : { date: row.date.value, start: row.start.value.trim(),
            end: row.end.value.trim() });
      oRows.push(row);
    }
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    const r = await call("PUT", p + "/schedule", {
      timezone: zoneInput.value.trim(), weekly, overrides: ovs });
    btn.disabled = false;
    if (!r.ok) {
      const f = r.error.details.field || "";
      const m = /^(weekly|overrides)\[(\d+)\]\.(\w+)$/.exec(f);
      let input = f === "timezone" ? zoneInput : null;
      if (m) {
        const row = (m[1] === "weekly" ? wRows : oRows)[Number(m[2])];
        input = row && (row[m[3]] || row.start);
      }
      notice(err, errorText(r), "error");
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
      return;
    }
    notice(err, "");
    say("Hours saved.");
    preview();
  });
  view.append(section("Week grid", wgrid.box));
  view.append(section("Weekly hours and date overrides", form));
  view.append(hostCard(h.data, p));
  // Preview: the next seven days' slots of one of the host's event types.
  const mineTypes = (types.ok ? types.data.data : [])
    .filter((t) => t.host === slug);
  const pick = select(mineTypes.map((t) => [t.slug, t.title]));
  const grid = el("div", { class: "preview-grid", "aria-live": "polite" });
  async function preview() {
    grid.replaceChildren();
    if (!pick.value)
      return grid.append(el("p", null, "This host has no event type yet."));
    const from = dateOf(new Date().toISOString());
    const to = dateAfter(from, 6);
    const r = await call("GET", "/api/v1/event-types/" +
                         encodeURIComponent(pick.value) + "/slots" +
                         q({ from, to, timezone: zone }));
    if (!r.ok)
      return grid.append(el("p", null, errorText(r)));
    for (let i = 0; i < 7; i++) {
      const date = dateAfter(from, i);
      const slots = r.data.slots[date] || [];
      grid.append(el("section", { class: "preview-day",
                                  "aria-label": formatDay(date) },
        el("h3", null, formatDay(date)),
        slots.length
          ? el("ul", { tabindex: "0", "aria-label": "Times on " +
                        formatDay(date) }, ...slots.map((x) =>
              el("li", null, formatTime(x.start, zone))))
          : el("p", { class: "hint" }, "No times")));
    }
  }
  pick.addEventListener("change", preview);
  view.append(section("Preview",
    el("p", { class: "hint" }, "Free times of the next seven days, in " +
       zone + ", as the booking page offers them."),
    mineTypes.length ? field("s-preview", "Event type", pick) : null, grid));
  await preview();
}

// ---- deliveries and jobs ---------------------------------------------------

async function deliveriesView(mine) {
  setTitle("Deliveries and jobs");
  const params = new URLSearchParams(location.search);
  const fJob = select([["", "Any job status"], ["queued", "queued"],
    ["running", "running"], ["retrying", "retrying"], ["done", "done"],
    ["dead", "dead letters"]], params.get("job_status") || "");
  const fKind = el("input", { maxlength: "64",
                              value: params.get("kind") || "" });
  const fDel = select([["", "Any delivery status"], ["received", "received"],
    ["processed", "processed"], ["ignored", "ignored"], ["failed", "failed"]],
    params.get("delivery_status") || "");
  const form = el("form", { class: "filters", role: "search",
                            "aria-label": "Filter deliveries and jobs" },
    field("d-status", "Deliveries", fDel),
    field("j-status", "Jobs", fJob),
    field("j-kind", "Job kind", fKind),
    el("div", { class: "field" },
       el("button", { type: "submit", class: "primary" }, "Show")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    navigate("/admin/deliveries" + q({ delivery_status: fDel.value,
      job_status: fJob.value, kind: fKind.value.trim() }), true);
  });
  view.append(form);
  const [dels, jobs] = await Promise.all([
    call("GET", "/api/v1/webhook-deliveries" + q({
      status: params.get("delivery_status"), limit: 100 })),
    call("GET", "/api/v1/jobs" + q({ status: params.get("job_status"),
                                     kind: params.get("kind"), limit: 100 })),
  ]);
  if (stale(mine))
    return;
  const replay = (path, what) => el("button", { type: "button",
    onclick: async (ev) => {
      ev.target.disabled = true;
      const r = await call("POST", path);
      if (!r.ok) {
        ev.target.disabled = false;
        return failed(r);
      }
      await render(false);
      say(what + " queued again.");
    } }, "Replay");
  view.append(section("Inbox deliveries",
    !dels.ok ? el("p", null, errorText(dels))
    : dels.data.data.length === 0 ? el("p", null, "No deliveries.")
    : table("Webhook deliveries received, newest first",
            ["Received", "Provider", "Type", "Status", "Attempts", "Error", ""],
            dels.data.data.map((d) => [when(d.received_at), d.provider,
              d.type, badge(d.status), String(d.attempts),
              errorCell(d.last_error),
              replay("/api/v1/webhook-deliveries/" +
                     encodeURIComponent(d.id) + "/replay",
                     "Delivery " + d.id)]))));
  view.append(section("Jobs",
    !jobs.ok ? el("p", null, errorText(jobs))
    : jobs.data.data.length === 0 ? el("p", null, "No jobs.")
    : table("Jobs of the outbox and the inbox, newest first",
            ["Id", "Kind", "Status", "Attempts", "Next attempt", "Error", ""],
            jobs.data.data.map((j) => [String(j.id), j.kind, badge(j.status),
              j.attempts + "/" + j.max_attempts, when(j.next_attempt_at),
              errorCell(j.last_error),
              j.status === "running" ? "—"
                : replay("/api/v1/jobs/" + j.id + "/replay", "Job " + j.id)]))));
}

// ---- panels that wait for their API ---------------------------------------

// Whether the server has this admin API (404: not this version's).
async function probe(path) {
  const r = await call("GET", path);
  return { there: r.status !== 404, r };
}

function syncSummary(sum) {
  const line = "Synced: " + sum.total + " events, " + sum.created +
    " created, " + sum.updated + " updated, " + sum.skipped + " skipped, " +
    sum.errors.length + (sum.errors.length === 1 ? " error." : " errors.");
  return sum.errors.length
    ? [line, ...sum.errors.map((e) => " " + e.connection + ": " + e.message)]
      .join("")
    : line;
}

// An authorize route answers 302 to the provider's consent page: asked
// first without following it (an error, such as not configured, is JSON
// to show here), then the browser goes there.
async function reauthorize(path, button, out) {
  button.disabled = true;
  let res;
  try {
    res = await fetch(path, { credentials: "same-origin", redirect: "manual",
                              headers: { Accept: "application/json" } });
  } catch {
    res = null;
  }
  if (res && (res.type === "opaqueredirect" || res.status === 302)) {
    location.assign(path);
    return;
  }
  button.disabled = false;
  let error = { code: "network", message: "", details: {} };
  if (res) {
    try {
      error = (await res.json()).error || error;
    } catch {
      error = { code: "http_" + res.status, message: "", details: {} };
    }
  }
  notice(out, errorText({ ok: false, status: res ? res.status : 0, error }),
         "error");
}

// Calendly's account (GET /api/v1/calendly): a personal token, an OAuth
// account with its status, or none; Authorize / Re-authorize.
async function calendlyBox(mine) {
  const box = section("Calendly");
  box.id = "calendly-box";
  const r = await call("GET", "/api/v1/calendly");
  if (stale(mine))
    return box;
  if (!r.ok && r.status === 404) {
    box.append(notConfigured("Calendly:", "this server has no Calendly API."));
    return box;
  }
  if (!r.ok) {
    box.append(el("p", null, errorText(r)));
    return box;
  }
  const s = r.data;
  const out = el("p", { class: "notice", role: "alert", hidden: true,
                        id: "calendly-result" });
  box.append(el("p", { id: "calendly-status", class: "badges" },
    s.status ? badge(s.status) : badge("not_connected"),
    s.auth ? " " + (s.auth === "oauth" ? "OAuth account"
                                       : "personal access token") : null));
  box.append(facts([
    ["Owner", s.owner], ["Organization", s.organization],
    ["Token expires", s.expires_at ? when(s.expires_at) : null],
    ["Next refresh", s.next_refresh_at ? when(s.next_refresh_at) : null],
    ["Failed refreshes", s.refresh_failures ? String(s.refresh_failures)
                                            : null],
    ["Last error", s.last_error],
  ]));
  const go = el("button", { type: "button", id: "calendly-authorize",
                            class: s.status === "needs_auth" ? "primary"
                                                             : null },
                s.auth === "oauth" ? "Re-authorize" : "Connect with OAuth");
  go.addEventListener("click", () =>
    reauthorize("/api/v1/calendly/authorize", go, out));
  box.append(out, el("div", { class: "actions" }, go));
  return box;
}

async function integrationsView(mine) {
  setTitle("Integrations");
  const [hosts, eps, provs] = await Promise.all([
    call("GET", "/api/v1/hosts?limit=500"),
    call("GET", "/api/v1/webhook-endpoints?limit=100"),
    call("GET", "/api/v1/providers"),
  ]);
  if (stale(mine))
    return;
  if (!hosts.ok)
    return failed(hosts);
  const lists = await Promise.all(hosts.data.data.map((h) =>
    call("GET", "/api/v1/hosts/" + encodeURIComponent(h.slug) + "/calendars")));
  if (stale(mine))
    return;
  const conns = [];
  let missing = false;
  lists.forEach((r) => {
    if (r.ok)
      conns.push(...r.data.data);
    else if (r.status === 404 && r.error.code === "not_found" &&
             /no such path/.test(r.error.message))
      missing = true;
  });
  const result = el("p", { class: "notice info", role: "status",
                           id: "sync-result", hidden: true });
  const sync = (body, button) => async () => {
    button.disabled = true;
    notice(result, "Syncing…");
    const r = await call("POST", "/api/v1/sync", body);
    button.disabled = false;
    if (!r.ok)
      return notice(result, errorText(r), "error");
    notice(result, syncSummary(r.data),
           r.data.errors.length ? "error" : "info");
  };
  const cal = section("Calendars");
  if (missing) {
    cal.append(notConfigured("Calendar connections:",
                             "this server has no calendars API."));
  } else if (!conns.length) {
    cal.append(el("p", null, "No calendar is connected. Connect one with " +
                  "POST /api/v1/hosts/{slug}/calendars."));
  } else {
    const all = el("button", { type: "button", class: "primary" },
                   "Sync all now");
    all.addEventListener("click", sync({}, all));
    cal.append(result, table("Calendar connections",
      ["Host", "Server", "Status", "Last sync", "Last error", ""],
      conns.map((c) => {
        const b = el("button", { type: "button",
                                 "aria-label": "Sync now: " + c.url },
                     "Sync now");
        b.addEventListener("click", sync({ connection: c.id }, b));
        const cell = el("td", null, b);
        // A Google connection whose grant was refused asks for consent
        // again (the same connection keeps its calendars and bookings).
        if (c.kind === "google" && c.status === "needs_auth") {
          const ra = el("button", { type: "button", class: "primary",
                                    "aria-label": "Re-authorize: " + c.url },
                        "Re-authorize");
          ra.addEventListener("click", () => reauthorize(
            "/api/v1/hosts/" + encodeURIComponent(c.host) +
            "/calendars/google/authorize" + q({ connection: c.id }),
            ra, result));
          cell.append(" ", ra);
        }
        return [c.host, c.url, badge(c.status), when(c.last_sync_at),
                errorCell(c.last_error), cell];
      })), el("div", { class: "actions" }, all),
      el("p", { class: "hint" }, "Re-authorize takes you to Google's " +
         "consent page and back; a CalDAV password is changed by " +
         "deleting the connection and connecting it again."));
  }
  view.append(cal);
  view.append(await calendlyBox(mine));
  if (stale(mine))
    return;
  view.append(section("Other apps",
    notConfigured("Cal.com and payment providers:",
                  "they push to this server (see Deliveries and jobs for " +
                  "their webhooks); there is no connection status to show.")));
  // The providers' rate limits and circuit breakers, in this instance.
  view.append(section("Provider limits",
    !provs.ok ? el("p", null, errorText(provs))
    : provs.data.data.length === 0 ? el("p", null, "No provider called yet.")
    : table("Rate limits and circuit breakers (this instance)",
            ["Provider", "Breaker", "Failures", "Next probe", "Rate",
             "Paused until"],
            provs.data.data.map((p) => [p.provider, badge(p.state),
              String(p.consecutive_failures), when(p.next_probe_at),
              p.bucket.rate_per_second === null ? "none"
                : p.bucket.rate_per_second.toFixed(2) + "/s",
              when(p.paused_until)]))));
  view.append(section("Outbound webhooks",
    !eps.ok ? el("p", null, errorText(eps))
    : eps.data.data.length === 0 ? el("p", null, "No endpoints.")
    : table("Endpoints that receive the ledger's events",
            ["URL", "Events", "Status", "Failing since"],
            eps.data.data.map((e) => [e.url, (e.events || []).join(", ") ||
              "all", badge(e.status), when(e.failing_since)]))));
}

// Amounts are minor units (API.md); two decimals fit the currencies Stripe
// Checkout is used with here, the currency code says which.
function moneyText(minor, currency) {
  const sign = minor < 0 ? "-" : "";
  const v = Math.abs(minor);
  return sign + Math.floor(v / 100) + "." + String(v % 100).padStart(2, "0") +
    " " + String(currency).toUpperCase();
}

// The minor-unit digits of a currency (2 for EUR, 0 for JPY).
function digitsOf(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency })
      .resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

function sessionsOf(b) {
  return (b.confirmed || 0) + (b.completed || 0) + (b.no_show || 0);
}

// ---- charts (uPlot, vendored: src/web/vendor) ----------------------------

// Loads uPlot once, on the first Metrics page: a script and a stylesheet
// from this origin (the CSP allows nothing else). Resolves to the uPlot
// constructor, or null when it did not load (the tables still show).
let uplotLoading = null;
function loadUPlot() {
  if (window.uPlot)
    return Promise.resolve(window.uPlot);
  if (!uplotLoading) {
    uplotLoading = new Promise((resolve) => {
      document.head.append(el("link", { rel: "stylesheet",
                                        href: "/static/uPlot.min.css" }));
      const s = el("script", { src: "/static/uPlot.iife.min.js" });
      s.addEventListener("load", () => resolve(window.uPlot || null));
      s.addEventListener("error", () => {
        uplotLoading = null;
        resolve(null);
      });
      document.head.append(s);
    });
  }
  return uplotLoading;
}

const CHART_COLORS = ["#2563eb", "#d97706", "#059669", "#9333ea", "#dc2626"];

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement)
    .getPropertyValue(name).trim();
  return v || fallback;
}

// A chart of `series` ({label, values, bars?}) over the buckets' start
// days, in `box` (drawn when it has a width). The canvas is decoration for
// sighted readers: the table beside it is the text alternative, so the
// chart is aria-hidden.
function drawChart(U, box, days, series, opts) {
  const xs = days.map((d) => Date.parse(d + "T00:00:00Z") / 1000);
  const width = Math.max(240, Math.min(box.clientWidth || 320, 640));
  const text = cssVar("--text", "#1f2937");
  const grid = cssVar("--line", "#e5e7eb");
  const axis = (label, values) => ({
    stroke: text, grid: { stroke: grid, width: 1 },
    ticks: { stroke: grid, width: 1 }, label, values });
  const u = new U({
    width, height: 220,
    tzDate: (ts) => U.tzDate(new Date(ts * 1e3), "Etc/UTC"),
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    /* Half a bucket of room on each side, so the first and last bars
     * show whole. */
    scales: { x: { time: true, range: (u, min, max) => {
      const pad = xs.length > 1 ? (xs[xs.length - 1] - xs[0]) /
                                  (xs.length - 1) / 2 : 86400 * 15;
      return [min - pad, max + pad];
    } }, y: { range: (u, min, max) =>
      [0, max > 0 ? max * 1.1 : 1] } },
    axes: [axis(null), { ...axis(opts.yLabel, opts.yValues),
                         ...(opts.counts ? { incrs: [1, 2, 5, 10, 20, 50, 100,
                                                     200, 500, 1000, 2000,
                                                     5000] } : {}) }],
    series: [{ label: opts.xLabel || "From" }, ...series.map((s, i) => ({
      label: s.label,
      stroke: CHART_COLORS[i % CHART_COLORS.length],
      fill: s.bars ? CHART_COLORS[i % CHART_COLORS.length] + "99" : undefined,
      width: 2,
      points: { show: !s.bars },
      spanGaps: false,
      paths: s.bars ? U.paths.bars({ size: [0.6 / series.length, 64],
                                     align: 0 }) : undefined,
      value: opts.value,
    }))],
  }, [xs, ...series.map((s) => s.values)], box);
  u.root.setAttribute("aria-hidden", "true");
  box.dataset.drawn = String(xs.length);
  return u;
}

// A chart beside its table (stacked on a phone). Returns the element; the
// chart is drawn once uPlot loaded and the box is laid out.
function chartWithTable(heading, tableEl, draw) {
  const box = el("div", { class: "chart", "aria-hidden": "true" });
  const fig = el("div", { class: "chart-pair" }, box, tableEl);
  const s = section(heading, fig);
  charts.push({ box, draw });
  return s;
}

let charts = [];

async function drawCharts(mine) {
  const U = await loadUPlot();
  if (stale(mine))
    return;
  for (const c of charts) {
    c.box.textContent = "";
    if (!U) {
      c.box.append(el("p", null, "The chart did not load; the table has " +
                                 "the numbers."));
      continue;
    }
    c.draw(U, c.box);
  }
  say("Charts drawn.");
}

// The first day of the month monthsBack before the one holding date
// ("YYYY-MM-DD").
function monthStart(date, monthsBack) {
  const [y, m] = date.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1 - monthsBack, 1)).toISOString()
    .slice(0, 10);
}

function percent(x) {
  return x === null || x === undefined ? "—" : (x * 100).toFixed(1) + " %";
}

// The numbers of GET /api/v1/metrics/summary: revenue by month, sessions
// by week, the no-show rate and new vs active clients, each a chart with
// its table beside it.
async function metricsView(mine) {
  setTitle("Metrics");
  charts = [];
  // Dates of the browser's zone, as the rest of the dashboard shows.
  const today = dateOf(new Date().toISOString());
  const yearAgo = monthStart(today, 11);
  const weeksAgo = dateAfter(today, -83);
  const monthsPath = "/api/v1/metrics/summary?interval=month&from=" + yearAgo +
    "&to=" + today;
  let inZone = "&timezone=" + encodeURIComponent(zone);
  let m = await probe(monthsPath + inZone);
  if (m.there && m.r.status === 400) { /* a zone the server lacks: UTC */
    inZone = "";
    m = await probe(monthsPath);
  }
  const w = m.there && m.r.ok
    ? await call("GET", "/api/v1/metrics/summary?interval=week&from=" +
                 weeksAgo + "&to=" + today + inZone)
    : null;
  if (stale(mine))
    return;
  if (!m.there) {
    view.append(section("Business metrics",
      notConfigured("Revenue by month, sessions by week, no-show rate, " +
                    "new and active clients:",
                    "this server has no metrics API yet. Operational " +
                    "metrics are at /metrics (Prometheus text).")));
    return;
  }
  if (!m.r.ok) {
    view.append(section("Business metrics", el("p", null, errorText(m.r))));
    return;
  }
  const sum = m.r.data;
  const months = sum.series;
  const monthDays = months.map((b) => b.from);
  const monthName = (b) => new Date(b.from + "T00:00:00Z")
    .toLocaleDateString(undefined, { month: "short", year: "numeric",
                                     timeZone: "UTC" });
  view.append(section("Last 12 months",
    table("Totals from " + sum.from + " to " + sum.to +
          (sum.timezone ? " (" + sum.timezone + ")" : ""),
          ["Figure", "Value"], [
      ["Sessions (confirmed, completed, no-show)", String(sessionsOf(sum.bookings))],
      ["No-show rate", percent(sum.no_show_rate)],
      ["New clients", String(sum.clients.new)],
      ["Active clients", String(sum.clients.active)],
      ...sum.revenue.map((r) => ["Net revenue (" + r.currency.toUpperCase() +
                                 ")", moneyText(r.net, r.currency)]),
    ])));

  // Revenue: one bar series per currency, net of refunds, major units.
  const currencies = [...new Set(months.flatMap((b) =>
    b.revenue.map((r) => r.currency.toUpperCase())))];
  const rows = [];
  for (const b of months)
    for (const r of b.revenue)
      rows.push([monthName(b), moneyText(r.gross, r.currency),
                 moneyText(r.refunded, r.currency),
                 moneyText(r.net, r.currency)]);
  const revTable = rows.length
    ? table("Revenue by month (refunds when they happened)",
            ["Month", "Gross", "Refunded", "Net"], rows)
    : el("p", null, "No payments in the last 12 months.");
  /* No payments: no chart of zeros, the sentence says it. */
  view.append(!currencies.length ? section("Revenue by month", revTable)
    : chartWithTable("Revenue by month", revTable, (U, box) =>
    drawChart(U, box, monthDays, currencies
      .map((cur) => ({
        label: "Net " + cur, bars: true,
        values: months.map((b) => {
          const r = b.revenue.find((x) => x.currency.toUpperCase() === cur);
          return r ? r.net / 10 ** digitsOf(cur) : 0;
        }),
      })), { yLabel: "Net revenue" })));

  // Sessions by week.
  if (!w || !w.ok) {
    view.append(section("Sessions by week",
      el("p", null, w ? errorText(w) : "—")));
  } else {
    const weeks = w.data.series;
    view.append(chartWithTable("Sessions by week",
      table("Sessions by week (bookings starting that week)",
            ["Week", "Sessions", "Cancelled", "No-shows", "New clients"],
            weeks.map((b) => [b.from + " – " + b.to,
              String(sessionsOf(b.bookings)),
              String(b.bookings.cancelled || 0),
              String(b.bookings.no_show || 0), String(b.clients.new)])),
      (U, box) => drawChart(U, box, weeks.map((b) => b.from), [
        { label: "Sessions", bars: true,
          values: weeks.map((b) => sessionsOf(b.bookings)) },
        { label: "No-shows", bars: true,
          values: weeks.map((b) => b.bookings.no_show || 0) },
      ], { yLabel: "Sessions", xLabel: "Week of", counts: true })));
  }

  // No-show rate by month (no point where nobody was due).
  view.append(chartWithTable("No-show rate",
    table("No-show rate by month (no-shows ÷ completed and no-shows)",
          ["Month", "Completed", "No-shows", "Rate"],
          months.map((b) => [monthName(b), String(b.bookings.completed || 0),
                             String(b.bookings.no_show || 0),
                             percent(b.no_show_rate)])),
    (U, box) => drawChart(U, box, monthDays, [
      { label: "No-show rate",
        values: months.map((b) => b.no_show_rate === null ? null
          : Math.round(b.no_show_rate * 1000) / 10) },
    ], { yLabel: "%", value: (u, v) => v === null ? "—" : v + " %" })));

  // New vs active clients by month.
  view.append(chartWithTable("New and active clients",
    table("New and active clients by month", ["Month", "New", "Active"],
          months.map((b) => [monthName(b), String(b.clients.new),
                             String(b.clients.active)])),
    (U, box) => drawChart(U, box, monthDays, [
      { label: "New", values: months.map((b) => b.clients.new) },
      { label: "Active", values: months.map((b) => b.clients.active) },
    ], { yLabel: "Clients", counts: true })));
  await drawCharts(mine);
}

// ---- start -----------------------------------------------------------------

document.getElementById("sign-out").addEventListener("click", async (ev) => {
  ev.target.disabled = true;
  const r = await call("POST", "/admin/logout");
  if (!r.ok) {
    ev.target.disabled = false;
    return failed(r);
  }
  location.assign("/admin/login");
});

(async () => {
  const s = await call("GET", "/admin/session");
  if (!s.ok) {
    setTitle("Admin");
    return failed(s);
  }
  csrf = s.data.csrf_token;
  await render(false);
})();
