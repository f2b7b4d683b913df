// tests/e2e/booking.mjs — the booking page (/) and the manage page
// (/manage/{uid}?token=) driven like a visitor would, in Debian's Chromium,
// against the real daemon on a fresh SQLite database.
//
//   node booking.mjs PATH/TO/bookingd      (or BOOKINGD_BIN=... node booking.mjs)
//
// Scenarios: book, check the ledger through the admin API, cancel from the
// manage page, see the slot offered again; two visitors racing for one slot;
// reschedule (and a reschedule racing another booking); a wrong or missing
// manage token; the booking flow on a phone-sized screen; the package
// credit offered past the first page of packages. Screenshots go to
// tests/e2e/screenshots/. The whole run is bounded (TOTAL_MS) and the daemon
// is stopped on every way out; it must then exit cleanly (sanitizers on).
import { chromium } from "playwright-core";
import { execFile } from "node:child_process";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, spawnDaemon, waitHealthy, stopDaemon, watchPage, launchChromium, axeRun } from "./harness.mjs";

const BIN = process.argv[2] || process.env.BOOKINGD_BIN;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TOTAL_MS = 120_000; /* the whole test */
const STEP_MS = 15_000;   /* any one wait */
const ADMIN_KEY = "e2e-admin-key-0123456789abcdef";
const VISITOR_ZONE = "Asia/Kolkata"; /* +05:30: days differ from the host's */
const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = path.join(HERE, "screenshots");

if (!BIN) {
  console.error("usage: node booking.mjs PATH/TO/bookingd (or BOOKINGD_BIN)");
  process.exit(2);
}

const started = Date.now();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bookingd-e2e-"));
let daemon = null;
let daemonLog = "";
let browser = null;
let base = "";

function log(msg) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
}

// --- the daemon ----------------------------------------------------------

function daemonEnv(port) {
  return {
    ...process.env,
    BOOKINGD_DATABASE: "sqlite:" + path.join(tmp, "bookingd.db"),
    BOOKINGD_LISTEN: "127.0.0.1:" + port,
    BOOKINGD_ADMIN_KEY: ADMIN_KEY,
    BOOKINGD_LOG_LEVEL: "warn",
    /* The test site of embed() may frame the booking page. */
    BOOKINGD_EMBED_ORIGINS: "https://other.example, http://localhost:" +
                            sitePort,
  };
}

// Hosts open every day around the clock, so slots exist whatever the day.
const DEMO = {
  hosts: [{
    slug: "coach", name: "Casey Coach", email: "casey@example.com",
    timezone: "Europe/Berlin",
    /* Served by the test (photoRoute): no request leaves the machine. */
    photo_url: "https://photos.example/casey.png",
    bio: "Coaching runners for ten years.\n<b>Not bold</b>: shown as text.",
    schedule: {
      timezone: "Europe/Berlin",
      weekly: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .map((day) => ({ day, start: "00:00", end: "24:00" })),
    },
  }],
  event_types: [
    {
      slug: "intro", title: "Intro call", host: "coach",
      description: "A first 30-minute chat to see whether we fit.",
      duration_minutes: 30,
      /* The first slot is two hours away: it cannot pass mid-test. */
      minimum_notice_minutes: 120,
      location: { kind: "video", value: "https://meet.example.com/casey" },
    },
    {
      slug: "deep-dive", title: "Deep dive", host: "coach",
      duration_minutes: 60, minimum_notice_minutes: 120,
      questions: [
        { id: "goal", label: "What would you like to work on?", type: "text",
          required: true },
        { id: "level", label: "Your level", type: "select",
          options: ["Beginner", "Advanced"] },
        { id: "terms", label: "I accept the terms", type: "checkbox",
          required: true },
        { id: "phone", label: "Phone", type: "phone" },
      ],
      location: { kind: "in_person", value: "Hauptstr. 1, Berlin" },
    },
  ],
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

// A business's website on another origin (embed()): one page with the
// copy-paste snippet of docs/booking-page.md.
let sitePort = 0;
let site = null;
async function startSite() {
  sitePort = await freePort();
  site = http.createServer((req, res) => {
    const page = "<!doctype html><html lang=en><head><meta charset=utf-8>" +
      "<title>Casey's running club</title></head><body><h1>Our club</h1>" +
      `<script src="${base}/static/embed.js" data-path="/coach/deep-dive" ` +
      "async></script><p id=after>Footer</p></body></html>";
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(page);
  });
  await new Promise((resolve) => site.listen(sitePort, "127.0.0.1", resolve));
}

async function startDaemon() {
  const port = await freePort();
  const env = daemonEnv(port);
  const demo = path.join(tmp, "demo.json");
  fs.writeFileSync(demo, JSON.stringify(DEMO, null, 2));
  await run(["apply", demo], env);
  base = "http://127.0.0.1:" + port;
  daemon = spawnDaemon(BIN, env, (text) => { daemonLog = text; });
  await waitHealthy(daemon, base, STEP_MS);
  log(`daemon up on ${base}`);
}

// Stops the daemon; resolves to its exit (SIGKILL after 10 s).
async function adminApi(method, p, body) {
  const r = await fetch(base + p, {
    method,
    headers: { Authorization: "Bearer " + ADMIN_KEY,
               ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(STEP_MS),
  });
  return { status: r.status, json: await r.json() };
}

async function bookingsOf(email) {
  const r = await adminApi("GET", "/api/v1/bookings?limit=500&client=" +
                           encodeURIComponent(email));
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.data;
}

// --- the browser ---------------------------------------------------------

const problems = [];

// The host's photo: a 1x1 PNG answered by the test for photos.example,
// counting the requests and their Referer (the page sends none).
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlE" +
                        "QVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==", "base64");
const photoRequests = [];
async function photoRoute(ctx) {
  await ctx.route("https://photos.example/**", (route) => {
    photoRequests.push({ url: route.request().url(),
                         referer: route.request().headers().referer || null });
    route.fulfill({ status: 200, contentType: "image/png", body: PNG });
  });
}

async function visitor(name, options) {
  const ctx = await browser.newContext({
    timezoneId: VISITOR_ZONE, locale: "en-GB",
    viewport: { width: 1000, height: 900 }, ...options,
  });
  await photoRoute(ctx);
  const page = await ctx.newPage();
  return watchPage(page, name, problems, STEP_MS);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, name + ".png"),
                          fullPage: true, timeout: STEP_MS });
}

// The zone the page chose first: the browser's own (ICU may spell it the
// old way, Asia/Calcutta).
const pageZone = (page) =>
  page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);

function dateIn(zone, iso) {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
  }).format(new Date(iso));
}

function timeIn(zone, iso) {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, hour: "numeric", minute: "2-digit",
  }).format(new Date(iso));
}

// The month calendar has loaded: its times are in the page (only the
// chosen day's are visible).
async function slotsLoaded(page) {
  await page.locator("#slots:not([aria-busy]) .slot").first()
    .waitFor({ state: "attached" });
}

// Starts of the slots on the page (every day of the month shown), in order.
const slotStarts = (page) =>
  page.locator(".slot").evaluateAll((bs) => bs.map((b) => b.dataset.start));

// Late in a month its rest may hold few times: the scenarios need many, so
// they go on to the next month then (whatever the date the test runs on).
async function manySlots(page, n) {
  for (let i = 0; i < 2 && (await slotStarts(page)).length < n; i++) {
    await page.getByRole("button", { name: "Next month" }).click();
    await slotsLoaded(page);
  }
}

async function openBookingPage(page, title) {
  await page.goto(base + "/");
  await page.getByRole("heading", { name: "Book a time" }).waitFor();
  await page.getByLabel(title).check();
  await slotsLoaded(page);
  await manySlots(page, 40);
}

// Chooses the time's day in the calendar, then the time.
async function pickSlot(page, start) {
  const b = page.locator(`.slot[data-start="${start}"]`);
  const date = await b.evaluate((x) => x.closest(".day").dataset.date);
  const day = page.locator(`.cal-day[data-date="${date}"]`);
  if ((await day.getAttribute("aria-pressed")) !== "true")
    await day.click();
  await b.click();
  assert.equal(await b.getAttribute("aria-pressed"), "true");
}

async function fillDetails(page, name, email) {
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Email").fill(email);
}

// axe-core (WCAG 2 A/AA rules) on a page after `ready(page)`: no serious or
// critical violation. axe is injected as a script, which the pages' CSP
// forbids, so it runs in a context of its own that bypasses CSP.
async function axeCheck(url, ready) {
  const ctx = await browser.newContext({
    bypassCSP: true, timezoneId: VISITOR_ZONE, locale: "en-GB",
    viewport: { width: 1000, height: 900 },
  });
  const page = await ctx.newPage();
  page.setDefaultTimeout(STEP_MS);
  await page.goto(url);
  await ready(page);
  const { found } = await axeRun(page, url);
  await ctx.close();
  assert.deepEqual(found, [], `axe on ${url}`);
}

// --- scenarios -----------------------------------------------------------

// Book, check the ledger, cancel from the manage page, see the slot again.
async function bookAndCancel() {
  const page = await visitor("visitor");
  await page.goto(base + "/");
  await page.getByRole("heading", { name: "What would you like to book?" })
    .waitFor();
  await page.getByLabel("Deep dive").waitFor();
  await shot(page, "01-event-types");

  await page.getByLabel("Intro call").check();
  await slotsLoaded(page);
  await manySlots(page, 40);
  /* The host card (name, photo, bio as text) and the event type's details. */
  await page.locator("#host-card:not([hidden])").waitFor();
  assert.equal(await page.locator("#host-name").textContent(), "Casey Coach");
  assert.equal(await page.locator("#host-bio").textContent(),
               DEMO.hosts[0].bio);
  assert.equal(await page.locator("#host-bio b").count(), 0,
               "the bio is text, not markup");
  await page.waitForFunction(() => {
    const img = document.getElementById("host-photo");
    return !img.hidden && img.complete && img.naturalWidth === 1;
  }, null, { timeout: STEP_MS });
  assert.ok(photoRequests.length >= 1, "the photo was asked for");
  assert.ok(photoRequests.every((r) => r.referer === null),
            "no Referer leaves with the photo request");
  const facts = await page.locator("#type-facts").evaluate((dl) =>
    [...dl.querySelectorAll("dt")].map((dt) =>
      dt.textContent + ": " + dt.nextElementSibling.textContent));
  assert.deepEqual(facts, ["Duration: 30 min", "Price: Free",
                           "Where: Video call"]);
  assert.equal(await page.locator("#type-desc").textContent(),
               DEMO.event_types[0].description);
  const zone = await pageZone(page);
  assert.equal(await page.getByLabel("Show times in").inputValue(), zone,
               "the browser's zone is chosen first");
  let starts = await slotStarts(page);
  assert.ok(starts.length > 20, "an open schedule offers many slots");
  /* Grouped by day in the visitor's zone, with its offset. */
  assert.ok(starts.every((s) => s.endsWith("+05:30")), starts[0]);
  const days = await page.locator(".day").evaluateAll(
    (ds) => ds.map((d) => [d.dataset.date,
                           [...d.querySelectorAll(".slot")].map((b) => b.dataset.start)]));
  for (const [date, ss] of days)
    for (const s of ss)
      assert.equal(dateIn(VISITOR_ZONE, s), date, `${s} filed under ${date}`);
  /* The month calendar marks exactly the days with times; the first is
   * chosen and its times shown, the others' hidden. */
  const marked = await page.locator('.cal-day[data-free="1"]').evaluateAll(
    (bs) => bs.map((b) => b.dataset.date));
  assert.deepEqual(marked, days.map(([d]) => d));
  assert.equal(await page.locator(".cal-day[aria-pressed=true]")
    .getAttribute("data-date"), days[0][0]);
  assert.equal(await page.locator(".day:not([hidden])").count(), 1);
  /* Another day from the keyboard: arrows move, Enter chooses. */
  if (days.length > 1) {
    await page.locator(".cal-day[aria-pressed=true]").focus();
    const steps = Math.round((Date.parse(days[1][0]) -
                              Date.parse(days[0][0])) / 864e5);
    for (let i = 0; i < steps; i++)
      await page.keyboard.press("ArrowRight");
    await page.keyboard.press("Enter");
    await page.locator(`.day[data-date="${days[1][0]}"]:not([hidden])`)
      .waitFor();
    await page.locator(`.cal-day[data-date="${days[0][0]}"]`).click();
  }
  /* The 12/24-hour switch, remembered across loads. */
  const clock = page.getByLabel("24-hour clock");
  await clock.setChecked(false);
  assert.match(await page.locator(".slot").first().textContent(), /[AaPp]\.?[Mm]/);
  await clock.setChecked(true);
  assert.doesNotMatch(await page.locator(".slot").first().textContent(),
                      /[AaPp]\.?[Mm]/);
  assert.equal(await page.evaluate(() => localStorage.getItem("bookingd.hour12")),
               "0");
  await shot(page, "02-slots");

  /* Another zone regroups the days; then back to the visitor's. */
  await page.getByLabel("Show times in").selectOption("America/New_York");
  await page.waitForFunction(() => {
    const b = document.querySelector("#slots:not([aria-busy]) .slot");
    return b && /-0[45]:00$/.test(b.dataset.start);
  }, null, { timeout: STEP_MS });
  await page.getByLabel("Show times in").selectOption(zone);
  await page.waitForFunction(() => {
    const b = document.querySelector("#slots:not([aria-busy]) .slot");
    return b && b.dataset.start.endsWith("+05:30");
  }, null, { timeout: STEP_MS });

  starts = await slotStarts(page);
  const start = starts[0];
  await pickSlot(page, start);
  await page.getByRole("heading", { name: "Your details" }).waitFor();
  await fillDetails(page, "Ada Lovelace", "ada@example");
  await page.getByRole("button", { name: "Book this time" }).click();
  /* The browser accepts ada@example; the API does not, and says why. */
  await page.locator("#email-error", { hasText: "email address" }).waitFor();
  assert.equal(await page.getByLabel("Email").getAttribute("aria-invalid"),
               "true");
  await shot(page, "03-invalid-email");
  await page.getByLabel("Email").fill("ada@example.com");
  await page.getByRole("button", { name: "Book this time" }).click();
  await page.getByRole("heading", { name: "You are booked" }).waitFor();
  assert.equal(await page.locator("#email-error").isHidden(), true);
  const when = await page.locator("#done-when").textContent();
  assert.ok(when.includes(timeIn(VISITOR_ZONE, start)), when);
  assert.ok(when.includes(zone.replace(/_/g, " ")), when);
  await shot(page, "04-confirmation");
  log(`booked ${start} (${when})`);

  /* The ledger has it. */
  const [b] = await bookingsOf("ada@example.com");
  assert.ok(b, "the booking exists");
  assert.equal(b.status, "confirmed");
  assert.equal(b.event_type, "intro");
  assert.equal(b.source, "web");
  assert.equal(b.attendee_timezone, zone);
  assert.equal(Date.parse(b.start), Date.parse(start));

  /* "Add to calendar" is the booking's .ics, opened by its manage token;
   * the Google Calendar link carries the times in UTC. */
  const ics = await page.getByRole("link", { name: "Add to calendar" })
    .getAttribute("href");
  assert.match(ics, new RegExp(`^/api/v1/bookings/${b.uid}/ics\\?token=.+`));
  const icsText = await (await page.request.get(new URL(ics, page.url()).href))
    .text();
  assert.ok(icsText.includes("BEGIN:VCALENDAR"), icsText);
  assert.ok(icsText.includes(`UID:${b.uid}`), icsText);
  const gcal = new URL(await page.getByRole("link", { name: "Google Calendar" })
    .getAttribute("href"));
  assert.equal(gcal.hostname, "calendar.google.com");
  const utc = (t) => new Date(t).toISOString().replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
  assert.equal(gcal.searchParams.get("dates"),
               utc(b.start) + "/" + utc(b.end));
  /* So does Outlook's, in ISO form; both carry the manage link. */
  const outlook = new URL(await page.getByRole("link", { name: "Outlook" })
    .getAttribute("href"));
  assert.equal(outlook.hostname, "outlook.live.com");
  assert.equal(outlook.searchParams.get("rru"), "addevent");
  assert.equal(outlook.searchParams.get("subject"), "Intro call");
  assert.equal(Date.parse(outlook.searchParams.get("startdt")),
               Date.parse(b.start));
  assert.equal(Date.parse(outlook.searchParams.get("enddt")), Date.parse(b.end));
  for (const u of [gcal, outlook])
    assert.ok([...u.searchParams.values()].some((v) =>
      v.includes(`/manage/${b.uid}?token=`)), u.href);

  /* The manage link is same-origin and opens the booking. */
  const link = page.getByRole("link", { name: "Manage your booking" });
  const href = await link.getAttribute("href");
  assert.match(href, new RegExp(`^/manage/${b.uid}\\?token=.+`));
  await link.click();
  await page.locator("#b-status", { hasText: "Confirmed" }).waitFor();
  assert.equal(await page.locator("#b-title").textContent(), "Intro call");
  assert.ok((await page.locator("#b-when").textContent())
    .includes(timeIn(VISITOR_ZONE, start)));
  await shot(page, "05-manage");
  await axeCheck(base + "/", async (p) => {
    await p.getByLabel("Intro call").check();
    await slotsLoaded(p);
  });
  await axeCheck(base + href, async (p) => {
    await p.locator("#b-status", { hasText: "Confirmed" }).waitFor();
    await p.getByRole("button", { name: "Reschedule" }).click();
    await slotsLoaded(p);
  });
  /* The details form with the event type's questions. */
  await axeCheck(base + "/", async (p) => {
    await p.getByLabel("Deep dive").check();
    await slotsLoaded(p);
    await p.locator("#slots:not([aria-busy]) .slot:visible").first().click();
    await p.getByLabel("Your level").waitFor();
  });
  log("axe: booking and manage pages without serious or critical violations");

  await page.getByRole("button", { name: "Cancel booking" }).click();
  await page.getByLabel(/Reason/).fill("Something came up");
  await shot(page, "06-cancel-confirm");
  await page.getByRole("button", { name: "Yes, cancel it" }).click();
  await page.locator("#b-status", { hasText: "Cancelled" }).waitFor();
  await page.locator("#b-reason", { hasText: "Something came up" }).waitFor();
  await page.getByText("Your booking is cancelled").waitFor();
  assert.equal(await page.locator("#actions").isHidden(), true);
  await shot(page, "07-cancelled");
  const after = await adminApi("GET", "/api/v1/bookings/" + b.uid);
  assert.equal(after.json.status, "cancelled");
  assert.equal(after.json.cancellation_reason, "Something came up");

  /* A reload still shows the cancelled state. */
  await page.reload();
  await page.locator("#b-status", { hasText: "Cancelled" }).waitFor();

  /* The slot is offered again. */
  await page.getByRole("link", { name: "Book a new time" }).click();
  await page.waitForURL(base + "/");
  await openBookingPage(page, "Intro call");
  await page.locator(`.slot[data-start="${start}"]`)
    .waitFor({ state: "attached" });
  log("cancelled; the slot is free again");
  await page.context().close();
  return start;
}

// Two visitors pick the same slot; the second is told and sees fresh slots.
// The second then books another time and reschedules it from the manage
// page, once losing a race for the new time.
async function raceAndReschedule() {
  const one = await visitor("first");
  const two = await visitor("second");
  await Promise.all([openBookingPage(one, "Intro call"),
                     openBookingPage(two, "Intro call")]);
  const [start] = await slotStarts(one);
  assert.equal((await slotStarts(two))[0], start);
  await Promise.all([pickSlot(one, start), pickSlot(two, start)]);
  await fillDetails(one, "Grace Hopper", "grace@example.com");
  await fillDetails(two, "Alan Turing", "alan@example.com");

  await one.getByRole("button", { name: "Book this time" }).click();
  await one.getByRole("heading", { name: "You are booked" }).waitFor();
  await two.getByRole("button", { name: "Book this time" }).click();
  await two.getByText("That time was just taken — here are the times still free")
    .waitFor();
  await two.locator("#slots:not([aria-busy]) .slot").first()
    .waitFor({ state: "attached" });
  const fresh = await slotStarts(two);
  assert.ok(!fresh.includes(start), "the taken slot is no longer offered");
  assert.ok(fresh.length > 10, "the other slots are");
  assert.equal(await two.locator("#step-details").isHidden(), true);
  await shot(two, "08-slot-taken");
  log(`race for ${start}: the second visitor was told`);

  /* The second visitor books the next free time; the form kept the values. */
  await pickSlot(two, fresh[0]);
  assert.equal(await two.getByLabel("Email").inputValue(), "alan@example.com");
  await two.getByRole("button", { name: "Book this time" }).click();
  await two.getByRole("heading", { name: "You are booked" }).waitFor();
  assert.equal((await bookingsOf("grace@example.com")).length, 1);
  const [alan] = await bookingsOf("alan@example.com");
  assert.equal(Date.parse(alan.start), Date.parse(fresh[0]));

  /* Reschedule from the manage page. */
  await two.getByRole("link", { name: "Manage your booking" }).click();
  await two.locator("#b-status", { hasText: "Confirmed" }).waitFor();
  await two.getByRole("button", { name: "Reschedule" }).click();
  await slotsLoaded(two);
  await manySlots(two, 40);
  let offered = await slotStarts(two);
  assert.ok(!offered.includes(start), "another's booked slot is not offered");
  /* The slots exclude the booking being moved: its own time is free. */
  assert.ok(offered.includes(fresh[0]), "the booking's own time is offered");

  /* Someone else takes the chosen time before it is confirmed. */
  const lost = offered[2];
  await pickSlot(two, lost);
  await two.getByText("Move your booking to").waitFor();
  const other = await adminApi("POST", "/api/v1/bookings", {
    event_type: "intro", start: lost,
    attendee: { name: "Edsger", email: "edsger@example.com" },
  });
  assert.equal(other.status, 201, JSON.stringify(other.json));
  await two.getByRole("button", { name: "Move my booking" }).click();
  await two.getByText("That time was just taken — here are the times still free")
    .waitFor();
  await two.locator("#slots:not([aria-busy]) .slot").first()
    .waitFor({ state: "attached" });
  offered = await slotStarts(two);
  assert.ok(!offered.includes(lost));
  await shot(two, "09-reschedule-taken");

  const target = offered[3];
  await pickSlot(two, target);
  await shot(two, "10-reschedule-pick");
  await two.getByRole("button", { name: "Move my booking" }).click();
  await two.getByText("Your booking is moved to").waitFor();
  assert.ok((await two.locator("#b-when").textContent())
    .includes(timeIn(VISITOR_ZONE, target)));
  await shot(two, "11-rescheduled");
  const moved = await adminApi("GET", "/api/v1/bookings/" + alan.uid);
  assert.equal(moved.json.status, "confirmed");
  assert.equal(Date.parse(moved.json.start), Date.parse(target));
  assert.equal(Date.parse(moved.json.rescheduled_from), Date.parse(fresh[0]));

  /* The old time is free again, the new one is not. */
  await openBookingPage(one, "Intro call");
  const now = await slotStarts(one);
  assert.ok(now.includes(fresh[0]) && !now.includes(target));
  log("rescheduled; old slot free, new slot taken");
  await one.context().close();

  /* Wrong and missing tokens. */
  await two.goto(`${base}/manage/${alan.uid}?token=not-the-token`);
  await two.locator("#page-error", { hasText: "does not open a booking" })
    .waitFor();
  assert.equal(await two.locator("#booking").isHidden(), true);
  await shot(two, "12-wrong-token");
  await two.goto(`${base}/manage/${alan.uid}`);
  await two.locator("#page-error", { hasText: "link is incomplete" }).waitFor();
  await two.context().close();
}

// The booking flow on a phone-sized screen.
// /{host} and /{host}/{event-type}: the host's event types, one chosen.
async function hostPages() {
  const page = await visitor("host-pages");
  await page.goto(base + "/coach/deep-dive");
  await page.locator("#host-card:not([hidden])").waitFor();
  assert.equal(await page.locator("#type-deep-dive").isChecked(), true);
  await page.locator("#slots:not([aria-busy]) .slot").first()
    .waitFor({ state: "attached" });
  assert.equal(await page.locator("#slot-heading").textContent(),
               "Pick a time for Deep dive");
  let r = await page.goto(base + "/coach");
  assert.equal(r.status(), 200);
  await page.getByLabel("Intro call").waitFor();
  assert.equal(await page.locator("#types .choice").count(), 2);
  for (const p of ["/nobody", "/coach/nothing", "/coach/intro/x"]) {
    r = await page.request.get(base + p);
    assert.equal(r.status(), 404, p);
  }
  log("host pages: /coach and /coach/deep-dive");
  await page.context().close();
}

// Past 100 active packages the page's first data leaves the covered event
// types out (src/api/pages.c FIRST_PACKAGES) and the script reads
// GET /api/v1/packages page by page: Deep dive, covered only by the 101st
// package (the second page), still offers "Use a package credit". Runs
// last: the packages stay.
async function manyPackages() {
  const price = { amount: 9000, currency: "EUR" };
  for (let i = 0; i <= 100; i++) {
    const r = await adminApi("POST", "/api/v1/packages", {
      slug: `pack-${String(i).padStart(3, "0")}`, name: `Pack ${i}`,
      sessions: 2, price, event_types: [i === 100 ? "deep-dive" : "intro"] });
    assert.equal(r.status, 201, JSON.stringify(r.json));
  }
  const page = await visitor("many-packages");
  const first = await (await page.request.get(base + "/coach/deep-dive"))
    .text();
  assert.match(first, /"credit_event_types":\s*null/,
               "the block leaves the list to the API");
  await page.goto(base + "/coach/deep-dive");
  assert.equal(await page.locator("#type-deep-dive").isChecked(), true);
  await page.locator("#credit:not([hidden])").waitFor({ state: "attached" });
  log("101 packages: the credit offered from the second page");
  await page.context().close();
}

// Past 100 active event types the page inlines none (src/api/pages.c
// FIRST_TYPES) and the script reads GET /api/v1/event-types page by page:
// /late lists its host's one event type, the 103rd (the second page), and
// / lists all of them. Runs last: the event types stay.
async function manyEventTypes() {
  for (let i = 0; i < 100; i++) {
    const r = await adminApi("POST", "/api/v1/event-types", {
      slug: `filler-${String(i).padStart(3, "0")}`, title: `Filler ${i}`,
      host: "coach", duration_minutes: 30 });
    assert.equal(r.status, 201, JSON.stringify(r.json));
  }
  let r = await adminApi("POST", "/api/v1/hosts", {
    slug: "late", name: "Lee Late", email: "lee@example.com",
    timezone: "Europe/Berlin" });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  r = await adminApi("POST", "/api/v1/event-types", {
    slug: "late-call", title: "Late call", host: "late",
    duration_minutes: 30 });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  const page = await visitor("many-event-types");
  const first = await (await page.request.get(base + "/late")).text();
  assert.doesNotMatch(first, /"event_types"/,
                      "past 100 event types nothing is inlined");
  await page.goto(base + "/late");
  await page.locator("#type-late-call").waitFor({ state: "attached" });
  assert.equal(await page.locator("#types .choice").count(), 1);
  await page.goto(base + "/");
  await page.locator("#type-late-call").waitFor({ state: "attached" });
  assert.equal(await page.locator("#types .choice").count(), 103);
  log("103 event types: the second page listed");
  await page.context().close();
}

// The embed: the snippet on a page of another origin makes a frame that
// sizes itself; an origin not in BOOKINGD_EMBED_ORIGINS gets no page.
async function embed() {
  const page = await visitor("embed");
  await page.goto(`http://localhost:${sitePort}/`);
  const frame = page.frameLocator("iframe");
  await frame.locator("#host-card:not([hidden])").waitFor();
  await frame.locator("#slots:not([aria-busy]) .slot").first()
    .waitFor({ state: "attached" });
  assert.equal(await frame.locator("#type-deep-dive").isChecked(), true);
  /* The frame's height follows the page inside it (no inner scrolling). */
  await page.waitForFunction(async () => {
    const f = document.querySelector("iframe");
    return f && parseInt(f.style.height, 10) > 700;
  }, null, { timeout: STEP_MS });
  const [outer, inner] = await Promise.all([
    page.locator("iframe").evaluate((f) => f.getBoundingClientRect().height),
    frame.locator("html").evaluate((h) => h.scrollHeight),
  ]);
  assert.ok(Math.abs(outer - inner) <= 2, `frame ${outer}px, page ${inner}px`);
  assert.equal(await page.locator("iframe").getAttribute("title"),
               "Book a time");
  await page.screenshot({ path: path.join(SHOTS, "18-embed.png"),
                          fullPage: true });
  await page.context().close();

  /* The same site under another origin (127.0.0.1, not localhost) is not
   * listed: Chromium refuses to show the page in its frame. */
  const ctx = await browser.newContext();
  const other = await ctx.newPage();
  other.setDefaultTimeout(STEP_MS);
  await other.goto(`http://127.0.0.1:${sitePort}/`);
  await other.locator("iframe").waitFor({ state: "attached" });
  let shown = null;
  const until = Date.now() + STEP_MS;
  while (Date.now() < until) {
    const f = other.frames().find((x) => x !== other.mainFrame());
    if (f && f.url() && f.url() !== "about:blank") {
      shown = await f.evaluate(() => !!document.getElementById("types"))
        .catch(() => false);
      if (!shown)
        break;
    }
    await other.waitForTimeout(100);
  }
  assert.equal(shown, false, "an unlisted origin cannot frame the page");
  await ctx.close();
  log("embed: framed and sized on a listed origin, refused on another");
}

async function phone() {
  const page = await visitor("phone", {
    viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
    deviceScaleFactor: 2,
  });
  await page.goto(base + "/");
  await page.getByLabel("Deep dive").waitFor();
  await page.screenshot({ path: path.join(SHOTS, "13-phone-start.png") });
  await page.getByLabel("Deep dive").check();
  await page.locator("#slots:not([aria-busy]) .slot").first()
    .waitFor({ state: "attached" });
  const [start] = await slotStarts(page);
  await page.locator(`.slot[data-start="${start}"]`).tap();
  await page.getByRole("heading", { name: "Your details" }).waitFor();
  await fillDetails(page, "Katherine Johnson", "katherine@example.com");
  /* The event type's questions; the API's verdict on a bad phone number
   * shows beside that field. Markup in an answer stays text. */
  const goal = "<img src=x onerror=alert(1)> Orbits\nand re-entry";
  await page.getByLabel("What would you like to work on?").fill(goal);
  await page.getByLabel("Your level").selectOption("Advanced");
  await page.getByLabel("I accept the terms").check();
  await page.getByLabel("Phone").fill("call me maybe");
  await page.getByRole("button", { name: "Book this time" }).tap();
  await page.locator("#q-phone-error", { hasText: "phone number" }).waitFor();
  assert.equal(await page.getByLabel("Phone").getAttribute("aria-invalid"),
               "true");
  assert.equal((await bookingsOf("katherine@example.com")).length, 0);
  await page.getByLabel("Phone").fill("+1 (757) 555-0100");
  await page.screenshot({ path: path.join(SHOTS, "14-phone-details.png") });
  await shot(page, "15-phone-full");
  const wide = await page.evaluate(
    () => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(wide <= 0, `no sideways scrolling on a phone (${wide}px over)`);
  await page.getByRole("button", { name: "Book this time" }).tap();
  await page.getByRole("heading", { name: "You are booked" }).waitFor();
  await page.screenshot({ path: path.join(SHOTS, "16-phone-confirmation.png") });
  const [k] = await bookingsOf("katherine@example.com");
  assert.equal(k.event_type, "deep-dive");
  assert.deepEqual(k.answers, [
    { id: "goal", label: "What would you like to work on?", type: "text",
      value: goal },
    { id: "level", label: "Your level", type: "select", value: "Advanced" },
    { id: "terms", label: "I accept the terms", type: "checkbox", value: true },
    { id: "phone", label: "Phone", type: "phone", value: "+1 (757) 555-0100" },
  ]);
  assert.equal(Date.parse(k.end) - Date.parse(k.start), 3600_000);

  /* The manage page on the narrowest common phone. */
  await page.setViewportSize({ width: 360, height: 740 });
  await page.getByRole("link", { name: "Manage your booking" }).tap();
  await page.locator("#b-status", { hasText: "Confirmed" }).waitFor();
  await page.getByRole("button", { name: "Reschedule" }).tap();
  await page.locator("#slots:not([aria-busy]) .slot").first()
    .waitFor({ state: "attached" });
  const over = await page.evaluate(
    () => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(over <= 0, `no sideways scrolling at 360 px (${over}px over)`);
  await page.screenshot({ path: path.join(SHOTS, "17-phone-manage.png") });
  log("phone: booked, manage page fits 360 px");
  await page.context().close();
}

// --- main ----------------------------------------------------------------

async function cleanup() {
  if (site)
    site.close();
  site = null;
  if (browser)
    await browser.close().catch(() => {});
  browser = null;
  const how = await stopDaemon(daemon);
  fs.rmSync(tmp, { recursive: true, force: true });
  return how;
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  await startSite();
  await startDaemon();
  browser = await launchChromium(chromium, CHROMIUM, STEP_MS);
  await bookAndCancel();
  await raceAndReschedule();
  await hostPages();
  await embed();
  await phone();
  await manyPackages();
  await manyEventTypes();
  assert.deepEqual(problems, [], "no script errors or CSP violations");
}

const overall = setTimeout(() => {
  console.error(`e2e: FAIL: over ${TOTAL_MS / 1000} s`);
  cleanup().finally(() => process.exit(1));
}, TOTAL_MS);
process.on("exit", () => {
  if (daemon && daemon.exitCode === null && daemon.signalCode === null)
    daemon.kill("SIGKILL");
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
