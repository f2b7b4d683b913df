// web/book.js — the booking page (/): choose an event type, pick a time,
// give a name and email, book. Shared pieces are in common.js.
import {
  api, apiAll, el, errorText, fillZoneSelect, firstData, formatRange, notice,
  sentence, SlotPicker, TAKEN_TEXT,
} from "./common.js";

const $ = (id) => document.getElementById(id);
const form = $("book-form");
const picker = new SlotPicker($("slots"), $("slots-status"), picked);
// What the daemon inlined (event types, host card, first slots): used
// once, before asking the API (docs/booking-page.md "First slots").
const first = firstData();
if (first)
  picker.inline = first.slots;
let types = [];
let type = null;
let tz = fillZoneSelect($("tz"));
const scope = (() => {
  const m = /^\/([a-z0-9-]+)(?:\/([a-z0-9-]+))?\/?$/.exec(location.pathname);
  return m ? { host: m[1], type: m[2] || null } : {};
})();

function minutes(n) {
  return n < 60 || n % 60 ? n + " min" : n / 60 + (n === 60 ? " hour" : " hours");
}

function price(p) {
  if (!p)
    return "Free";
  const f = new Intl.NumberFormat(undefined, { style: "currency",
                                               currency: p.currency });
  const digits = f.resolvedOptions().maximumFractionDigits;
  return f.format(p.amount / 10 ** digits);
}

function place(loc) {
  if (!loc)
    return null;
  if (loc.kind === "video")
    return "Video call";
  if (loc.kind === "phone")
    return "Phone call";
  return loc.value ? "In person: " + loc.value : "In person";
}

function typeChoice(et) {
  const id = "type-" + et.slug;
  const meta = [minutes(et.duration_minutes), price(et.price), place(et.location)]
    .filter(Boolean).join(" · ");
  return el("div", { class: "choice" },
    el("input", { type: "radio", name: "event_type", id, value: et.slug,
                  "aria-describedby": id + "-meta",
                  onchange: () => choose(et) }),
    el("label", { for: id },
      el("span", { class: "choice-title" }, et.title),
      el("span", { class: "choice-meta", id: id + "-meta" }, meta),
      et.description ? el("span", { class: "choice-desc" }, et.description)
                     : null));
}

async function loadTypes() {
  // Every page: past 100 event types the page inlines none, and a host's
  // types may be on any page of the list.
  const r = first && first.event_types
    ? { ok: true, items: first.event_types }
    : await apiAll("/api/v1/event-types");
  if (!r.ok) {
    notice($("types-status"), errorText(r), "error");
    return;
  }
  types = r.items;
  // /{host} shows that host's event types, /{host}/{event-type} one of
  // them (the daemon answers 404 for anything else).
  if (scope.host)
    types = types.filter((t) => t.host === scope.host);
  if (!types.length) {
    notice($("types-status"), "Nothing can be booked at the moment.");
    return;
  }
  notice($("types-status"), "");
  const set = $("types");
  set.append(...types.map(typeChoice));
  set.hidden = false;
  const wanted = scope.type || new URLSearchParams(location.search).get("event");
  const pre = types.find((t) => t.slug === wanted) ||
              (types.length === 1 ? types[0] : null);
  if (pre) {
    $("type-" + pre.slug).checked = true;
    choose(pre);
  }
}

// The details of the chosen event type, as a list of facts.
function showFacts(et) {
  const facts = [["Duration", minutes(et.duration_minutes)],
                 ["Price", price(et.price)], ["Where", place(et.location)]];
  $("type-facts").replaceChildren(...facts.filter((f) => f[1]).flatMap(
    ([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  $("type-desc").textContent = et.description || "";
  $("type-desc").hidden = !et.description;
}

// The host card (GET /api/v1/hosts/{slug}/profile), fetched alongside the
// slots. A missing card leaves the page as it is.
let cardFor = null;
async function showHost(slug) {
  if (!slug || cardFor === slug)
    return;
  cardFor = slug;
  $("host-card").hidden = true;
  const r = first && first.profile && first.profile.slug === slug
    ? { ok: true, data: first.profile }
    : await api("GET", "/api/v1/hosts/" + encodeURIComponent(slug) +
                       "/profile");
  if (!r.ok || cardFor !== slug)
    return;
  const h = r.data;
  $("host-name").textContent = h.name;
  $("host-bio").textContent = h.bio || "";
  $("host-bio").hidden = !h.bio;
  const img = $("host-photo");
  // Only an https URL (the API refuses anything else); a broken one hides.
  if (h.photo_url && h.photo_url.startsWith("https://")) {
    img.onerror = () => { img.hidden = true; };
    img.src = h.photo_url;
    img.hidden = false;
  } else {
    img.removeAttribute("src");
    img.hidden = true;
  }
  $("host-card").hidden = false;
}

// The event type's custom questions as form fields. Each carries
// data-field "answers.<id>", the field a 422 names, so its error shows
// beside it.
function questionField(q) {
  const id = "q-" + q.id;
  const common = { id, "data-field": "answers." + q.id,
                   "aria-describedby": id + "-error",
                   required: q.required || null };
  const optional = q.required ? null
                              : el("span", { class: "hint" }, " (optional)");
  const error = el("p", { id: id + "-error", class: "field-error", hidden: true });
  if (q.type === "checkbox")
    return el("div", { class: "field check" },
      el("input", { ...common, type: "checkbox" }),
      el("label", { for: id }, q.label, optional), error);
  let input;
  if (q.type === "select")
    input = el("select", common,
      el("option", { value: "" }, "Choose…"),
      ...q.options.map((o) => el("option", { value: o }, o)));
  else if (q.type === "phone")
    input = el("input", { ...common, type: "tel", autocomplete: "tel",
                          maxlength: 40 });
  else
    input = el("textarea", { ...common, rows: 2, maxlength: 1000 });
  return el("div", { class: "field" },
    el("label", { for: id }, q.label, optional), input, error);
}

function showQuestions(et) {
  $("questions").replaceChildren(...(et.questions || []).map(questionField));
}

function answers() {
  const out = {};
  for (const q of (type && type.questions) || []) {
    const input = $("q-" + q.id);
    if (q.type === "checkbox")
      out[q.id] = input.checked;
    else if (input.value.trim())
      out[q.id] = input.value.trim();
  }
  return out;
}

// The event types a package of sessions covers (GET /api/v1/packages):
// their form offers "Use a package credit" with the emailed code.
let covered = new Set();

async function loadPackages() {
  if (first && Array.isArray(first.credit_event_types)) { /* inlined */
    covered = new Set(first.credit_event_types);
    if (type)
      showCredit(type);
    return;
  }
  // Every page: past 100 packages the block leaves the list out, and an
  // event type covered only by a later page offers the credit as well.
  const r = await apiAll("/api/v1/packages");
  covered = new Set(r.ok ? r.items.flatMap((p) => p.event_types || []) : []);
  if (type)
    showCredit(type);
}

function showCredit(et) {
  $("credit").hidden = !covered.has(et.slug);
  if ($("credit").hidden) {
    $("use-credit").checked = false;
    $("credit-code-field").hidden = true;
  }
}

$("use-credit").addEventListener("change", () => {
  $("credit-code-field").hidden = !$("use-credit").checked;
  $("credit-code").required = $("use-credit").checked;
  if ($("use-credit").checked)
    $("credit-code").focus();
});

function choose(et) {
  type = et;
  showQuestions(et);
  showCredit(et);
  $("slot-heading").textContent = "Pick a time for " + et.title;
  showFacts(et);
  showHost(et.host);
  $("step-slot").hidden = false;
  $("step-details").hidden = true;
  notice($("slot-notice"), "");
  picker.clear();
  picker.load(et.slug, tz);
}

function showPicked() {
  const s = picker.selected;
  $("picked").textContent = type.title + ", " +
    formatRange(s.start, s.end, tz) + " (" + tz.replace(/_/g, " ") + ")";
  $("book").textContent = "Book this time";
}

function picked() {
  notice($("slot-notice"), "");
  notice($("form-error"), "");
  showPicked();
  const step = $("step-details");
  const first = step.hidden;
  step.hidden = false;
  if (first) {
    step.scrollIntoView({ block: "start" });
    $("details-heading").focus({ preventScroll: true });
  }
}

$("tz").addEventListener("change", async () => {
  tz = $("tz").value;
  if (!type)
    return;
  await picker.load(null, tz);
  if (picker.selected)
    showPicked();
  else
    $("step-details").hidden = true;
});

function clearErrors() {
  notice($("form-error"), "");
  for (const input of form.querySelectorAll("[data-field]")) {
    input.removeAttribute("aria-invalid");
    const p = $(input.id + "-error");
    p.hidden = true;
    p.textContent = "";
  }
}

function fieldError(field, message) {
  const input = form.querySelector(`[data-field="${CSS.escape(field)}"]`);
  if (!input)
    return false;
  const p = $(input.id + "-error");
  p.textContent = sentence(message);
  p.hidden = false;
  input.setAttribute("aria-invalid", "true");
  input.focus();
  return true;
}

// The slot went away: say so, forget it and show what is still free.
async function slotGone(text) {
  $("step-details").hidden = true;
  picker.clear();
  notice($("slot-notice"), text, "error");
  $("step-slot").scrollIntoView({ block: "start" });
  await picker.load();
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const slot = picker.selected;
  if (!slot || !type)
    return;
  clearErrors();
  const button = $("book");
  button.disabled = true;
  button.textContent = "Booking…";
  const body = {
    event_type: type.slug,
    start: slot.start,
    attendee: { name: $("name").value.trim(), email: $("email").value.trim(),
                timezone: tz },
  };
  const notes = $("notes").value.trim();
  if (notes)
    body.notes = notes;
  if (type.questions && type.questions.length)
    body.answers = answers();
  if (!$("credit").hidden && $("use-credit").checked) {
    body.use_credit = true;
    body.credit_code = $("credit-code").value.trim();
  }
  const r = await api("POST", "/api/v1/bookings", body);
  button.disabled = false;
  button.textContent = "Book this time";
  if (r.ok) {
    // A priced booking is held until it is paid: off to Stripe's page,
    // which sends the visitor back to the manage page. Without a page
    // (Stripe was slow), the manage page offers "retry payment".
    if (r.data.status === "pending") {
      const pay = payHref(r.data.checkout_url);
      // Stripe's page refuses frames: when embedded it opens on top.
      if (pay && embedded)
        window.open(pay, "_top");
      else
        location.assign(pay || manageHref(r.data));
      return;
    }
    confirmed(r.data);
    return;
  }
  const field = r.error.details.field;
  if (r.status === 409 && r.error.code === "slot_unavailable")
    await slotGone(TAKEN_TEXT);
  else if (field === "start")
    await slotGone("That time can no longer be booked (" +
                   r.error.message + "). Please pick another one.");
  else if (!(r.status === 422 && field && fieldError(field, r.error.message)))
    notice($("form-error"), errorText(r), "error");
});

// Stripe's hosted page, if it is an http(s) URL.
function payHref(url) {
  try {
    const u = new URL(url);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch {
    return null;
  }
}

// Same-origin path of the manage link, so it works however the daemon's
// base URL is configured.
function manageHref(b) {
  try {
    const u = new URL(b.manage_url, location.href);
    if (u.origin === location.origin)
      return u.pathname + u.search;
  } catch {
    /* fall through */
  }
  return "/manage/" + encodeURIComponent(b.uid) + "?token=" +
         encodeURIComponent(b.manage_token);
}

// The booking's calendar file (GET /api/v1/bookings/{uid}/ics), which the
// manage token opens.
function icsHref(b) {
  return "/api/v1/bookings/" + encodeURIComponent(b.uid) + "/ics?token=" +
         encodeURIComponent(b.manage_token);
}

// Google Calendar's "create event" link: times in UTC, basic format.
function gcalHref(b) {
  const utc = (s) => new Date(s).toISOString().replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
  const q = new URLSearchParams({
    action: "TEMPLATE",
    text: type.title,
    dates: utc(b.start) + "/" + utc(b.end),
    details: "Reschedule or cancel: " +
             new URL(manageHref(b), location.href).href,
  });
  if (b.location || b.meeting_url)
    q.set("location", b.location || b.meeting_url);
  return "https://calendar.google.com/calendar/render?" + q.toString();
}

// Outlook on the web's "new event" link: ISO times in UTC.
function outlookHref(b) {
  const q = new URLSearchParams({
    path: "/calendar/action/compose",
    rru: "addevent",
    subject: type.title,
    startdt: new Date(b.start).toISOString(),
    enddt: new Date(b.end).toISOString(),
    body: "Reschedule or cancel: " +
          new URL(manageHref(b), location.href).href,
  });
  if (b.location || b.meeting_url)
    q.set("location", b.location || b.meeting_url);
  return "https://outlook.live.com/calendar/0/deeplink/compose?" +
         q.toString();
}

function confirmed(b) {
  for (const id of ["step-type", "step-slot", "step-details"])
    $(id).hidden = true;
  $("done-heading").textContent = b.status === "pending"
    ? "Your time is reserved" : "You are booked";
  $("done-what").textContent = type.title;
  $("done-when").textContent = formatRange(b.start, b.end, tz) + " (" +
                               tz.replace(/_/g, " ") + ")";
  $("done-who").textContent = b.attendee.name + " <" + b.attendee.email + ">";
  $("manage-link").href = manageHref(b);
  $("ics-link").href = icsHref(b);
  $("gcal-link").href = gcalHref(b);
  $("outlook-link").href = outlookHref(b);
  $("done").hidden = false;
  document.title = "Booked: " + type.title;
  $("done").scrollIntoView({ block: "start" });
  $("done-heading").focus({ preventScroll: true });
}

// In a frame (embed.js on another site): tell the parent how tall the
// page is whenever that changes, so the frame never scrolls. Only the
// height goes out.
const embedded = window.parent !== window;
if (embedded) {
  document.documentElement.classList.add("embedded");
  let last = 0;
  const post = () => {
    const h = Math.ceil(document.documentElement.scrollHeight);
    if (h !== last) {
      last = h;
      window.parent.postMessage({ type: "bookingd:height", height: h }, "*");
    }
  };
  new ResizeObserver(post).observe(document.body);
  post();
}

loadTypes();
loadPackages();
// Back from Stripe's page after buying a package: the URL is no proof of
// payment, so this only says what comes next.
{
  const q = new URLSearchParams(location.search);
  if (q.get("package") && q.get("checkout") === "success")
    notice($("package-status"), "Thank you. Once Stripe confirms the " +
           "payment, your credit code comes by email.");
  else if (q.get("package") && q.get("checkout") === "cancel")
    notice($("package-status"), "You left the payment page: the package " +
           "was not bought.");
}
