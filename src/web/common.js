// web/common.js — what the booking page and the manage page share: calls to
// the public API, errors in words, time zones, dates, and the slot picker.
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

// "09:30" or "9:30 AM" (the visitor's locale) in zone tz.
export function formatTime(iso, tz) {
  return new Intl.DateTimeFormat(undefined, {
    hour: "numeric", minute: "2-digit", timeZone: tz,
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

// The next two weeks' slots of one event type, grouped by day in the chosen
// zone, as <details> per day holding a grid of time buttons.
//   container  where the days go
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
  }

  // Loads (or reloads) the slots; resolves to whether it worked. A chosen
  // time that is still free stays chosen (this.selected, in the new zone).
  async load(slug, tz) {
    if (slug)
      this.slug = slug;
    if (tz)
      this.tz = tz;
    const seq = ++this.seq;
    const keep = this.selected && Date.parse(this.selected.start);
    this.container.setAttribute("aria-busy", "true");
    notice(this.status, "Loading free times…");
    const q = new URLSearchParams({
      from: dateIn(this.tz, 0), to: dateIn(this.tz, 13), timezone: this.tz,
      ...this.extra,
    });
    const r = await api("GET", "/api/v1/event-types/" +
                        encodeURIComponent(this.slug) + "/slots?" + q);
    if (seq !== this.seq)
      return false; /* a newer load has started */
    this.container.removeAttribute("aria-busy");
    if (!r.ok) {
      this.container.replaceChildren();
      this.selected = null;
      const zone = r.error.details.field === "timezone";
      notice(this.status, zone ? "The server does not know the time zone " +
             this.tz + ". Please choose another one." : errorText(r), "error");
      return false;
    }
    this.render(r.data.slots || {}, keep);
    return true;
  }

  render(days, keep) {
    const dates = Object.keys(days).sort();
    this.selected = null;
    this.container.replaceChildren();
    if (!dates.length) {
      notice(this.status, "There are no free times in the next two weeks.");
      return;
    }
    notice(this.status, "");
    dates.forEach((date, i) => {
      const grid = el("div", { class: "slot-grid" });
      let open = i === 0;
      for (const s of days[date]) {
        const b = el("button", {
          type: "button", class: "slot", "aria-pressed": "false",
          dataset: { start: s.start },
          onclick: () => this.pick(b, { ...s, date }),
        }, formatTime(s.start, this.tz));
        grid.append(b);
        if (keep && Date.parse(s.start) === keep) {
          b.setAttribute("aria-pressed", "true");
          this.selected = { ...s, date };
          open = true;
        }
      }
      const n = days[date].length;
      const summary = el("summary", {},
        el("span", { class: "day-name" }, formatDay(date)),
        el("span", { class: "day-count" }, n + (n === 1 ? " time" : " times")));
      this.container.append(el("details", {
        class: "day", open, dataset: { date },
      }, summary, grid));
    });
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
