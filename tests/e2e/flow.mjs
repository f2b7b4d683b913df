// tests/e2e/flow.mjs — issue 11's "done when", as a new user would try it,
// in Debian's Chromium against the real daemon on a fresh SQLite database
// that has one host and nothing else:
//
//   node flow.mjs PATH/TO/bookingd [ARTIFACT_DIR]   (or BOOKINGD_BIN=...)
//
// 1. An admin page opened without a session: a redirect to the sign-in
//    page, with no data in the HTML.
// 2. Sign in with the admin key; create an event type (with a custom
//    question); weekly hours drawn on the week grid (keyboard and pointer),
//    saved, the slot preview updating; a date override from a dated week;
//    the host card's bio.
// 3. Twice, desktop-sized and phone-sized: the booking page's month
//    calendar shows the hours; book there; the booking is in Today with
//    its badges; cancel it from its admin page; every page (booking page,
//    sign-in, Today, booking, clients, event types, hours, integrations,
//    deliveries and jobs, metrics) screenshotted and run through axe-core
//    (no serious or critical violation), and the metrics page draws its
//    charts. Any console error (a CSP violation is one) fails the test.
// 4. A booking that took place (a Cal.com booking of yesterday, signed
//    webhook) marked a no-show, then completed, from its admin page.
// 5. First slots within one round trip: the served HTML carries them, and
//    the page shows times with every slots request aborted. Page weight:
//    all the booking page's responses under 60 KB, no other host asked.
// 6. Session expiry: the session ended in the database, the next click
//    goes to the sign-in page, and so does a fresh load.
// Screenshots go to ARTIFACT_DIR (default build's tests/e2e/artifacts).
// Every wait is for a state, bounded by STEP_MS; the whole run by TOTAL_MS.
import { chromium } from "playwright-core";
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, spawnDaemon, waitHealthy, stopDaemon, watchPage, launchChromium, axeRun } from "./harness.mjs";

const BIN = process.argv[2] || process.env.BOOKINGD_BIN;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TOTAL_MS = 300_000;
const STEP_MS = 20_000;
const ADMIN_KEY = "e2e-flow-key-" + crypto.randomBytes(12).toString("hex");
const CALCOM_SECRET = "whsec-" + crypto.randomBytes(12).toString("hex");
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = process.argv[3] || process.env.E2E_ARTIFACTS ||
                  path.join(HERE, "screenshots");
const ZONE = "Europe/Berlin";
const PAGE_BUDGET = 60 * 1024;

if (!BIN) {
  console.error("usage: node flow.mjs PATH/TO/bookingd [ARTIFACT_DIR]");
  process.exit(2);
}

const started = Date.now();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bookingd-e2e-flow-"));
const DB = path.join(tmp, "bookingd.db");
let daemon = null;
let daemonLog = "";
let browser = null;
let base = "";
const problems = [];

function log(msg) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
}

function run(file, args, env) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: STEP_MS }, (err, stdout, stderr) => {
      if (err)
        reject(new Error(`${file} ${args.join(" ")}: ${err.message}\n` +
                         stdout + stderr));
      else
        resolve(stdout);
    });
  });
}

// Only a host: the event type and the hours are made in the browser.
const SEED = {
  hosts: [{ slug: "coach", name: "Casey Coach", email: "casey@example.com",
            timezone: ZONE }],
};

async function startDaemon() {
  const port = await freePort();
  const env = {
    BOOKINGD_SECRET_KEY: crypto.randomBytes(32).toString("base64"),
    ...process.env,
    BOOKINGD_DATABASE: "sqlite:" + DB,
    BOOKINGD_LISTEN: "127.0.0.1:" + port,
    BOOKINGD_ADMIN_KEY: ADMIN_KEY,
    BOOKINGD_LOG_LEVEL: "warn",
    CALCOM_WEBHOOK_SECRET: CALCOM_SECRET,
  };
  const seed = path.join(tmp, "seed.json");
  fs.writeFileSync(seed, JSON.stringify(SEED));
  await run(BIN, ["apply", seed], env);
  base = "http://127.0.0.1:" + port;
  daemon = spawnDaemon(BIN, env, (text) => { daemonLog = text; });
  await waitHealthy(daemon, base, STEP_MS);
  log(`daemon up on ${base}`);
}

async function api(method, p, body, headers) {
  const r = await fetch(base + p, {
    method, redirect: "manual",
    headers: { Authorization: "Bearer " + ADMIN_KEY,
               ...(body ? { "Content-Type": "application/json" } : {}),
               ...(headers || {}) },
    body: body === undefined ? undefined
      : typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(STEP_MS),
  });
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: r.status, json, text };
}

async function newContext(size) {
  return browser.newContext({
    timezoneId: ZONE, locale: "en-GB",
    ...(size === "phone"
      ? { viewport: { width: 390, height: 844 }, isMobile: true,
          hasTouch: true, deviceScaleFactor: 2 }
      : { viewport: { width: 1280, height: 900 } }),
  });
}

function watch(page, name) {
  return watchPage(page, name, problems, STEP_MS);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, name + ".png"),
                          fullPage: true, timeout: STEP_MS });
}

// An admin page's view has loaded (its title is not "Loading…" and the
// view is not busy).
async function adminReady(page) {
  await page.waitForFunction(() => {
    const v = document.getElementById("view");
    const t = document.getElementById("title");
    return !v || (!v.hasAttribute("aria-busy") && t &&
                  t.textContent !== "Loading…");
  });
}

// axe-core (WCAG 2 A/AA) on url in a context of its own that bypasses CSP
// (axe is an injected script), with the same cookies and size.
async function axe(state, size, url, ready) {
  const ctx = await browser.newContext({
    bypassCSP: true, storageState: state, timezoneId: ZONE, locale: "en-GB",
    viewport: size === "phone" ? { width: 390, height: 844 }
                               : { width: 1280, height: 900 },
  });
  const page = await ctx.newPage();
  page.setDefaultTimeout(STEP_MS);
  try {
    await page.goto(base + url);
    await ready(page);
    const { found } = await axeRun(page, url);
    return found.map((line) => `${size} ${url}: ${line}`);
  } finally {
    await ctx.close();
  }
}

// ---- 1 and 2: sign in, event type, hours, host card -----------------------

async function noSession() {
  for (const p of ["/admin", "/admin/bookings", "/admin/clients",
                   "/admin/metrics", "/admin/hosts/coach"]) {
    const r = await fetch(base + p, { redirect: "manual" });
    assert.equal(r.status, 303, p);
    assert.equal(r.headers.get("location"), "/admin/login", p);
    assert.equal(await r.text(), "", `${p}: no data without a session`);
  }
}

async function signIn(page, size) {
  await page.goto(base + "/admin/clients");
  await page.waitForURL(base + "/admin/login");
  const html = await page.content();
  assert.ok(!html.includes("casey@example.com"), "sign-in page has no data");
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await shot(page, `${size}-01-sign-in`);
  await page.getByLabel("Admin key").fill(ADMIN_KEY);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(base + "/admin");
  await page.getByRole("heading", { name: "Today and upcoming" }).waitFor();
}

async function setUp(page) {
  /* An event type, with a question on its booking form. */
  await page.getByRole("link", { name: "Event types" }).click();
  await page.getByRole("heading", { name: "Event types" }).waitFor();
  await page.getByRole("link", { name: "New event type" }).click();
  await page.getByLabel("Title").fill("Coaching session");
  await page.getByLabel("Slug (in the booking URL)").fill("session");
  await page.getByLabel("Duration (minutes)").fill("45");
  await page.getByRole("button", { name: "Add a question" }).click();
  await page.getByLabel("Label", { exact: true }).fill("Your goal");
  await page.getByLabel("Id", { exact: true }).fill("goal");
  await page.getByLabel("Required").check();
  /* A select question with a bad option list is refused, named. */
  await page.getByRole("button", { name: "Add a question" }).click();
  const q2 = page.locator(".question").nth(1);
  await q2.getByLabel("Label").fill("Level");
  await q2.getByLabel("Id", { exact: true }).fill("level");
  await q2.getByLabel("Type").selectOption("select");
  await q2.getByLabel("Options (one per line)").fill("Beginner\nBeginner");
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("alert").filter({ hasText: "questions[1]" }).waitFor();
  assert.equal(await q2.getByLabel("Options (one per line)")
    .getAttribute("aria-invalid"), "true");
  await q2.getByLabel("Options (one per line)").fill("Beginner\nAdvanced");
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("status").filter({ hasText: "Event type created." })
    .waitFor();
  const et = await api("GET", "/api/v1/event-types/session");
  assert.equal(et.status, 200);
  assert.equal(et.json.duration_minutes, 45);
  assert.deepEqual(et.json.questions, [
    { id: "goal", label: "Your goal", type: "text", required: true },
    { id: "level", label: "Level", type: "select", required: false,
      options: ["Beginner", "Advanced"] }]);
  log("event type created with its questions");

  /* Weekly hours on the week grid: Enter on each day adds 09:00-17:00. */
  await page.getByRole("link", { name: "Hours" }).click();
  await page.getByRole("link", { name: "Casey Coach" }).click();
  await page.getByRole("heading", { name: "Hours of Casey Coach" }).waitFor();
  await page.locator(".preview-grid").getByText("No times").first().waitFor();
  for (let i = 0; i < 7; i++) {
    const col = page.locator(`.wcol[data-day="${i}"]`);
    await col.focus();
    await page.keyboard.press("Enter");
    await col.locator(".wblock").waitFor();
  }
  /* The block has focus: Shift+Down twice moves Sunday's end to 18:00. */
  await page.keyboard.press("Shift+ArrowDown");
  await page.keyboard.press("Shift+ArrowDown");
  const sunday = page.getByRole("list", { name: "Sunday hours" });
  assert.equal(await sunday.getByLabel("Sunday until").inputValue(), "18:00");
  /* The pointer: draw 19:00-21:00 on Monday, drag its bottom edge to
   * 22:00. */
  const mon = page.locator('.wcol[data-day="0"]');
  const box = await mon.boundingBox();
  const y = (min) => box.y + box.height * min / 1440;
  await page.mouse.move(box.x + box.width / 2, y(19 * 60 + 5));
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2, y(20 * 60 + 10), { steps: 4 });
  await page.mouse.move(box.x + box.width / 2, y(21 * 60), { steps: 2 });
  await page.mouse.up();
  const monday = page.getByRole("list", { name: "Monday hours" });
  await monday.locator("li").nth(1).waitFor();
  assert.deepEqual(await monday.locator("input").evaluateAll(
    (xs) => xs.map((x) => x.value)), ["09:00", "17:00", "19:00", "21:00"]);
  const late = mon.locator(".wblock").nth(1);
  const lb = await late.boundingBox();
  await page.mouse.move(lb.x + lb.width / 2, lb.y + lb.height - 2);
  await page.mouse.down();
  await page.mouse.move(lb.x + lb.width / 2, y(22 * 60), { steps: 4 });
  await page.mouse.up();
  await mon.locator('.wblock[aria-label="Monday 19:00–22:00"]').waitFor();
  assert.equal(await monday.getByLabel("Monday until").nth(1).inputValue(),
               "22:00");
  /* The form edits the grid too: Tuesday until 16:30 in the form. */
  const tue = page.getByRole("list", { name: "Tuesday hours" });
  await tue.getByLabel("Tuesday until").fill("16:30");
  await page.locator('.wcol[data-day="1"] .wblock[aria-label="Tuesday 09:00–16:30"]')
    .waitFor();
  await page.getByRole("button", { name: "Save hours" }).click();
  await page.getByRole("status").filter({ hasText: "Hours saved." }).waitFor();
  await page.locator(".preview-day li").first().waitFor();
  const sched = await api("GET", "/api/v1/hosts/coach/schedule");
  assert.equal(sched.json.weekly.length, 8, JSON.stringify(sched.json));
  assert.ok(sched.json.weekly.some((w) => w.day === "mon" &&
            w.start === "19:00" && w.end === "22:00"));
  log("weekly hours set on the week grid");

  /* A date override from a dated week: next week's Wednesday off. */
  const weekSel = page.getByLabel("Edit", { exact: true });
  const nextWeek = await weekSel.locator("option").nth(2)
    .getAttribute("value");
  await weekSel.selectOption(nextWeek);
  const wed = new Date(nextWeek + "T12:00:00Z");
  wed.setUTCDate(wed.getUTCDate() + 2);
  const wedDate = wed.toISOString().slice(0, 10);
  await page.locator('.wday-col').nth(2).getByRole("button",
    { name: /^Day off on / }).click();
  await page.locator('.wcol.override[data-day="2"]').waitFor();
  await page.getByRole("button", { name: "Save hours" }).click();
  await page.getByRole("status").filter({ hasText: "Hours saved." }).waitFor();
  const s2 = await api("GET", "/api/v1/hosts/coach/schedule");
  assert.deepEqual(s2.json.overrides, [{ date: wedDate, unavailable: true }]);

  /* The host card. */
  await page.getByLabel("Short bio").fill("Running coach, ten years.");
  await page.getByLabel("Photo URL").fill("http://not-https.example/p.jpg");
  await page.getByRole("button", { name: "Save host card" }).click();
  await page.getByRole("alert").filter({ hasText: /./ }).last().waitFor();
  assert.equal(await page.getByLabel("Photo URL").getAttribute("aria-invalid"),
               "true");
  await page.getByLabel("Photo URL").fill("");
  await page.getByRole("button", { name: "Save host card" }).click();
  await page.getByRole("status").filter({ hasText: "Host card saved." })
    .waitFor();
  const prof = await api("GET", "/api/v1/hosts/coach/profile");
  assert.equal(prof.json.bio, "Running coach, ten years.");
  assert.equal(prof.json.photo_url, null);
  log("date override and host card saved");
}

// ---- 3: book, see it, cancel it; every page ------------------------------

async function bookOnPage(page, size, email) {
  await page.goto(base + "/coach/session");
  await page.getByRole("heading", { name: "Book a time" }).waitFor();
  await page.locator("#host-card:not([hidden])").getByText(
    "Running coach, ten years.").waitFor();
  await page.locator("#slots:not([aria-busy]) .slot").first()
    .waitFor({ state: "attached" });
  /* The month calendar marks days with times; each has 09:00 in Berlin
   * unless it is today (past) or the override. */
  const marked = page.locator('.cal-day[data-free="1"]');
  assert.ok(await marked.count() >= 1, "days with times are marked");
  const first = page.locator(".day:not([hidden]) .slot").first();
  const start = await first.getAttribute("data-start");
  await shot(page, `${size}-02-booking-page`);
  await first.click();
  await page.getByLabel("Name").fill("Grace Hopper");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Your goal").fill("A first marathon");
  await page.getByRole("button", { name: "Book this time" }).click();
  await page.getByRole("heading", { name: "You are booked" }).waitFor();
  await shot(page, `${size}-03-booked`);
  const over = await page.evaluate(
    () => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(over <= 0, `${size}: no sideways scrolling (${over}px)`);
  const list = await api("GET", "/api/v1/bookings?client=" +
                         encodeURIComponent(email));
  assert.equal(list.json.data.length, 1);
  const b = list.json.data[0];
  assert.equal(Date.parse(b.start), Date.parse(start));
  return b;
}

async function seeAndCancel(page, size, b) {
  await page.goto(base + "/admin");
  const row = page.locator(".row", { hasText: b.client.email });
  await row.waitFor();
  await row.locator(".badge", { hasText: "confirmed" }).waitFor();
  await row.locator(".badge", { hasText: "web" }).waitFor();
  await shot(page, `${size}-04-today`);
  await row.getByRole("link", { name: "Coaching session" }).click();
  await page.waitForURL(base + "/admin/bookings/" + b.uid);
  await page.getByRole("heading", { name: /Coaching session with/ }).waitFor();
  await page.getByText("A first marathon").waitFor();
  /* Not started: no attendance buttons, a hint instead. */
  await page.locator("#attendance-hint").waitFor();
  await shot(page, `${size}-05-booking`);
  await page.getByRole("button", { name: "Cancel…" }).click();
  await page.getByLabel(/Reason/).fill("Host unwell");
  await page.getByRole("button", { name: "Cancel booking" }).click();
  await page.getByRole("status").filter({ hasText: "Booking cancelled." })
    .waitFor();
  await page.locator("#booking-status .badge", { hasText: "cancelled" })
    .waitFor();
  const after = await api("GET", "/api/v1/bookings/" + b.uid);
  assert.equal(after.json.status, "cancelled");
  assert.equal(after.json.cancellation_reason, "Host unwell");
}

const ADMIN_PAGES = [
  ["06-clients", "/admin/clients"], ["07-event-types", "/admin/event-types"],
  ["08-event-type", "/admin/event-types/session"],
  ["09-hours", "/admin/hosts/coach"],
  ["10-integrations", "/admin/integrations"],
  ["11-deliveries", "/admin/deliveries"], ["12-metrics", "/admin/metrics"],
];

async function everyPage(page, size, b) {
  for (const [name, p] of ADMIN_PAGES) {
    await page.goto(base + p);
    await adminReady(page);
    if (p === "/admin/metrics") {
      await page.getByRole("status").filter({ hasText: "Charts drawn." })
        .waitFor();
      /* Sessions by week, no-show rate, new and active clients (no
       * payments here: no revenue chart, a sentence instead). */
      assert.equal(await page.locator(".chart canvas").count(), 3);
      /* Each chart has its table beside it: the text alternative. */
      assert.equal(await page.locator(".chart-pair > .table-wrap table")
        .count(), 3);
      await page.getByText("No payments in the last 12 months.").waitFor();
    }
    const over = await page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(over <= 0, `${size} ${p}: no sideways scrolling (${over}px)`);
    await shot(page, `${size}-${name}`);
  }
  const state = await page.context().storageState();
  const found = [];
  const pages = ["/admin", "/admin/bookings/" + b.uid,
                 ...ADMIN_PAGES.map(([, p]) => p)];
  for (const p of pages)
    found.push(...await axe(state, size, p, async (pg) => {
      await adminReady(pg);
      if (p === "/admin/metrics")
        await pg.getByRole("status").filter({ hasText: "Charts drawn." })
          .waitFor();
    }));
  found.push(...await axe(null, size, "/admin/login",
                          (pg) => pg.getByLabel("Admin key").waitFor()));
  found.push(...await axe(null, size, "/coach/session", (pg) =>
    pg.locator("#slots:not([aria-busy]) .slot").first()
      .waitFor({ state: "attached" })));
  assert.deepEqual(found, [], "axe: serious or critical violations");
  log(`${size}: axe on ${pages.length + 2} pages, none serious or critical`);
}

// ---- 4: attendance ---------------------------------------------------------

async function attendance(page) {
  const past = new Date(Date.now() - 86400e3);
  past.setUTCMinutes(0, 0, 0);
  const body = JSON.parse(fs.readFileSync(path.join(HERE, "..", "fixtures",
                                                    "calcom",
                                                    "booking_created.json")));
  const uid = "flow" + crypto.randomBytes(9).toString("hex");
  body.payload.uid = uid;
  body.payload.iCalUID = uid + "@Cal.com";
  body.createdAt = new Date().toISOString();
  body.payload.startTime = past.toISOString().replace(/\.\d{3}Z$/, "Z");
  body.payload.endTime = new Date(past.getTime() + 30 * 60e3).toISOString()
    .replace(/\.\d{3}Z$/, "Z");
  const raw = JSON.stringify(body);
  const sig = crypto.createHmac("sha256", CALCOM_SECRET).update(raw)
    .digest("hex");
  const r = await api("POST", "/webhooks/calcom", raw,
                      { "X-Cal-Signature-256": sig });
  assert.ok(r.status === 200 || r.status === 202, r.text);
  let held = null;
  const until = Date.now() + STEP_MS;
  while (!held) {
    const l = await api("GET", "/api/v1/bookings?source=calcom");
    held = l.json.data.find((x) => Date.parse(x.start) === past.getTime());
    if (!held) {
      assert.ok(Date.now() < until, "the Cal.com booking was recorded");
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  await page.goto(base + "/admin/bookings/" + held.uid);
  await adminReady(page);
  await page.getByRole("button", { name: "Mark no-show" }).click();
  await page.getByRole("status").filter({ hasText: "Marked as a no-show." })
    .waitFor();
  await page.locator("#booking-status .badge", { hasText: "no show" })
    .waitFor();
  await page.getByRole("button", { name: "Mark completed (they came)" })
    .click();
  await page.getByRole("status").filter({ hasText: "Marked completed." })
    .waitFor();
  await page.locator("#booking-status .badge", { hasText: "completed" })
    .waitFor();
  await page.locator(".timeline li", { hasText: /no.show/i }).first()
    .waitFor();
  await shot(page, "desktop-13-attendance");
  const after = await api("GET", "/api/v1/bookings/" + held.uid);
  assert.equal(after.json.status, "completed");
  log("a past booking marked a no-show, then completed");
  /* The metrics count it: a session this week, an active client. */
  await page.goto(base + "/admin/metrics");
  await page.getByRole("status").filter({ hasText: "Charts drawn." })
    .waitFor();
  await page.getByRole("cell", { name: "Active clients" }).waitFor();
  await shot(page, "desktop-14-metrics-after");
  /* The README's pictures: the week grid and the metrics, as seen. */
  await page.locator('section[aria-labelledby="h-sessions-by-week"]')
    .screenshot({ path: path.join(ARTIFACTS, "readme-metrics.png"),
                  timeout: STEP_MS });
  await page.goto(base + "/admin/hosts/coach");
  await page.locator(".wblock").first().waitFor();
  await page.locator('section[aria-labelledby="h-week-grid"]')
    .screenshot({ path: path.join(ARTIFACTS, "readme-hours.png"),
                  timeout: STEP_MS });
}

// ---- 5: first slots in the HTML, page weight --------------------------------

async function firstSlots() {
  const html = await (await fetch(base + "/coach/session")).text();
  const m = /<script type="application\/json" id="first-data">(.*?)<\/script>/s
    .exec(html);
  assert.ok(m, "the HTML carries the first data");
  const data = JSON.parse(m[1]);
  assert.equal(data.slots.event_type, "session");
  assert.ok(data.slots.starts.length > 0);

  /* Every slots request aborted: the page still shows times. */
  const ctx = await newContext("desktop");
  const page = watch(await ctx.newPage(), "first-slots");
  let asked = 0;
  await page.route("**/api/v1/event-types/*/slots**", (route) => {
    asked++;
    return route.abort();
  });
  await page.goto(base + "/coach/session");
  await page.locator("#slots:not([aria-busy]) .slot").first()
    .waitFor({ state: "attached" });
  assert.equal(await page.locator(".day:not([hidden]) .slot").first()
    .isVisible(), true);
  assert.equal(asked, 0, "no slots request for the first month");
  await ctx.close();

  /* The weight of the page, all its responses, and nowhere else. */
  const ctx2 = await newContext("phone");
  const p2 = watch(await ctx2.newPage(), "weight");
  const seen = [];
  p2.on("requestfinished", (req) => seen.push(req));
  p2.on("requestfailed", (req) => seen.push(req));
  await p2.goto(base + "/coach/session", { waitUntil: "networkidle" });
  await p2.locator("#slots:not([aria-busy]) .slot").first()
    .waitFor({ state: "attached" });
  let bytes = 0;
  for (const req of seen) {
    assert.equal(new URL(req.url()).origin, base, `only ${base}: ${req.url()}`);
    const s = await req.sizes();
    bytes += s.responseBodySize + s.responseHeadersSize;
  }
  assert.ok(bytes > 10_000 && bytes < PAGE_BUDGET,
            `the booking page is ${bytes} bytes (budget ${PAGE_BUDGET})`);
  const api = seen.filter((r) => r.url().includes("/api/")).length;
  log(`booking page: ${seen.length} requests, ${bytes} bytes, ${api} API ` +
      "requests");
  assert.equal(api, 0, "no API request for the first screen");
  await ctx2.close();
}

// ---- 6: session expiry -------------------------------------------------------

async function expiry(page) {
  await page.goto(base + "/admin/clients");
  await adminReady(page);
  /* The session ends (as if its 12 hours idle had passed). */
  await run("/usr/bin/python3", ["-c",
    "import sqlite3,sys; c=sqlite3.connect(sys.argv[1], timeout=10); " +
    "c.execute('UPDATE admin_sessions SET created_utc = 1000, last_seen_utc = 1000, expires_utc = 2000'); c.commit()",
    DB], process.env);
  await page.getByRole("link", { name: "Metrics" }).click();
  await page.waitForURL(base + "/admin/login");
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.goto(base + "/admin");
  await page.waitForURL(base + "/admin/login");
  log("an ended session leads back to the sign-in page");
}

async function cleanup() {
  if (browser)
    await browser.close().catch(() => {});
  browser = null;
  const how = await stopDaemon(daemon);
  fs.rmSync(tmp, { recursive: true, force: true });
  return how;
}

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await startDaemon();
  browser = await launchChromium(chromium, CHROMIUM, STEP_MS);
  await noSession();
  const desk = await newContext("desktop");
  const admin = watch(await desk.newPage(), "desktop");
  await signIn(admin, "desktop");
  await setUp(admin);
  for (const size of ["desktop", "phone"]) {
    const ctx = await newContext(size);
    const page = watch(await ctx.newPage(), size);
    const b = await bookOnPage(page, size, `grace-${size}@example.com`);
    if (size === "phone")
      await signIn(page, size);
    const adminPage = size === "phone" ? page : admin;
    await seeAndCancel(adminPage, size, b);
    await everyPage(adminPage, size, b);
    log(`${size}: booked, seen in Today, cancelled; every page checked`);
    if (size === "phone")
      await ctx.close();
  }
  await attendance(admin);
  await firstSlots();
  await expiry(admin);
  assert.deepEqual(problems, [], "console errors or page errors");
}

const timer = setTimeout(async () => {
  console.error(`timed out after ${TOTAL_MS} ms\n` + daemonLog);
  await cleanup().catch(() => {});
  process.exit(1);
}, TOTAL_MS);

try {
  await main();
  const how = await cleanup();
  clearTimeout(timer);
  if (how && how.code !== 0) {
    console.error(`bookingd exited with ${how.code}/${how.signal}\n` +
                  daemonLog);
    process.exit(1);
  }
  log(`passed; screenshots in ${ARTIFACTS}`);
} catch (e) {
  clearTimeout(timer);
  console.error(e.stack || e);
  if (problems.length)
    console.error(problems.join("\n"));
  console.error(daemonLog);
  await cleanup().catch(() => {});
  process.exit(1);
}
