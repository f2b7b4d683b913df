// tests/e2e/admin.mjs — the admin pages (/admin/...) driven like the
// business owner would, in Debian's Chromium, against the real daemon on a
// fresh SQLite database.
//
//   node admin.mjs PATH/TO/bookingd      (or BOOKINGD_BIN=... node admin.mjs)
//
// Scenarios: an admin page without a session redirects to the sign-in page
// (and shows no data); a wrong key is refused; signing in; a booking made
// through the API is in Today with its badges and filters; opening it, its
// history; cancelling it with a reason and seeing the status change (and
// the ledger agree); a write without the CSRF token is refused from the
// page's own origin; creating an event type; the week editor; a CalDAV
// connection (Debian's Radicale) synced from the Integrations panel; a
// booking flagged when its event is deleted there ("ask"), its badge and
// the detail's keep-and-restore answer; the
// deliveries and jobs page, and the panels without an API saying "not
// configured"; axe-core on every page; a phone-
// sized window without sideways scrolling; signing out. Screenshots go to
// tests/e2e/screenshots/ (admin-*.png). Bounded like booking.mjs.
import { chromium } from "playwright-core";
import { execFile, spawn } from "node:child_process";
import crypto from "node:crypto";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, spawnDaemon, waitHealthy, stopDaemon, watchPage, launchChromium, axeRun } from "./harness.mjs";

const BIN = process.argv[2] || process.env.BOOKINGD_BIN;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TOTAL_MS = 120_000;
const STEP_MS = 15_000;
const ADMIN_KEY = "e2e-admin-key-fedcba9876543210";
const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(HERE, "screenshots");

if (!BIN) {
  console.error("usage: node admin.mjs PATH/TO/bookingd (or BOOKINGD_BIN)");
  process.exit(2);
}

const started = Date.now();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bookingd-e2e-admin-"));
let daemon = null;
let daemonLog = "";
let radicale = null;
let radicaleUrl = "";
const DAV_USER = "coach";
const DAV_PASSWORD = "pw-" + crypto.randomBytes(8).toString("hex");
let browser = null;
let base = "";

function log(msg) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
}

const DEMO = {
  hosts: [{
    slug: "coach", name: "Casey Coach", email: "casey@example.com",
    timezone: "Europe/Berlin",
    schedule: {
      timezone: "Europe/Berlin",
      weekly: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .map((day) => ({ day, start: "00:00", end: "24:00" })),
    },
  }],
  event_types: [{
    slug: "intro", title: "Intro call", host: "coach",
    duration_minutes: 30, minimum_notice_minutes: 120,
  }],
};

function run(args, env) {
  return new Promise((resolve, reject) => {
    execFile(BIN, args, { env, timeout: STEP_MS }, (err, stdout, stderr) => {
      if (err)
        reject(new Error(`bookingd ${args.join(" ")} failed: ${err.message}\n` +
                         stdout + stderr));
      else
        resolve(stdout);
    });
  });
}

// A CalDAV server for the Integrations panel: Debian's Radicale, as the
// integration tests run it, with one calendar.
async function startRadicale() {
  const port = await freePort();
  const dir = path.join(tmp, "radicale");
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "users"), `${DAV_USER}:${DAV_PASSWORD}\n`);
  fs.writeFileSync(path.join(dir, "config"), [
    "[server]", `hosts = 127.0.0.1:${port}`,
    "[auth]", "type = htpasswd",
    `htpasswd_filename = ${path.join(dir, "users")}`,
    "htpasswd_encryption = plain",
    "[rights]", "type = owner_only",
    "[storage]", `filesystem_folder = ${path.join(dir, "collections")}`,
    /* Radicale ages its sync tokens and history by file times: under
     * libfaketime (make check-dates) the clock moves, file times do not,
     * and a 30-day age would drop them at once. */
    "max_sync_token_age = 315360000",
    "[logging]", "level = warning", ""].join("\n"));
  radicale = spawn("/usr/bin/python3", ["-m", "radicale", "--config",
                                        path.join(dir, "config")],
                   { stdio: "ignore" });
  radicaleUrl = `http://127.0.0.1:${port}/`;
  const auth = "Basic " + Buffer.from(`${DAV_USER}:${DAV_PASSWORD}`)
    .toString("base64");
  const until = Date.now() + STEP_MS;
  for (;;) {
    try {
      const r = await fetch(radicaleUrl + DAV_USER + "/", {
        method: "PROPFIND", headers: { Authorization: auth, Depth: "0" },
        signal: AbortSignal.timeout(1000),
      });
      if (r.status === 207)
        break;
    } catch {
      /* not listening yet */
    }
    if (radicale.exitCode !== null || Date.now() > until)
      throw new Error("radicale did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  const mk = await fetch(radicaleUrl + DAV_USER + "/work/", {
    method: "MKCALENDAR", headers: { Authorization: auth },
  });
  assert.equal(mk.status, 201);
}

async function startDaemon() {
  const port = await freePort();
  const env = {
    BOOKINGD_SECRET_KEY: crypto.randomBytes(32).toString("base64"),
    BOOKINGD_CALENDAR_ALLOW_PRIVATE: "1",
    ...process.env,
    BOOKINGD_DATABASE: "sqlite:" + path.join(tmp, "bookingd.db"),
    BOOKINGD_LISTEN: "127.0.0.1:" + port,
    BOOKINGD_ADMIN_KEY: ADMIN_KEY,
    BOOKINGD_LOG_LEVEL: "warn",
  };
  const demo = path.join(tmp, "demo.json");
  fs.writeFileSync(demo, JSON.stringify(DEMO, null, 2));
  await run(["apply", demo], env);
  base = "http://127.0.0.1:" + port;
  daemon = spawnDaemon(BIN, env, (text) => { daemonLog = text; });
  await waitHealthy(daemon, base, STEP_MS);
  log(`daemon up on ${base}`);
}

async function apiCall(method, p, body, admin) {
  const r = await fetch(base + p, {
    method,
    headers: { ...(admin ? { Authorization: "Bearer " + ADMIN_KEY } : {}),
               ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(STEP_MS),
  });
  return { status: r.status, json: r.status === 204 ? null : await r.json() };
}

// A booking made through the public API, as a client's own site would.
async function bookThroughApi(name, email) {
  const today = new Date().toISOString().slice(0, 10);
  const slots = await apiCall("GET", "/api/v1/event-types/intro/slots?from=" +
                              today + "&timezone=UTC");
  assert.equal(slots.status, 200, JSON.stringify(slots.json));
  const start = Object.values(slots.json.slots).flat()[0].start;
  const r = await apiCall("POST", "/api/v1/bookings", {
    event_type: "intro", start,
    attendee: { name, email, timezone: "Europe/London" },
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json;
}

// "YYYY-MM-DD" plus n days: calendar arithmetic, no zone.
function addDays(date, n) {
  const d = new Date(date + "T12:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

// Today in Berlin (the browser's zone here) plus n calendar days.
function berlinDate(n) {
  return addDays(new Intl.DateTimeFormat("en-CA", {
    timeZone: "Europe/Berlin", year: "numeric", month: "2-digit",
    day: "2-digit" }).format(new Date()), n);
}

// A date as the admin page names a day (formatDay), in the page's locale.
const dayLabel = (page, date) => page.evaluate((d) =>
  new Intl.DateTimeFormat(undefined, {
    weekday: "long", day: "numeric", month: "short", timeZone: "UTC",
  }).format(new Date(d + "T12:00:00Z")), date);

const problems = [];

async function newPage(name, options) {
  const ctx = await browser.newContext({
    timezoneId: "Europe/Berlin", locale: "en-GB",
    viewport: { width: 1200, height: 900 }, ...options,
  });
  const page = await ctx.newPage();
  return watchPage(page, name, problems, STEP_MS);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, "admin-" + name + ".png"),
                          fullPage: true, timeout: STEP_MS });
}

async function signIn(page) {
  await page.goto(base + "/admin");
  /* No session: the sign-in page, and nothing of the ledger. */
  await page.waitForURL(base + "/admin/login");
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.getByLabel("Admin key").fill("not-the-key");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "not the admin key" })
    .waitFor();
  await shot(page, "01-sign-in");
  await page.getByLabel("Admin key").fill(ADMIN_KEY);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(base + "/admin");
  await page.getByRole("heading", { name: "Today and upcoming" }).waitFor();
  const cookies = await page.context().cookies();
  const c = cookies.find((k) => k.name === "bookingd_admin");
  assert.ok(c, "the session cookie is set");
  assert.equal(c.httpOnly, true);
  assert.equal(c.sameSite, "Strict");
  assert.equal(c.path, "/");
  assert.ok(c.expires > Date.now() / 1000, "the cookie expires");
  log("signed in");
}

async function adminFlow() {
  const page = await newPage("admin");
  /* The HTML of an admin page without a session carries no data. */
  const bare = await fetch(base + "/admin/bookings", { redirect: "manual" });
  assert.equal(bare.status, 303);
  assert.equal(bare.headers.get("location"), "/admin/login");
  assert.equal(await bare.text(), "");

  const b = await bookThroughApi("Grace Hopper", "grace@example.com");
  await signIn(page);

  /* Today and upcoming: the booking with its badges. */
  const row = page.locator(".row", { hasText: "Grace Hopper" });
  await row.waitFor();
  await row.locator(".badge", { hasText: "confirmed" }).waitFor();
  await row.locator(".badge", { hasText: "web" }).waitFor();
  await shot(page, "02-today");

  /* Filters: cancelled ones only hides it; the client search finds it. */
  await page.getByLabel("Status").selectOption("cancelled");
  await page.getByRole("button", { name: "Show", exact: true }).click();
  await page.getByRole("status").filter({ hasText: "No bookings match" })
    .waitFor();
  assert.equal(await row.count(), 0);
  await page.getByLabel("Status").selectOption("");
  await page.getByLabel("Client email or id").fill("grace@example.com");
  await page.getByRole("button", { name: "Show", exact: true }).click();
  await page.getByRole("status").filter({ hasText: "1 booking shown" })
    .waitFor();
  assert.ok(page.url().includes("client=grace%40example.com"), page.url());

  /* The booking: details, history, cancel with a reason. */
  await row.getByRole("link", { name: "Intro call" }).click();
  await page.waitForURL(base + "/admin/bookings/" + b.uid);
  await page.getByRole("heading", { name: "Intro call with Grace Hopper" })
    .waitFor();
  await page.locator(".timeline li").first().waitFor();
  assert.match(await page.locator(".timeline").textContent(), /create/i);
  await shot(page, "03-booking");
  await page.getByRole("button", { name: "Cancel…" }).click();
  const reason = page.getByLabel("Reason (included in the client's email)");
  assert.equal(await reason.evaluate((e) => e === document.activeElement),
               true, "the reason field gets the focus");
  await reason.fill("Coach is ill, sorry");
  await page.getByRole("button", { name: "Cancel booking" }).click();
  await page.getByRole("status").filter({ hasText: "Booking cancelled." })
    .waitFor();
  await page.locator("#booking-status .badge", { hasText: "cancelled" })
    .waitFor();
  await page.locator("dd", { hasText: "Coach is ill, sorry" }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Cancel…" }).count(), 0);
  await shot(page, "04-cancelled");
  const after = await apiCall("GET", "/api/v1/bookings/" + b.uid, null, true);
  assert.equal(after.json.status, "cancelled");
  assert.equal(after.json.cancellation_reason, "Coach is ill, sorry");
  const hist = await apiCall("GET", "/api/v1/bookings/" + b.uid + "/history",
                             null, true);
  assert.equal(hist.json.data.at(-1).actor, "admin");
  log("cancelled from the admin page");

  /* A write with the cookie but without the CSRF token, from the page's
   * own origin, is refused and changes nothing. */
  const refused = await page.evaluate(async () => {
    const r = await fetch("/api/v1/event-types", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ slug: "sneaky", title: "Sneaky", host: "coach",
                             duration_minutes: 15 }),
    });
    return r.status;
  });
  assert.equal(refused, 403);
  const sneaky = await apiCall("GET", "/api/v1/event-types/sneaky", null, true);
  assert.equal(sneaky.status, 404);

  /* Reschedule from the admin page with the month calendar. */
  const ada = await bookThroughApi("Ada Lovelace", "ada@example.com");
  await page.goto(base + "/admin/bookings/" + ada.uid);
  await page.getByRole("heading", { name: "Intro call with Ada Lovelace" })
    .waitFor();
  await page.getByRole("button", { name: "Reschedule…" }).click();
  await page.locator("#reschedule-box .slot").first()
    .waitFor({ state: "attached" });
  const freeDays = page.locator('#reschedule-box .cal-day[data-free="1"]');
  if (await freeDays.count() > 1)
    await freeDays.nth(1).click();
  const newSlot = page.locator("#reschedule-box .day:not([hidden]) .slot")
    .last();
  const newStart = await newSlot.getAttribute("data-start");
  await newSlot.click();
  await page.getByRole("button", { name: "Move booking" }).click();
  await page.getByRole("status").filter({ hasText: "Booking moved to" })
    .waitFor();
  const moved = await apiCall("GET", "/api/v1/bookings/" + ada.uid, null,
                              true);
  assert.equal(Date.parse(moved.json.start), Date.parse(newStart));
  assert.equal(Date.parse(moved.json.rescheduled_from), Date.parse(ada.start));
  log("rescheduled from the admin page");

  /* Event types: create one with the form. */
  await page.getByRole("link", { name: "Event types" }).click();
  await page.getByRole("heading", { name: "Event types" }).waitFor();
  await page.getByRole("link", { name: "New event type" }).click();
  await page.getByLabel("Title").fill("Follow-up");
  await page.getByLabel("Slug (in the booking URL)").fill("follow-up");
  await page.getByLabel("Duration (minutes)").fill("45");
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("status").filter({ hasText: "Event type created." })
    .waitFor();
  const et = await apiCall("GET", "/api/v1/event-types/follow-up", null, true);
  assert.equal(et.status, 200);
  assert.equal(et.json.duration_minutes, 45);
  assert.equal(et.json.host, "coach");

  /* Hours: the week editor and a date override, with the preview. */
  await page.getByRole("link", { name: "Hours" }).click();
  await page.getByRole("link", { name: "Casey Coach" }).click();
  await page.getByRole("heading", { name: "Hours of Casey Coach" }).waitFor();
  const monday = page.getByRole("list", { name: "Monday hours" });
  assert.equal(await monday.getByLabel("Monday from").inputValue(), "00:00");
  assert.equal(await monday.getByLabel("Monday until").inputValue(), "24:00");
  await page.locator(".preview-day li").first().waitFor();
  /* A wrong time is refused, named, and nothing is saved. */
  await monday.getByLabel("Monday until").fill("25:00");
  await page.getByRole("button", { name: "Save hours" }).click();
  await page.getByRole("alert").filter({ hasText: /./ }).first().waitFor();
  assert.equal(await monday.getByLabel("Monday until")
    .getAttribute("aria-invalid"), "true");
  let sched = await apiCall("GET", "/api/v1/hosts/coach/schedule", null, true);
  assert.ok(sched.json.weekly.some((w) => w.day === "mon" &&
                                         w.end === "24:00"));
  await monday.getByLabel("Monday until").fill("24:00");
  /* Tomorrow (in Berlin, the browser's zone here) off: the calendar day
   * after today there, not now + 24 hours (a DST day lasts 23 or 25). */
  const tomorrow = berlinDate(1);
  await page.getByRole("button", { name: "Add a date" }).click();
  const ov = page.getByRole("list", { name: "Date overrides" });
  await ov.getByLabel("Date").fill(tomorrow);
  await page.getByRole("button", { name: "Save hours" }).click();
  await page.getByRole("status").filter({ hasText: "Hours saved." }).waitFor();
  sched = await apiCall("GET", "/api/v1/hosts/coach/schedule", null, true);
  assert.deepEqual(sched.json.overrides,
                   [{ date: tomorrow, unavailable: true }]);
  /* The preview: tomorrow without times, among seven days in a row from
   * today (today read again: midnight may have passed meanwhile). */
  await page.locator(`.preview-day[aria-label="${await dayLabel(page, tomorrow)}"]`)
    .getByText("No times").waitFor();
  const labels = await page.locator(".preview-day").evaluateAll(
    (ds) => ds.map((d) => d.getAttribute("aria-label")));
  let day0 = berlinDate(0);
  if (labels[0] !== await dayLabel(page, day0))
    day0 = addDays(day0, -1);
  const want = [];
  for (let i = 0; i < 7; i++)
    want.push(await dayLabel(page, addDays(day0, i)));
  assert.deepEqual(labels, want, "the preview's seven days in a row");
  await shot(page, "05-hours");

  /* Deliveries and jobs; the panels without an API. */
  await page.getByRole("link", { name: "Deliveries and jobs" }).click();
  await page.getByRole("heading", { name: "Jobs", exact: true }).waitFor();
  await shot(page, "06-deliveries");

  /* Integrations: a CalDAV connection, its status, "sync now" and the
   * summary; Cal.com and the like have no status to show. */
  const conn = await apiCall("POST", "/api/v1/hosts/coach/calendars", {
    kind: "caldav", url: radicaleUrl, username: DAV_USER,
    password: DAV_PASSWORD }, true);
  assert.equal(conn.status, 201, JSON.stringify(conn.json));
  await page.getByRole("link", { name: "Integrations" }).click();
  const connRow = page.locator("tr", { hasText: radicaleUrl });
  await connRow.waitFor();
  await connRow.locator(".badge", { hasText: "active" }).waitFor();
  await connRow.getByRole("button", { name: "Sync now: " + radicaleUrl })
    .click();
  await page.locator("#sync-result", { hasText: /^Synced: \d+ events, \d+ created, \d+ updated, \d+ skipped, 0 errors\.$/ })
    .waitFor();
  await page.getByText("Not configured.").first().waitFor();
  await shot(page, "06-integrations");

  /* "Ask": an event deleted in the calendar flags its booking; the badge in
   * the list (with the "Flagged only" filter) and the detail's answer. */
  const ask = await apiCall("PATCH", "/api/v1/calendars/" + conn.json.id,
                            { on_calendar_delete: "ask" }, true);
  assert.equal(ask.status, 200, JSON.stringify(ask.json));
  const fb = await bookThroughApi("Flo Flag", "flo@example.com");
  let ev = null;
  for (const until = Date.now() + STEP_MS; !ev && Date.now() < until;) {
    const g = await apiCall("GET", "/api/v1/bookings/" + fb.uid, null, true);
    ev = g.json.links.find((l) => l.provider === "caldav");
    if (!ev)
      await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(ev, "the booking's event pushed to Radicale");
  const del = await fetch(ev.external_id, { method: "DELETE", headers: {
    Authorization: "Basic " + Buffer.from(DAV_USER + ":" + DAV_PASSWORD)
      .toString("base64") } });
  assert.ok(del.status === 204 || del.status === 200, String(del.status));
  const sy = await apiCall("POST", "/api/v1/sync",
                           { connection: conn.json.id }, true);
  assert.equal(sy.status, 200, JSON.stringify(sy.json));
  await page.goto(base + "/admin?flagged=true");
  const flaggedRow = page.locator("#bookings li.row");
  await flaggedRow.locator(".badge", { hasText: "deleted in calendar" })
    .waitFor();
  assert.equal(await flaggedRow.count(), 1);
  await page.goto(base + "/admin/bookings/" + fb.uid);
  await page.locator("#booking-status .badge",
                     { hasText: "deleted in calendar" }).waitFor();
  await shot(page, "06-flagged");
  await page.getByRole("button", { name: "Keep it and restore the event" })
    .click();
  await page.getByRole("status")
    .filter({ hasText: "Booking kept; its event is put back." }).waitFor();
  const kept = await apiCall("GET", "/api/v1/bookings/" + fb.uid, null, true);
  assert.equal(kept.json.flag, null);
  assert.equal(kept.json.status, "confirmed");
  await page.getByRole("link", { name: "Metrics" }).click();
  // The summary API exists: its figures, not "not configured".
  await page.getByRole("heading", { name: "Sessions by week" }).waitFor();
  await page.getByRole("cell", { name: "No-show rate" }).waitFor();
  assert.equal(await page.getByText("Not configured.").count(), 0);
  // Counted by the dates of the browser's zone, and said so.
  await page.getByText(/^Totals from \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d \(Europe\/Berlin\)$/)
    .waitFor();
  // The charts (uPlot, served from this origin under the CSP): no
  // payments here, so three (no revenue chart of zeros).
  await page.getByRole("status").filter({ hasText: "Charts drawn." })
    .waitFor();
  assert.equal(await page.locator(".chart canvas").count(), 3);
  assert.equal(await page.locator(".chart[aria-hidden=true]").count(), 3);
  await page.getByRole("link", { name: "Clients" }).click();
  await page.getByRole("link", { name: "Grace Hopper" }).click();
  await page.getByRole("heading", { name: "Grace Hopper" }).waitFor();
  await page.getByLabel("Status", { exact: true }).selectOption("inactive");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("status").filter({ hasText: "Client saved." }).waitFor();
  const cl = await apiCall("GET", "/api/v1/clients/" + after.json.client.id,
                           null, true);
  assert.equal(cl.json.status, "inactive");

  /* A phone-sized window: no sideways scrolling. */
  await page.setViewportSize({ width: 360, height: 740 });
  await page.getByRole("link", { name: "Today" }).click();
  await page.getByRole("heading", { name: "Today and upcoming" }).waitFor();
  await page.locator("#main:not([aria-busy])").waitFor().catch(() => {});
  const over = await page.evaluate(
    () => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(over <= 0, `no sideways scrolling at 360 px (${over}px over)`);
  await shot(page, "07-phone");

  /* Keyboard: on a fresh load the skip link is the first stop, and it
   * moves to the content; in-page navigation focuses the new heading. */
  await page.goto(base + "/admin");
  await page.getByRole("heading", { name: "Today and upcoming" }).waitFor();
  await page.keyboard.press("Tab");
  const first = await page.evaluate(() => document.activeElement.textContent);
  assert.equal(first, "Skip to content");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement.id), "main");
  await page.getByRole("link", { name: "Clients" }).click();
  await page.getByRole("heading", { name: "Clients" }).waitFor();
  await page.waitForFunction(() => document.activeElement.id === "title");

  /* The booking page's month calendar over an event type denser than one
   * slots answer may hold (5,000): the picker asks for the month in parts
   * and shows all of it. */
  const dense = await apiCall("POST", "/api/v1/event-types", {
    slug: "dense", title: "Quick check", host: "coach", duration_minutes: 5,
    slot_interval_minutes: 5, minimum_notice_minutes: 0, horizon_days: 120,
  }, true);
  assert.equal(dense.status, 201, JSON.stringify(dense.json));
  const visitor = await newPage("visitor");
  await visitor.goto(base + "/?event=dense");
  await visitor.locator("#slots:not([aria-busy]) .slot").first()
    .waitFor({ state: "attached" });
  /* A later month (whole, within the horizon) that holds none of the
   * bookings made above: late in a month they fall in the next one, and
   * take times there. */
  const booked = (await apiCall("GET", "/api/v1/bookings?status=confirmed",
                                null, true)).json.data
    .flatMap((x) => [x.start, x.end]).map((t) => new Intl.DateTimeFormat(
      "en-CA", { timeZone: "Europe/Berlin", year: "numeric",
                 month: "2-digit" }).format(new Date(t)));
  const shownMonth = () => visitor.locator(".cal-day").first()
    .getAttribute("data-date").then((d) => d.slice(0, 7));
  let shown = await shownMonth();
  for (let i = 0; i === 0 || booked.includes(shown); i++) {
    assert.ok(i < 2, `a month without bookings after ${shown}`);
    const next = addDays(shown + "-28", 7).slice(0, 7);
    await visitor.getByRole("button", { name: "Next month" }).click();
    await visitor.waitForFunction((m) => {
      const s = document.querySelector("#slots:not([aria-busy])");
      const d = s && s.querySelector(".cal-day");
      return d && d.dataset.date.startsWith(m) && s.querySelector(".slot");
    }, next, { timeout: STEP_MS });
    shown = await shownMonth();
  }
  /* Every day open around the clock, but for the day off set above: as
   * many times as the day has 5 minutes in Berlin (the browser's zone),
   * 288, or 276 and 300 on the days clocks change. */
  const days = await visitor.locator(".cal-day").evaluateAll((bs) =>
    bs.map((b) => {
      const [y, m, d] = b.dataset.date.split("-").map(Number);
      return { date: b.dataset.date, free: b.dataset.free === "1",
               fives: (new Date(y, m - 1, d + 1) - new Date(y, m - 1, d)) / 3e5,
               times: document.querySelectorAll(
                 `.day[data-date="${b.dataset.date}"] .slot`).length };
    }));
  for (const d of days) {
    const off = d.date === tomorrow;
    assert.equal(d.free, !off, `${d.date} marked when open`);
    assert.equal(d.times, off ? 0 : d.fives, `the times of ${d.date}`);
  }
  const marked = days.filter((d) => d.free).length;
  const times = await visitor.locator(".slot").count();
  assert.equal(times, days.reduce((n, d) => n + d.times, 0));
  assert.ok(times > 5000);
  log(`dense month: ${times} times on ${marked} open days, asked in parts`);
  await visitor.context().close();

  /* Every page through axe-core, signed in (and the sign-in page). */
  await axeCheck(await page.context().storageState(), [
    "/admin/login", "/admin", "/admin/bookings/" + b.uid, "/admin/clients",
    "/admin/clients/" + after.json.client.id, "/admin/event-types",
    "/admin/event-types/new", "/admin/event-types/intro", "/admin/hosts",
    "/admin/hosts/coach", "/admin/deliveries", "/admin/integrations",
    "/admin/metrics",
  ]);

  /* Sign out: back to the sign-in page; the old cookie is dead. */
  const old = (await page.context().cookies())
    .find((k) => k.name === "bookingd_admin").value;
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(base + "/admin/login");
  const dead = await fetch(base + "/admin/session",
                           { headers: { Cookie: "bookingd_admin=" + old } });
  assert.equal(dead.status, 401);
  await page.goto(base + "/admin");
  await page.waitForURL(base + "/admin/login");
  log("signed out");
  await page.context().close();
}

// axe-core on each page: no serious or critical violation (WCAG 2 A and
// AA rules). axe is injected as a script, which the pages' CSP forbids, so
// this runs in a context of its own that bypasses CSP (the other contexts
// keep it and report its violations), signed in with the same cookie.
async function axeCheck(state, paths) {
  const ctx = await browser.newContext({
    bypassCSP: true, storageState: state, locale: "en-GB",
    timezoneId: "Europe/Berlin", viewport: { width: 1200, height: 900 },
  });
  const page = await ctx.newPage();
  page.setDefaultTimeout(STEP_MS);
  const found = [];
  let checked = 0;
  for (const p of paths) {
    await page.goto(base + p);
    await page.waitForFunction(() => {
      const v = document.getElementById("view");
      const t = document.getElementById("title");
      return !v || (!v.hasAttribute("aria-busy") && t &&
                    t.textContent !== "Loading…");
    });
    const res = await axeRun(page, p);
    checked += res.passes;
    found.push(...res.found.map((line) => `${p}: ${line}`));
  }
  await ctx.close();
  assert.deepEqual(found, [], "axe: serious or critical violations");
  log(`axe: ${paths.length} pages, ${checked} rule passes, no serious or ` +
      "critical violation");
}

async function cleanup() {
  if (browser)
    await browser.close().catch(() => {});
  browser = null;
  if (radicale && radicale.exitCode === null)
    radicale.kill("SIGTERM");
  const how = await stopDaemon(daemon);
  fs.rmSync(tmp, { recursive: true, force: true });
  return how;
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  await startRadicale();
  await startDaemon();
  browser = await launchChromium(chromium, CHROMIUM, STEP_MS);
  await adminFlow();
  assert.deepEqual(problems, [], "no script errors or CSP violations");
}

const overall = setTimeout(() => {
  console.error(`e2e: FAIL: over ${TOTAL_MS / 1000} s`);
  cleanup().finally(() => process.exit(1));
}, TOTAL_MS);
process.on("exit", () => {
  if (daemon && daemon.exitCode === null && daemon.signalCode === null)
    daemon.kill("SIGKILL");
  if (radicale && radicale.exitCode === null)
    radicale.kill("SIGKILL");
});
for (const sig of ["SIGINT", "SIGTERM"])
  process.on(sig, () => cleanup().finally(() => process.exit(1)));

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error("e2e: FAIL:", e.stack || e);
  if (problems.length)
    console.error("browser problems:\n" + problems.join("\n"));
}
const how = await cleanup();
clearTimeout(overall);
if (how && (how.code !== 0 || how.signal)) {
  failed = true;
  console.error(`e2e: FAIL: bookingd exited with ${how.signal || how.code}`);
}
if (failed || process.env.E2E_VERBOSE)
  console.error("--- bookingd log (tail) ---\n" + daemonLog.slice(-8000));
log(failed ? "FAIL" : "PASS");
process.exit(failed ? 1 : 0);
