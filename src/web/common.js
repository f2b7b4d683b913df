// web/common.js — what the booking page and the manage page share: calls to
// the public API, errors in words, time zones, dates, the visitor's clock,
// and the slot picker (a month calendar).
// Page logic lives in book.js and manage.js.

// Calls the API. Resolves (never rejects) to {ok, status, data, error}:
// data is the parsed JSON body of a success; error is the body's "error"
// object, or one made up here for network failures and non-JSON answers.
export async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
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
  let json = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  if (res.ok)
    return { ok: true, status: res.status, data: json };
  const error = (json && json.error) || { code: "http_" + res.status,
                                          message: "", details: {} };
  error.details = error.details || {};
  return { ok: false, status: res.status, error };
}

// Every page of a list the API pages with a cursor (path has no ?cursor;
// limit=100 is added): resolves to {ok, items} with the items of all pages,
// or to the first failed answer. At most maxPages pages are read (a
// bound against a server that never stops answering next_cursor).
export async function apiAll(path, maxPages = 100) {
  const base = path + (path.includes("?") ? "&" : "?") + "limit=100";
  const items = [];
  let cursor = null;
  for (let pages = 0; pages < maxPages; pages++) {
    const r = await api("GET", cursor
      ? base + "&cursor=" + encodeURIComponent(cursor) : base);
    if (!r.ok)
      return r;
    items.push(...((r.data && r.data.data) || []));
    cursor = r.data && r.data.next_cursor;
    if (!cursor)
      break;
  }
  return { ok: true, items };
}

// "must be an email address" -> "Must be an email address."
export function sentence(s) {
  s = String(s || "").trim();
  if (!s)
    return s;
  s = s[0].toUpperCase() + s.slice(1);
  return /[.!?]$/.test(s) ? s : s + ".";
}

// A failed api() result in words a visitor understands.
export function errorText(r) {
  const e = r.error;
  if (r.status === 0)
    return "Could not reach the booking service. Check your connection " +
           "and try again.";
  if (r.status === 429)
    return "Too many requests just now. Wait a moment and try again.";
  if (r.status >= 500) {
    const id = e.details.request_id;
    return "Something went wrong on our side. Please try again in a " +
           "moment" + (id ? " (reference " + id + ")." : ".");
  }
  if (e.message)
    return sentence(e.message);
  return "The request failed (HTTP " + r.status + ").";
}

export const TAKEN_TEXT =
  "That time was just taken — here are the times still free.";

export function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

// Used when the browser cannot list its zones.
const COMMON_ZONES = [
  "UTC", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris",
  "Europe/Berlin", "Europe/Madrid", "Europe/Rome", "Europe/Amsterdam",
  "Europe/Stockholm", "Europe/Warsaw", "Europe/Athens", "Europe/Helsinki",
  "Europe/Istanbul", "Europe/Moscow", "Africa/Lagos", "Africa/Cairo",
  "Africa/Johannesburg", "Africa/Nairobi", "Asia/Dubai", "Asia/Karachi",
  "Asia/Kolkata", "Asia/Dhaka", "Asia/Bangkok", "Asia/Jakarta",
  "Asia/Singapore", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Tokyo",
  "Asia/Seoul", "Australia/Perth", "Australia/Adelaide", "Australia/Sydney",
  "Pacific/Auckland", "Pacific/Honolulu", "America/Anchorage",
  "America/Los_Angeles", "America/Denver", "America/Phoenix",
  "America/Chicago", "America/Mexico_City", "America/New_York",
  "America/Toronto", "America/Bogota", "America/Lima", "America/Santiago",
  "America/Sao_Paulo", "America/Argentina/Buenos_Aires", "America/Halifax",
];

function zoneLabel(z) {
  return z.replace(/_/g, " ");
}

// Fills a <select> with time zones: `first` (default: the browser's zone)
// on top, then every zone the browser knows. Returns the selected zone.
export function fillZoneSelect(select, first) {
  const top = first || browserZone();
  let zones = COMMON_ZONES;
  if (typeof Intl.supportedValuesOf === "function") {
    try {
      zones = Intl.supportedValuesOf("timeZone");
    } catch {
      /* keep the short list */
    }
  }
  select.replaceChildren();
  const mine = new Option(zoneLabel(top) + " (yours)", top, true, true);
  select.add(mine);
  for (const z of zones)
    if (z !== top)
      select.add(new Option(zoneLabel(z), z));
  return top;
}

// Today's date "YYYY-MM-DD" in zone tz, plus `days`.
export function dateIn(tz, days) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
  }).formatToParts(new Date());
  const get = (t) => Number(parts.find((p) => p.type === t).value);
  const d = new Date(Date.UTC(get("year"), get("month") - 1, get("day") + days));
  return d.toISOString().slice(0, 10);
}

// "Monday 1 Dec" for a date "YYYY-MM-DD" (a calendar date, no zone); short
// enough for one line on a phone.
export function formatDay(date) {
  return new Intl.DateTimeFormat(undefined, {
    weekday: "long", day: "numeric", month: "short", timeZone: "UTC",
  }).format(new Date(date + "T12:00:00Z"));
}

// The visitor's clock: true for 12-hour times, false for 24-hour, as last
// chosen on this browser (localStorage), else as the locale writes them.
const HOUR12_KEY = "bookingd.hour12";
export function hour12() {
  try {
    const v = localStorage.getItem(HOUR12_KEY);
    if (v === "1" || v === "0")
      return v === "1";
  } catch {
    /* storage refused: the locale's way */
  }
  const o = new Intl.DateTimeFormat(undefined, { hour: "numeric" })
    .resolvedOptions();
  return o.hour12 === true || o.hourCycle === "h12" || o.hourCycle === "h11";
}

export function setHour12(on) {
  try {
    localStorage.setItem(HOUR12_KEY, on ? "1" : "0");
  } catch {
    /* not remembered, still applied */
  }
}

// "09:30" or "9:30 AM" in zone tz, on the visitor's clock (hour12()).
export function formatTime(iso, tz) {
  return new Intl.DateTimeFormat(undefined, {
    hour: "numeric", minute: "2-digit", timeZone: tz, hour12: hour12(),
  }).format(new Date(iso));
}

// "Monday 1 December 2026, 09:00–09:30" in zone tz.
export function formatRange(startIso, endIso, tz) {
  const day = new Intl.DateTimeFormat(undefined, {
    weekday: "long", day: "numeric", month: "long", year: "numeric",
    timeZone: tz,
  }).format(new Date(startIso));
  let text = day + ", " + formatTime(startIso, tz);
  if (endIso)
    text += "–" + formatTime(endIso, tz);
  return text;
}

export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class")
      node.className = v;
    else if (k === "dataset")
      Object.assign(node.dataset, v);
    else if (k.startsWith("on"))
      node.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined)
      node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// Shows text in a notice paragraph (hides it when text is empty).
export function notice(node, text, kind) {
  node.textContent = text || "";
  node.hidden = !text;
  node.classList.toggle("error", kind === "error");
  node.classList.toggle("info", kind !== "error");
}

// "December 2026" for a month "YYYY-MM".
function formatMonth(month) {
  return new Intl.DateTimeFormat(undefined, {
    month: "long", year: "numeric", timeZone: "UTC",
  }).format(new Date(month + "-15T12:00:00Z"));
}

// "YYYY-MM-DD" plus n days (calendar arithmetic, no zone).
function addDays(date, n) {
  const d = new Date(date + "T12:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function lastOfMonth(month) {
  const [y, m] = month.split("-").map(Number);
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
}

function addMonths(month, n) {
  const [y, m] = month.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1 + n, 1)).toISOString().slice(0, 7);
}

// Monday first, as ISO 8601 weeks.
const WEEKDAYS = [1, 2, 3, 4, 5, 6, 7].map((i) => {
  const d = new Date(Date.UTC(2024, 0, i, 12)); /* 1 Jan 2024: a Monday */
  return [
    new Intl.DateTimeFormat(undefined, { weekday: "short", timeZone: "UTC" })
      .format(d),
    new Intl.DateTimeFormat(undefined, { weekday: "long", timeZone: "UTC" })
      .format(d),
  ];
});

// The page's first data (the daemon inlines it into the booking page:
// docs/booking-page.md "First slots"), or null.
export function firstData() {
  const node = document.getElementById("first-data");
  if (!node)
    return null;
  try {
    return JSON.parse(node.textContent);
  } catch {
    return null;
  }
}

// An instant as RFC 3339 in tz, as the API writes it ("...+01:00").
function instantIn(ms, tz) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  const local = parts.year + "-" + parts.month + "-" + parts.day + "T" +
    parts.hour + ":" + parts.minute + ":" + parts.second;
  const off = Math.round((Date.parse(local + "Z") - ms) / 60000);
  const a = Math.abs(off);
  return local + (off < 0 ? "-" : "+") + String(Math.floor(a / 60))
    .padStart(2, "0") + ":" + String(a % 60).padStart(2, "0");
}

// The slots answer for [from, to] in tz from inlined slots ({event_type,
// from, to (UTC dates), minutes, starts}), or null when they do not cover
// the whole range.
function slotsFromInline(inl, from, to, tz) {
  const offset = (t) => Date.parse(instantIn(t, tz).slice(0, 19) + "Z") - t;
  const midnight = (date) => {
    const t0 = Date.parse(date + "T00:00:00Z");
    return t0 - offset(t0 - offset(t0));
  };
  const first = midnight(from), last = midnight(addDays(to, 1));
  if (first < Date.parse(inl.from + "T00:00:00Z") ||
      last > Date.parse(addDays(inl.to, 1) + "T00:00:00Z"))
    return null;
  const slots = {};
  let m = 0;
  inl.starts.forEach((v, i) => {
    m = i ? m + v : v;
    const ms = m * 60000;
    if (ms < first || ms >= last)
      return;
    const s = instantIn(ms, tz);
    (slots[s.slice(0, 10)] ||= []).push({
      start: s, end: instantIn(ms + inl.minutes * 60000, tz) });
  });
  return { ok: true, data: { event_type: inl.event_type, timezone: tz,
                             slots } };
}

// The free times of one event type as a month calendar: the days with free
// times are marked, and the times of the chosen day are listed beside it
// (under it on a phone); previous and next month; a 12/24-hour switch that
// the browser remembers. Every loaded day's times are in the page (the
// other days' hidden), so a time can be found by its start.
//   container  where the calendar goes
//   status     a paragraph for "Loading…", "No free times" and errors
//   onPick(slot) called with {start, end, date} when a time is chosen
//   extra        more query parameters of the slots request ({exclude, token}
//                on the manage page: the booking being moved is not busy)
export class SlotPicker {
  constructor(container, status, onPick, extra) {
    this.container = container;
    this.status = status;
    this.onPick = onPick;
    this.extra = extra || {};
    this.slug = null;
    this.tz = browserZone();
    this.seq = 0;
    this.selected = null;
    this.month = null; /* "YYYY-MM" shown */
    this.day = null;   /* "YYYY-MM-DD" whose times are shown */
    this.days = {};    /* date -> [{start, end}] of the month shown */
    this.inline = null; /* the page's inlined first slots (firstData()) */
  }

  // The slots of [from, to]; a range over the server's cap per answer
  // (too_many_slots) is asked for in halves.
  async fetchRange(from, to, inl) {
    /* The page's inlined first slots answer when they cover the range. */
    if (inl && inl.event_type === this.slug && !this.extra.exclude) {
      const r = slotsFromInline(inl, from, to, this.tz);
      if (r)
        return r;
    }
    const q = new URLSearchParams({ from, to, timezone: this.tz,
                                    ...this.extra });
    const r = await api("GET", "/api/v1/event-types/" +
                        encodeURIComponent(this.slug) + "/slots?" + q);
    if (!r.ok && r.error.code === "too_many_slots" && from < to) {
      const span = Math.round((Date.parse(to) - Date.parse(from)) / 864e5);
      const mid = addDays(from, Math.floor(span / 2));
      const a = await this.fetchRange(from, mid);
      if (!a.ok)
        return a;
      const b = await this.fetchRange(addDays(mid, 1), to);
      if (!b.ok)
        return b;
      return { ok: true, data: { slots: { ...a.data.slots, ...b.data.slots } } };
    }
    return r;
  }

  // Loads (or reloads) the month shown — at first the month of the first
  // free time — and resolves to whether it worked. A chosen time that is
  // still free stays chosen (this.selected, in the new zone).
  async load(slug, tz, month) {
    if (slug && slug !== this.slug) {
      this.slug = slug;
      this.month = null;
    }
    if (tz)
      this.tz = tz;
    const seq = ++this.seq;
    const keep = this.selected && Date.parse(this.selected.start);
    const today = dateIn(this.tz, 0);
    const thisMonth = today.slice(0, 7);
    let want = month || this.month || thisMonth;
    if (want < thisMonth)
      want = thisMonth;
    this.container.setAttribute("aria-busy", "true");
    notice(this.status, "Loading free times…");
    /* Inlined slots serve the first load only: later ones (another
     * zone, a time taken meanwhile) ask the API. */
    const inl = this.inline;
    this.inline = null;
    let r, tries = 0;
    for (;;) {
      const from = want === thisMonth ? today : want + "-01";
      r = await this.fetchRange(from, lastOfMonth(want), inl);
      if (seq !== this.seq)
        return false; /* a newer load has started */
      /* At first, skip ahead to the first month with a free time. */
      if (!r.ok || month || this.month || tries >= 2 ||
          Object.keys(r.data.slots || {}).length)
        break;
      want = addMonths(want, 1);
      tries++;
    }
    this.container.removeAttribute("aria-busy");
    if (!r.ok) {
      this.container.replaceChildren();
      this.selected = null;
      const zone = r.error.details.field === "timezone";
      notice(this.status, zone ? "The server does not know the time zone " +
             this.tz + ". Please choose another one." : errorText(r), "error");
      return false;
    }
    this.month = want;
    this.days = r.data.slots || {};
    this.render(keep);
    return true;
  }

  render(keep) {
    const dates = Object.keys(this.days).sort();
    this.selected = null;
    let day = dates.includes(this.day) ? this.day : dates[0] || null;
    const panels = el("div", { class: "cal-times" });
    for (const date of dates) {
      const grid = el("div", { class: "slot-grid" });
      for (const s of this.days[date]) {
        const b = el("button", {
          type: "button", class: "slot", "aria-pressed": "false",
          dataset: { start: s.start },
          onclick: () => this.pick(b, { ...s, date }),
        }, formatTime(s.start, this.tz));
        grid.append(b);
        if (keep && Date.parse(s.start) === keep) {
          b.setAttribute("aria-pressed", "true");
          this.selected = { ...s, date };
          day = date;
        }
      }
      const n = this.days[date].length;
      panels.append(el("section", {
        class: "day", dataset: { date }, hidden: true,
        "aria-label": formatDay(date),
      }, el("h3", { class: "day-name" }, formatDay(date),
            el("span", { class: "day-count" },
               " · " + n + (n === 1 ? " time" : " times"))), grid));
    }
    const prev = el("button", { type: "button", class: "cal-nav",
                                "aria-label": "Previous month",
                                onclick: () => this.load(null, null,
                                  addMonths(this.month, -1)) }, "‹");
    prev.disabled = this.month <= dateIn(this.tz, 0).slice(0, 7);
    const next = el("button", { type: "button", class: "cal-nav",
                                "aria-label": "Next month",
                                onclick: () => this.load(null, null,
                                  addMonths(this.month, 1)) }, "›");
    const clock = el("input", { type: "checkbox", class: "cal-clock-box" });
    clock.checked = !hour12();
    clock.addEventListener("change", () => {
      setHour12(!clock.checked);
      for (const b of this.container.querySelectorAll(".slot"))
        b.textContent = formatTime(b.dataset.start, this.tz);
      this.onClock?.();
    });
    this.container.replaceChildren(
      el("div", { class: "cal" },
        el("div", { class: "cal-head" }, prev,
           el("h3", { class: "cal-month", "aria-live": "polite" },
              formatMonth(this.month)), next),
        this.grid(), el("label", { class: "cal-clock" }, clock,
                        "24-hour clock")),
      panels);
    if (!dates.length) {
      const firstDay = this.container.querySelector(".cal-day");
      if (firstDay)
        firstDay.tabIndex = 0;
      notice(this.status, "No free times in " + formatMonth(this.month) +
             ". Try the next month.");
      return;
    }
    notice(this.status, "");
    this.show(day, false);
  }

  // The month as a table of day buttons, Monday first; arrow keys move
  // between days (one tab stop: the chosen day).
  grid() {
    const first = this.month + "-01";
    const last = lastOfMonth(this.month);
    const lead = (new Date(first + "T12:00:00Z").getUTCDay() + 6) % 7;
    const table = el("table", { class: "cal-grid" },
      el("caption", { class: "visually-hidden" },
         "Days of " + formatMonth(this.month) + "; marked days have free times"),
      el("thead", null, el("tr", null, ...WEEKDAYS.map(([short, long]) =>
        el("th", { scope: "col" }, el("abbr", { title: long }, short))))));
    const body = el("tbody");
    let row = el("tr");
    for (let i = 0; i < lead; i++)
      row.append(el("td"));
    for (let date = first; date <= last; date = addDays(date, 1)) {
      const n = (this.days[date] || []).length;
      const label = formatDay(date) + (n ? ", " + n +
                    (n === 1 ? " free time" : " free times") : ", no free times");
      row.append(el("td", null, el("button", {
        type: "button", class: "cal-day", tabindex: "-1",
        "aria-label": label, "aria-pressed": "false",
        "aria-disabled": n ? null : "true",
        dataset: { date, free: n ? "1" : "0" },
        onclick: () => n && this.show(date, true),
        onkeydown: (ev) => this.key(ev, date),
      }, String(Number(date.slice(8))))));
      if (row.children.length === 7) {
        body.append(row);
        row = el("tr");
      }
    }
    if (row.children.length) {
      while (row.children.length < 7)
        row.append(el("td"));
      body.append(row);
    }
    table.append(body);
    return table;
  }

  key(ev, date) {
    const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7,
                   Home: -((new Date(date + "T12:00:00Z").getUTCDay() + 6) % 7),
                   End: 6 - ((new Date(date + "T12:00:00Z").getUTCDay() + 6) % 7),
                 }[ev.key];
    if (step === undefined)
      return;
    ev.preventDefault();
    const to = addDays(date, step);
    const b = this.container.querySelector(`.cal-day[data-date="${to}"]`);
    if (!b)
      return;
    for (const d of this.container.querySelectorAll(".cal-day"))
      d.tabIndex = -1;
    b.tabIndex = 0;
    b.focus();
  }

  // Shows the times of date (focus: move the focus to its first time).
  show(date, focus) {
    this.day = date;
    for (const d of this.container.querySelectorAll(".cal-day")) {
      const on = d.dataset.date === date;
      d.setAttribute("aria-pressed", String(on));
      d.tabIndex = on ? 0 : -1;
    }
    let panel = null;
    for (const p of this.container.querySelectorAll(".day")) {
      p.hidden = p.dataset.date !== date;
      if (!p.hidden)
        panel = p;
    }
    if (focus && panel)
      panel.querySelector(".slot")?.focus();
  }

  // Brings the day holding the time that starts at `start` into view (for
  // callers that know a start: tests, links); whether it is there.
  reveal(start) {
    const b = this.container.querySelector(
      `.slot[data-start="${CSS.escape(start)}"]`);
    if (!b)
      return false;
    this.show(b.closest(".day").dataset.date, false);
    return true;
  }

  pick(button, slot) {
    for (const b of this.container.querySelectorAll(".slot[aria-pressed=true]"))
      b.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-pressed", "true");
    this.selected = slot;
    this.onPick(slot);
  }

  clear() {
    for (const b of this.container.querySelectorAll(".slot[aria-pressed=true]"))
      b.setAttribute("aria-pressed", "false");
    this.selected = null;
  }
}
