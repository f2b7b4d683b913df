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
  return el("div", { class: "table-wrap" }, t);
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
  form.append(
    field("f-status", "Status", fStatus),
    field("f-type", "Event type", fType),
    field("f-host", "Host", fHost),
    field("f-source", "Source", fSource),
    field("f-client", "Client email or id", fClient),
    el("div", { class: "field check" }, fPast,
       el("label", { for: "f-past" }, "Include past")),
    el("div", { class: "field" },
       el("button", { type: "submit", class: "primary" }, "Show")));
  fPast.id = "f-past";
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    navigate("/admin" + q({
      status: fStatus.value, event_type: fType.value, host: fHost.value,
      source: fSource.value, client: fClient.value.trim(),
      past: fPast.checked ? "1" : "",
    }), true);
  });
  const list = el("div", { id: "bookings", "aria-live": "polite" });
  view.append(form, list);
  const base = {
    status: params.get("status"), event_type: params.get("event_type"),
    host: params.get("host"), source: params.get("source"),
    client: params.get("client"),
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

function actions(b) {
  const box = section("Actions");
  const open = b.status === "pending" || b.status === "confirmed";
  if (!open) {
    box.append(el("p", null, "A " + words(b.status) +
                  " booking has no actions left."));
    return box;
  }
  const out = el("p", { class: "notice", role: "alert", hidden: true });
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
             cancelForm, moveBox,
             el("p", { class: "hint" },
                "Marking a booking completed or a no-show, and refunds, " +
                "are not configured: this server's API has no such " +
                "actions yet."));
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
  view.append(table("Clients, newest first", ["Name", "Email", "Status", "Since"],
    r.data.data.map((c) => [
      link("/admin/clients/" + encodeURIComponent(c.id), c.name || c.email),
      c.email, badge(c.status), when(c.created_at)])));
  if (r.data.next_cursor)
    view.append(el("p", { class: "hint" }, "Showing the newest 200."));
  view.append(notConfigured("Sessions, revenue and credits per client:",
                            "this server's API does not report them yet."));
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
    ["Time zone", c.timezone], ["Since", when(c.created_at)],
    ["Id", c.id]])));
  // Name and status are the owner's to correct.
  const name = el("input", { maxlength: "200", value: c.name || "",
                             autocomplete: "off" });
  const st = select([["prospect", "prospect"], ["active", "active"],
                     ["inactive", "inactive"]], c.status);
  const err = el("p", { class: "notice error", role: "alert", hidden: true });
  const form = el("form", { class: "form-grid" },
    field("cl-name", "Name", name), field("cl-status", "Status", st));
  form.append(el("div", { class: "field" }, el("button", {
    type: "submit", class: "primary" }, "Save")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const res = await call("PATCH", "/api/v1/clients/" + encodeURIComponent(id),
                           { name: name.value.trim() || null,
                             status: st.value });
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
  form.append(grid, field("et-description", "Description", inputs.description),
    el("div", { class: "field check" }, inputs.active,
       el("label", { for: "et-active" }, "Active (offered on the booking page)")),
    err,
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
      if (key && inputs[key]) {
        inputs[key].setAttribute("aria-invalid", "true");
        inputs[key].focus();
      }
      return;
    }
    navigate("/admin/event-types/" + encodeURIComponent(res.data.slug), true);
    say(creating ? "Event type created." : "Saved.");
  });
  view.append(section(creating ? "Create" : "Edit", form));
  if (!creating)
    view.append(el("p", null, link("/#" + encodeURIComponent(t.slug),
                                   "Open the booking page")));
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
    ? el("p", null, "No hosts yet: add one with POST /api/v1/hosts or " +
         "bookingd apply.")
    : table("Hosts", ["Name", "Slug", "Email", "Time zone"],
            r.data.data.map((h) => [
              link("/admin/hosts/" + encodeURIComponent(h.slug), h.name),
              h.slug, h.email, h.timezone])));
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
      onclick: () => hoursRow(list, name, "09:00", "17:00").start.focus() },
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
  view.append(section("Weekly hours and date overrides", form));
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
    const to = dateOf(new Date(Date.now() + 6 * 86400e3).toISOString());
    const r = await call("GET", "/api/v1/event-types/" +
                         encodeURIComponent(pick.value) + "/slots" +
                         q({ from, to, timezone: zone }));
    if (!r.ok)
      return grid.append(el("p", null, errorText(r)));
    for (let i = 0; i < 7; i++) {
      const date = dateOf(new Date(Date.now() + i * 86400e3).toISOString());
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
        return [c.host, c.url, badge(c.status), when(c.last_sync_at),
                errorCell(c.last_error), b];
      })), el("div", { class: "actions" }, all),
      el("p", { class: "hint" }, "Re-authorizing a connection is not " +
         "configured: the API cannot change its credentials; delete it " +
         "and connect it again."));
  }
  view.append(cal);
  view.append(section("Other apps",
    notConfigured("Cal.com, Calendly and payment providers:",
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

function sessionsOf(b) {
  return (b.confirmed || 0) + (b.completed || 0) + (b.no_show || 0);
}

// The numbers of GET /api/v1/metrics/summary, as tables (charts are a
// later step: docs/admin.md).
async function metricsView(mine) {
  setTitle("Metrics");
  const today = new Date().toISOString().slice(0, 10);
  const yearAgo = new Date(Date.now() - 364 * 86400e3).toISOString()
    .slice(0, 10);
  const weeksAgo = new Date(Date.now() - 83 * 86400e3).toISOString()
    .slice(0, 10);
  const m = await probe("/api/v1/metrics/summary?interval=month&from=" +
                        yearAgo + "&to=" + today);
  const w = m.there && m.r.ok
    ? await call("GET", "/api/v1/metrics/summary?interval=week&from=" +
                 weeksAgo + "&to=" + today)
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
  const rate = sum.no_show_rate === null ? "—"
    : (sum.no_show_rate * 100).toFixed(1) + " %";
  view.append(section("Last 12 months",
    table("Totals from " + sum.from + " to " + sum.to, ["Figure", "Value"], [
      ["Sessions (confirmed, completed, no-show)", String(sessionsOf(sum.bookings))],
      ["No-show rate", rate],
      ["New clients", String(sum.clients.new)],
      ["Active clients", String(sum.clients.active)],
      ...sum.revenue.map((r) => ["Net revenue (" + r.currency.toUpperCase() +
                                 ")", moneyText(r.net, r.currency)]),
    ])));
  const rows = [];
  for (const b of sum.series)
    for (const r of b.revenue)
      rows.push([b.from + " – " + b.to, moneyText(r.gross, r.currency),
                 moneyText(r.refunded, r.currency),
                 moneyText(r.net, r.currency)]);
  view.append(section("Revenue by month",
    rows.length ? table("Revenue by month (refunds when they happened)",
                        ["Month", "Gross", "Refunded", "Net"], rows)
    : el("p", null, "No payments in the last 12 months.")));
  view.append(section("Sessions by week",
    !w || !w.ok ? el("p", null, w ? errorText(w) : "—")
    : table("Sessions by week (bookings starting that week)",
            ["Week", "Sessions", "Cancelled", "No-shows", "New clients"],
            w.data.series.map((b) => [b.from + " – " + b.to,
              String(sessionsOf(b.bookings)),
              String(b.bookings.cancelled || 0),
              String(b.bookings.no_show || 0), String(b.clients.new)]))));
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
