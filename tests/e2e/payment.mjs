// tests/e2e/payment.mjs — a paid booking as a visitor makes it, in Debian's
// Chromium: the booking page sends them to the checkout page of the Stripe
// contract fake (tests/fakes/stripe/fake.mjs), "Pay" brings them back to
// the manage page, which shows the booking confirmed once the fake's
// signed webhook was applied; cancelling it there shows what the refund
// policy gives back before confirming, and the refund follows; "Cancel" on
// the checkout page brings them back to a booking still awaiting payment,
// with "Pay now". A package of sessions bought through the fake pays
// for a booking with its credit code ("Use a package credit"); a wrong
// code is refused beside the field.
//
//   node payment.mjs PATH/TO/bookingd      (or BOOKINGD_BIN=...)
import { chromium } from "playwright-core";
import { execFile, spawn } from "node:child_process";
import crypto from "node:crypto";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, spawnDaemon, waitHealthy, stopDaemon, watchPage, launchChromium, startStripeFake } from "./harness.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = process.argv[2] || process.env.BOOKINGD_BIN;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TOTAL_MS = 120_000;
const STEP_MS = 20_000;
const ADMIN_KEY = "e2e-admin-key-0123456789abcdef";
const WHSEC = "whsec_e2e_" + Math.random().toString(16).slice(2);
const SHOTS = path.join(HERE, "screenshots");

if (!BIN) {
  console.error("usage: node payment.mjs PATH/TO/bookingd (or BOOKINGD_BIN)");
  process.exit(2);
}

const started = Date.now();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bookingd-e2e-pay-"));
const children = [];
let daemon = null;
let daemonLog = "";
let browser = null;
let base = "";
const problems = [];

const log = (m) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${m}`);

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
    slug: "session", title: "Coaching session", host: "coach",
    duration_minutes: 60, minimum_notice_minutes: 120,
    price: { amount: 9000, currency: "EUR" },
  }],
};

async function startDaemon(stripeBase) {
  const port = await freePort();
  const env = {
    ...process.env,
    BOOKINGD_DATABASE: "sqlite:" + path.join(tmp, "bookingd.db"),
    BOOKINGD_LISTEN: "127.0.0.1:" + port,
    BOOKINGD_ADMIN_KEY: ADMIN_KEY,
    BOOKINGD_LOG_LEVEL: "warn",
    STRIPE_SECRET_KEY: "sk_test_e2e",
    STRIPE_WEBHOOK_SECRET: WHSEC,
    STRIPE_API_BASE: stripeBase,
  };
  const demo = path.join(tmp, "demo.json");
  fs.writeFileSync(demo, JSON.stringify(DEMO));
  await new Promise((resolve, reject) =>
    execFile(BIN, ["apply", demo], { env, timeout: STEP_MS },
             (err, out, errOut) => (err ? reject(new Error(out + errOut)) : resolve())));
  base = "http://127.0.0.1:" + port;
  daemon = spawnDaemon(BIN, env, (text) => { daemonLog = text; });
  await waitHealthy(daemon, base, STEP_MS);
  await fetch(stripeBase + "/_fake/config", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ webhook_url: base + "/webhooks/stripe" }),
  });
}

async function bookingsOf(email) {
  const r = await fetch(base + "/api/v1/bookings?client=" + encodeURIComponent(email),
                        { headers: { Authorization: "Bearer " + ADMIN_KEY } });
  return (await r.json()).data;
}

async function visitor(name) {
  const ctx = await browser.newContext({ locale: "en-GB", timezoneId: "Europe/Berlin" });
  const page = await ctx.newPage();
  return watchPage(page, name, problems, STEP_MS);
}

/* The free times of the month shown, at least `need` of them: late in a
 * month's last day the month may hold fewer (the earlier steps took some),
 * and then the next month is shown. */
async function freeStarts(page, need) {
  for (let month = 0; ; month++) {
    await page.locator("#slots:not([aria-busy]) .slot").first()
      .waitFor({ state: "attached" });
    const starts = await page.locator(".slot").evaluateAll(
      (bs) => bs.map((x) => x.dataset.start));
    if (starts.length >= need)
      return starts;
    assert.ok(month < 2, `${need} free times within two months`);
    const shown = await page.locator(".cal-month").textContent();
    await page.getByRole("button", { name: "Next month" }).click();
    await page.waitForFunction((m) => document.querySelector(".cal-month")
      .textContent !== m, shown, { timeout: STEP_MS });
  }
}

async function bookPaid(page, name, email, nth) {
  await page.goto(base + "/");
  await page.getByRole("radio", { name: /^Coaching session/ }).check();
  const starts = await freeStarts(page, nth + 1);
  /* The time's day in the calendar, then the time. */
  const b = page.locator(`.slot[data-start="${starts[nth]}"]`);
  const date = await b.evaluate((x) => x.closest(".day").dataset.date);
  const day = page.locator(`.cal-day[data-date="${date}"]`);
  if ((await day.getAttribute("aria-pressed")) !== "true")
    await day.click();
  await b.click();
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Book this time" }).click();
  /* Off to the checkout page. */
  await page.getByRole("heading", { name: /Pay 90\.00 EUR/ }).waitFor();
  assert.match(page.url(), /\/pay\/cs_test_/);
}

async function payAndReturn() {
  const page = await visitor("payer");
  await bookPaid(page, "Ada Lovelace", "ada@example.com", 0);
  const [pending] = await bookingsOf("ada@example.com");
  assert.equal(pending.status, "pending");
  await page.screenshot({ path: path.join(SHOTS, "p1-checkout.png") });
  await page.getByRole("button", { name: "Pay" }).click();
  /* Back on the manage page, which shows what the ledger says. */
  await page.waitForURL(/\/manage\/.*checkout=success/);
  await page.locator("#b-status", { hasText: "Confirmed" }).waitFor();
  await page.locator("#b-payment", { hasText: "Payment received" }).waitFor();
  assert.ok(await page.locator("#pay").isHidden());
  await page.screenshot({ path: path.join(SHOTS, "p2-paid.png") });
  const [b] = await bookingsOf("ada@example.com");
  assert.equal(b.status, "confirmed");
  assert.equal(b.payment_status, "paid");
  log("paid: confirmed");
  /* The invoice: its PDF behind the manage page's link (the manage
   * token), a real PDF. */
  const inv = page.locator("#invoice-link");
  await inv.waitFor();
  assert.match(await inv.textContent(), /^INV-\d{4}-\d{4,} \(PDF\)$/);
  const pdf = await page.request.get(
    new URL(await inv.getAttribute("href"), page.url()).href);
  assert.equal(pdf.status(), 200);
  assert.equal(pdf.headers()["content-type"], "application/pdf");
  assert.equal((await pdf.body()).subarray(0, 5).toString(), "%PDF-");
  log("paid: invoice PDF linked");
  /* Cancelling: the step says what the refund policy gives back (the
   * ledger's figure), and the refund follows the cancellation. */
  const one = await (await fetch(base + "/api/v1/bookings/" + b.uid, {
    headers: { Authorization: "Bearer " + ADMIN_KEY } })).json();
  const due = one.payment.refund_if_cancelled;
  assert.ok(due, "a paid booking tells what cancelling refunds");
  await page.getByRole("button", { name: "Cancel booking" }).click();
  const note = page.locator("#cancel-refund");
  await note.waitFor();
  const text = await note.textContent();
  if (due.full)
    assert.match(text, /^Cancelling now refunds the full €90\.00\.$/);
  else
    assert.match(text, /^Cancelling now refunds (nothing|€)/);
  await page.screenshot({ path: path.join(SHOTS, "p2b-cancel-refund.png") });
  await page.getByRole("button", { name: "Yes, cancel it" }).click();
  await page.locator("#b-status", { hasText: "Cancelled" }).waitFor();
  if (due.full) {
    const until = Date.now() + STEP_MS;
    let last = null;
    while (Date.now() < until) {
      [last] = await bookingsOf("ada@example.com");
      if (last.payment_status === "refunded")
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(last.payment_status, "refunded");
  }
  log(`cancelled: ${text}`);
  await page.context().close();
}

// The admin Metrics page with a payment in the ledger: the revenue chart
// is drawn (bars per currency) beside its table.
async function revenueChart() {
  const page = await visitor("metrics");
  await page.goto(base + "/admin/login");
  await page.getByLabel("Admin key").fill(ADMIN_KEY);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(base + "/admin");
  await page.goto(base + "/admin/metrics");
  await page.getByRole("status").filter({ hasText: "Charts drawn." })
    .waitFor();
  assert.equal(await page.locator(".chart canvas").count(), 4);
  const rev = page.locator('section[aria-labelledby="h-revenue-by-month"]');
  await rev.locator(".chart canvas").waitFor();
  await rev.getByRole("cell", { name: /90/ }).first().waitFor();
  await rev.screenshot({ path: path.join(SHOTS, "p4-revenue-chart.png") });
  log("the revenue chart drawn with the payment");
  await page.context().close();
}

async function cancelOnCheckout() {
  const page = await visitor("leaver");
  await bookPaid(page, "Bob Leaver", "bob@example.com", 1);
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.waitForURL(/\/manage\/.*checkout=cancel/);
  await page.locator("#b-status", { hasText: "Awaiting payment" }).waitFor();
  await page.locator("#b-payment", { hasText: "Payment pending" }).waitFor();
  const pay = page.getByRole("link", { name: "Pay now" });
  await pay.waitFor();
  assert.match(await pay.getAttribute("href"), /\/pay\/cs_test_/);
  await page.screenshot({ path: path.join(SHOTS, "p3-pending.png") });
  log("left the checkout: still pending, Pay now offered");
  await page.context().close();
}

async function admin(method, p, body) {
  const r = await fetch(base + p, {
    method, headers: { Authorization: "Bearer " + ADMIN_KEY,
                       "Content-Type": "application/json" },
    body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, data: await r.json() };
}

/* The credit code the buyer's email carries (docs/payments.md): the
 * purchase uid, "-", the first 22 characters of the base64url
 * HMAC-SHA256 of "package-credit:" + uid under the manage secret, read
 * from the database by Debian's Python. */
async function creditCode(purchase) {
  const hex = await new Promise((resolve, reject) => execFile("python3", [
    "-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("
      + "\"SELECT value FROM meta WHERE key = 'manage_secret'\").fetchone()[0])",
    path.join(tmp, "bookingd.db")], { timeout: STEP_MS },
    (err, out) => (err ? reject(err) : resolve(out.trim()))));
  const mac = crypto.createHmac("sha256", Buffer.from(hex, "hex"))
    .update("package-credit:" + purchase).digest("base64url");
  return purchase + "-" + mac.slice(0, 22);
}

async function bookWithCredit(stripeBase) {
  let r = await admin("POST", "/api/v1/packages", {
    slug: "three", name: "Three sessions", event_types: ["session"],
    sessions: 3, price: { amount: 24000, currency: "EUR" } });
  assert.equal(r.status, 201);
  const bought = await (await fetch(base + "/api/v1/packages/three/checkout", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ attendee: { name: "Cy Credit", email: "cy@example.com" } }),
  })).json();
  const sid = bought.checkout_url.split("/").pop();
  await fetch(stripeBase + `/_fake/sessions/${sid}/complete`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ payment_status: "paid" }) });
  const until = Date.now() + STEP_MS;
  for (;;) {
    const c = (await admin("GET", "/api/v1/clients?limit=100")).data.data
      .find((x) => x.email === "cy@example.com");
    if (c && (await admin("GET", `/api/v1/clients/${c.id}/credits`)).data.total.remaining === 3)
      break;
    assert.ok(Date.now() < until, "the credits were granted");
    await new Promise((res) => setTimeout(res, 100));
  }
  const code = await creditCode(bought.purchase);
  const page = await visitor("credit");
  await page.goto(base + "/");
  await page.getByRole("radio", { name: /^Coaching session/ }).check();
  const starts = await freeStarts(page, 4);
  const b = page.locator(`.slot[data-start="${starts[3]}"]`);
  const date = await b.evaluate((x) => x.closest(".day").dataset.date);
  const day = page.locator(`.cal-day[data-date="${date}"]`);
  if ((await day.getAttribute("aria-pressed")) !== "true")
    await day.click();
  await b.click();
  await page.getByLabel("Name").fill("Cy Credit");
  await page.getByLabel("Email").fill("cy@example.com");
  await page.getByLabel("Use a package credit").check();
  /* A wrong code: refused beside its field, nothing booked. */
  await page.getByLabel(/^Credit code/).fill(code.slice(0, -1) + (code.endsWith("A") ? "B" : "A"));
  await page.getByRole("button", { name: "Book this time" }).click();
  await page.locator("#credit-code-error", { hasText: /not a valid credit code/ }).waitFor();
  assert.deepEqual(await bookingsOf("cy@example.com"), []);
  await page.getByLabel(/^Credit code/).fill(code);
  await page.getByRole("button", { name: "Book this time" }).click();
  await page.locator("#done-heading", { hasText: "You are booked" }).waitFor();
  await page.screenshot({ path: path.join(SHOTS, "p4-credit.png") });
  const [one] = await bookingsOf("cy@example.com");
  assert.equal(one.status, "confirmed");
  assert.equal(one.payment_status, "paid");
  r = await admin("GET", "/api/v1/bookings/" + one.uid);
  assert.equal(r.data.credit.purchase, bought.purchase);
  /* The booking page after Stripe's "Pay" of a package: a notice that
   * promises nothing the ledger has not said. */
  await page.goto(base + "/?package=three&checkout=success");
  await page.locator("#package-status", { hasText: /credit code comes by email/ }).waitFor();
  /* The manage page of the credit booking says how it was paid. */
  await page.goto(one.manage_url || `${base}/manage/${one.uid}?token=${r.data.manage_token}`);
  await page.locator("#b-payment", { hasText: "Paid with a package credit" }).waitFor();
  log("booked with a package credit");
  await page.context().close();
}

async function cleanup() {
  if (browser)
    await browser.close().catch(() => {});
  browser = null;
  const how = await stopDaemon(daemon);
  daemon = null;
  for (const c of children)
    if (c.exitCode === null)
      c.kill("SIGTERM");
  fs.rmSync(tmp, { recursive: true, force: true });
  return how;
}

const overall = setTimeout(() => {
  console.error(`e2e: FAIL: over ${TOTAL_MS / 1000} s`);
  cleanup().finally(() => process.exit(1));
}, TOTAL_MS);

let failed = false;
try {
  fs.mkdirSync(SHOTS, { recursive: true });
  const stripeBase = await startStripeFake(WHSEC, children);
  await startDaemon(stripeBase);
  browser = await launchChromium(chromium, CHROMIUM, STEP_MS);
  await payAndReturn();
  await revenueChart();
  await cancelOnCheckout();
  await bookWithCredit(stripeBase);
  assert.deepEqual(problems, [], "no script errors");
} catch (e) {
  failed = true;
  console.error("e2e: FAIL:", e.stack || e);
  if (problems.length)
    console.error(problems.join("\n"));
}
const how = await cleanup();
clearTimeout(overall);
if (how && (how.code !== 0 || how.signal)) {
  failed = true;
  console.error(`e2e: FAIL: bookingd exited with ${how.signal || how.code}`);
}
if (failed)
  console.error("--- bookingd log ---\n" + daemonLog.slice(-8000));
log(failed ? "FAIL" : "PASS");
process.exit(failed ? 1 : 0);
