// tests/e2e/admin_more.mjs — the admin actions over payments, packages,
// clients, hosts and provider authorization, in Debian's Chromium against
// the real daemon and the Stripe contract fake (tests/fakes/stripe):
// a paid booking's invoice PDF opened with the session cookie, a partial
// refund (bad amounts refused beside the field, a confirmation step, the
// ledger's figures shown after), a full refund, a booking paid with a
// package credit; the clients list and client page with sessions, revenue
// and package credits; a host created from the Hours page; "Re-authorize"
// for a Google connection in needs_auth and Calendly's OAuth status and
// authorize button (the consent pages, Google's and Calendly's, stood in
// for by a server of this test). axe-core on every page touched.
//
//   node admin_more.mjs PATH/TO/bookingd [ARTIFACT_DIR]   (or BOOKINGD_BIN=...)
import { chromium } from "playwright-core";
import { execFile, spawn } from "node:child_process";
import crypto from "node:crypto";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, spawnDaemon, waitHealthy, stopDaemon, watchPage, launchChromium, startStripeFake, axeRun } from "./harness.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = process.argv[2] || process.env.BOOKINGD_BIN;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TOTAL_MS = 240_000;
const STEP_MS = 30_000;
const ADMIN_KEY = "e2e-admin-key-0123456789abcdef";
const WHSEC = "whsec_e2e_" + Math.random().toString(16).slice(2);
// Screenshots (test artifacts): the build tree's when ctest passes it.
const SHOTS = process.argv[3] || path.join(os.tmpdir(), "bookingd-e2e-more-shots");
// Where the consent pages would be: a stand-in server of this test that
// records what the browser asked for (page.route does not see the
// request a redirect leads to).
let GOOGLE_BASE = "";
let consentUrls = [];
let CALENDLY_BASE = "";

if (!BIN) {
  console.error("usage: node admin_more.mjs PATH/TO/bookingd (or BOOKINGD_BIN)");
  process.exit(2);
}

const started = Date.now();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bookingd-e2e-more-"));
const DB = path.join(tmp, "bookingd.db");
const children = [];
let daemon = null;
let daemonLog = "";
let browser = null;
let base = "";
let stripeBase = "";
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

async function consentServer() {
  const srv = http.createServer((req, res) => {
    consentUrls.push(new URL(req.url, "http://127.0.0.1"));
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end("<!doctype html><html lang=en><title>Consent</title><p>consent</p>");
  });
  children.push({ exitCode: null, kill: () => srv.close() });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return srv.address().port;
}

async function startDaemon() {
  const port = await freePort();
  const nobody = await consentServer();
  GOOGLE_BASE = `http://127.0.0.1:${nobody}/google`;
  CALENDLY_BASE = `http://127.0.0.1:${nobody}/calendly`;
  const env = {
    ...process.env,
    BOOKINGD_DATABASE: "sqlite:" + DB,
    BOOKINGD_LISTEN: "127.0.0.1:" + port,
    BOOKINGD_ADMIN_KEY: ADMIN_KEY,
    BOOKINGD_LOG_LEVEL: "warn",
    BOOKINGD_SECRET_KEY: crypto.randomBytes(32).toString("base64"),
    STRIPE_SECRET_KEY: "sk_test_e2e",
    STRIPE_WEBHOOK_SECRET: WHSEC,
    STRIPE_API_BASE: stripeBase,
    GOOGLE_CLIENT_ID: "e2e-google-client.apps.example",
    GOOGLE_CLIENT_SECRET: "e2e-google-secret",
    GOOGLE_OAUTH_BASE: GOOGLE_BASE,
    CALENDLY_CLIENT_ID: "e2e-calendly-client",
    CALENDLY_CLIENT_SECRET: "e2e-calendly-secret",
    CALENDLY_OAUTH_BASE: CALENDLY_BASE,
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

async function admin(method, p, body) {
  const r = await fetch(base + p, {
    method, headers: { Authorization: "Bearer " + ADMIN_KEY,
                       "Content-Type": "application/json" },
    body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, data: r.status === 204 ? null : await r.json() };
}

// Waits for what(): a bounded poll of the ledger, never a sleep as such.
async function until(what, fn, ms = STEP_MS) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v)
      return v;
    assert.ok(Date.now() < end, "waited for " + what);
    await new Promise((r) => setTimeout(r, 150));
  }
}

let slotIndex = 0;
async function nextSlot() {
  const from = new Date(Date.now() + 86400e3).toISOString().slice(0, 10);
  const to = new Date(Date.now() + 4 * 86400e3).toISOString().slice(0, 10);
  const r = await fetch(base + `/api/v1/event-types/session/slots?from=${from}&to=${to}&timezone=UTC`);
  const j = await r.json();
  const starts = Object.values(j.slots).flat().map((s) => s.start);
  assert.ok(starts.length > slotIndex * 3, "free slots");
  return starts[slotIndex++ * 3];
}

// A booking paid through the fake's checkout (its webhook applied).
async function paidBooking(name, email) {
  const r = await fetch(base + "/api/v1/bookings", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ event_type: "session", start: await nextSlot(),
                           attendee: { name, email, timezone: "Europe/Berlin" } }),
  });
  const b = await r.json();
  assert.equal(r.status, 201, JSON.stringify(b));
  const sid = b.checkout_url.split("/").pop();
  await fetch(stripeBase + `/_fake/sessions/${sid}/complete`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ payment_status: "paid" }) });
  return until(`${email}'s payment`, async () => {
    const x = (await admin("GET", "/api/v1/bookings/" + b.uid)).data;
    return x.payment_status === "paid" && x.payment.invoice ? x : null;
  });
}

/* The credit code the buyer's email carries (docs/payments.md), from the
 * manage secret in the database, as payment.mjs does. */
async function creditCode(purchase) {
  const hex = await new Promise((resolve, reject) => execFile("python3", [
    "-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1], timeout=10).execute("
      + "\"SELECT value FROM meta WHERE key = 'manage_secret'\").fetchone()[0])",
    DB], { timeout: STEP_MS },
    (err, out) => (err ? reject(err) : resolve(out.trim()))));
  const mac = crypto.createHmac("sha256", Buffer.from(hex, "hex"))
    .update("package-credit:" + purchase).digest("base64url");
  return purchase + "-" + mac.slice(0, 22);
}

async function creditBooking() {
  let r = await admin("POST", "/api/v1/packages", {
    slug: "three", name: "Three sessions", event_types: ["session"],
    sessions: 3, price: { amount: 24000, currency: "EUR" } });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  const bought = await (await fetch(base + "/api/v1/packages/three/checkout", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ attendee: { name: "Cy Credit", email: "cy@example.com" } }),
  })).json();
  const sid = bought.checkout_url.split("/").pop();
  await fetch(stripeBase + `/_fake/sessions/${sid}/complete`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ payment_status: "paid" }) });
  const cy = await until("the credits granted", async () => {
    const c = (await admin("GET", "/api/v1/clients?email=cy%40example.com")).data.data[0];
    return c && (await admin("GET", `/api/v1/clients/${c.id}/credits`)).data
      .total.remaining === 3 ? c : null;
  });
  const res = await fetch(base + "/api/v1/bookings", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ event_type: "session", start: await nextSlot(),
                           attendee: { name: "Cy Credit", email: "cy@example.com" },
                           use_credit: true,
                           credit_code: await creditCode(bought.purchase) }),
  });
  const b = await res.json();
  assert.equal(res.status, 201, JSON.stringify(b));
  assert.equal(b.payment_status, "paid");
  return { booking: b, client: cy, purchase: bought.purchase };
}

async function newPage(ctx, name) {
  const page = await ctx.newPage();
  return watchPage(page, name, problems, STEP_MS);
}

async function signIn() {
  const ctx = await browser.newContext({ locale: "en-GB", timezoneId: "Europe/Berlin",
                                        viewport: { width: 1200, height: 900 } });
  const page = await newPage(ctx, "admin");
  await page.goto(base + "/admin/login");
  await page.getByLabel("Admin key").fill(ADMIN_KEY);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(base + "/admin");
  return page;
}

async function ready(page) {
  await page.waitForFunction(() => {
    const v = document.getElementById("view");
    const t = document.getElementById("title");
    return v && !v.hasAttribute("aria-busy") && t && t.textContent !== "Loading…";
  });
}

async function open(page, p) {
  await page.goto(base + p);
  await ready(page);
}

// A partial refund, then a full one, from the booking page.
async function refunds(page, ada, bob) {
  await open(page, "/admin/bookings/" + ada.uid);
  const box = page.locator("#payment-box");
  await box.getByText("90.00 EUR", { exact: true }).waitFor();
  const inv = page.locator("#invoice-link");
  assert.equal(await inv.textContent(), `Invoice ${ada.payment.invoice} (PDF)`);
  /* The PDF route takes the session cookie: the link works as it is. */
  const pdf = await page.request.get(new URL(await inv.getAttribute("href"), base).href);
  assert.equal(pdf.status(), 200);
  assert.equal(pdf.headers()["content-type"], "application/pdf");
  assert.equal((await pdf.body()).subarray(0, 5).toString(), "%PDF-");
  await page.getByRole("button", { name: "Refund…" }).first().click();
  const amount = page.getByLabel("Amount to refund (EUR)");
  for (const bad of ["abc", "90.01", "0", "1.234", "-5"]) {
    await amount.fill(bad);
    await page.locator("#refund-form button[type=submit]").click();
    await box.getByRole("alert").filter({ hasText: /Give an amount from 0\.01 EUR to 90\.00 EUR/ }).waitFor();
    assert.equal(await amount.getAttribute("aria-invalid"), "true", bad);
    assert.ok(await page.locator("#refund-confirm").isHidden());
  }
  await amount.fill("15,5");
  await page.locator("#refund-form button[type=submit]").click();
  await page.locator("#refund-question", {
    hasText: "Refund 15.50 EUR of 90.00 EUR to ada@example.com? This cannot be undone." }).waitFor();
  await shot(page, "more-refund-confirm");
  /* "Don't refund" sends nothing. */
  await page.getByRole("button", { name: "Don't refund" }).click();
  assert.equal((await admin("GET", `/api/v1/invoices/${ada.payment.invoice}`)).data.refunded, 0);
  await page.locator("#refund-form button[type=submit]").click();
  await page.locator("#refund-confirm").click();
  await page.locator("#status", { hasText: "Refunded 15.50 EUR." }).waitFor();
  await box.getByText("15.50 EUR", { exact: true }).waitFor();
  assert.equal(await page.locator("#refund-open").count(), 0, "refunded once per payment");
  await shot(page, "more-refunded");
  const invJ = (await admin("GET", `/api/v1/invoices/${ada.payment.invoice}`)).data;
  assert.equal(invJ.refunded, 1550);
  assert.equal((await admin("GET", "/api/v1/bookings/" + ada.uid)).data.payment_status, "paid");
  log("partial refund: 15.50 of 90.00 EUR");

  await open(page, "/admin/bookings/" + bob.uid);
  await page.locator("#refund-open").click();
  await page.locator("#refund-form button[type=submit]").click();
  await page.locator("#refund-question", { hasText: "Refund 90.00 EUR (all of it)" }).waitFor();
  await page.locator("#refund-confirm").click();
  await page.locator("#status", { hasText: "Refunded 90.00 EUR." }).waitFor();
  await page.locator('#payment-box .badge[data-status="refunded"]').first().waitFor();
  assert.equal((await admin("GET", "/api/v1/bookings/" + bob.uid)).data.payment_status, "refunded");
  log("full refund: payment refunded");
}

async function creditPage(page, cr) {
  await open(page, "/admin/bookings/" + cr.booking.uid);
  await page.locator("#payment-box", { hasText: `a credit of package three (purchase ${cr.purchase})` }).waitFor();
  assert.equal(await page.locator("#refund-open").count(), 0, "a credit is not refunded here");
  log("credit booking: paid with a credit shown");
}

async function clients(page, cr) {
  await open(page, "/admin/clients");
  const row = (email) => page.locator("tr", { has: page.getByRole("cell", { name: email, exact: true }) });
  /* Columns: Name, Email, Status, Sessions, Revenue, Credits left, Since. */
  await row("ada@example.com").locator("td").nth(4).filter({ hasText: "74.50 EUR" }).waitFor();
  await row("bob@example.com").locator("td").nth(4).filter({ hasText: "0.00 EUR" }).waitFor();
  await row("cy@example.com").locator("td").nth(4).filter({ hasText: "240.00 EUR" }).waitFor();
  await row("cy@example.com").locator("td").nth(5).filter({ hasText: /^2$/ }).waitFor();
  await row("ada@example.com").locator("td").nth(5).filter({ hasText: "—" }).waitFor();
  assert.equal(await row("ada@example.com").locator("td").nth(3).textContent(), "0");
  await shot(page, "more-clients");
  await open(page, "/admin/clients/" + cr.client.id);
  await page.locator("#credits-total", { hasText: "2 left, 1 used, 0 expired." }).waitFor();
  const credits = page.locator("#credits-box");
  await credits.getByRole("cell", { name: "Three sessions (three)" }).waitFor();
  await credits.getByRole("link", { name: /^INV-/ }).waitFor();
  await page.getByText("240.00 EUR").first().waitFor();
  await shot(page, "more-client-credits");
  /* Phone and notes: edited here; a malformed phone is refused and
   * named, nothing saved. */
  await page.getByLabel("Phone").fill("call me");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("alert").filter({ hasText: /phone/ }).waitFor();
  assert.equal((await admin("GET", "/api/v1/clients/" + cr.client.id)).data.phone, null);
  await page.getByLabel("Phone").fill("+49 30 1234567");
  await page.getByLabel("Notes").fill("Prefers mornings.\nSecond line.");
  await page.getByRole("button", { name: "Save" }).click();
  await page.locator("#status", { hasText: "Client saved." }).waitFor();
  const saved = (await admin("GET", "/api/v1/clients/" + cr.client.id)).data;
  assert.equal(saved.phone, "+49 30 1234567");
  assert.equal(saved.notes, "Prefers mornings.\nSecond line.");
  await page.locator("dd", { hasText: "+49 30 1234567" }).waitFor();
  assert.equal(await page.getByLabel("Notes").inputValue(), "Prefers mornings.\nSecond line.");
  log("clients: sessions, revenue and credits shown; phone and notes edited");
}

async function hosts(page) {
  await open(page, "/admin/hosts");
  const form = page.locator("#new-host-form");
  await form.getByLabel("Name").fill("Dana Doe");
  assert.equal(await form.getByLabel("Slug").inputValue(), "dana-doe");
  await form.getByLabel("Email").fill("not-an-email");
  await form.getByRole("button", { name: "Create host" }).click();
  await form.getByRole("alert").waitFor();
  assert.equal(await form.getByLabel("Email").getAttribute("aria-invalid"), "true");
  assert.equal((await admin("GET", "/api/v1/hosts/dana-doe")).status, 404);
  await form.getByLabel("Email").fill("dana@example.com");
  await form.getByLabel("Time zone").fill("America/New_York");
  await form.getByRole("button", { name: "Create host" }).click();
  await page.waitForURL(base + "/admin/hosts/dana-doe");
  await page.locator("#status", { hasText: "Host Dana Doe created" }).waitFor();
  const h = (await admin("GET", "/api/v1/hosts/dana-doe")).data;
  assert.equal(h.email, "dana@example.com");
  assert.equal(h.timezone, "America/New_York");
  /* A taken slug: 409, the slug marked. */
  await open(page, "/admin/hosts");
  await form.getByLabel("Name").fill("Dana Doe");
  await form.getByLabel("Email").fill("dana2@example.com");
  await form.getByRole("button", { name: "Create host" }).click();
  await form.getByRole("alert").waitFor();
  assert.equal(await form.getByLabel("Slug").getAttribute("aria-invalid"), "true");
  /* Hostile text in a name is shown as text. */
  const hostile = "<img src=x onerror=alert(1)> & \u202e";
  await open(page, "/admin/hosts");
  await form.getByLabel("Name").fill(hostile);
  assert.equal(await form.getByLabel("Slug").inputValue(), "img-src-x-onerror-alert-1");
  await form.getByLabel("Email").fill("evil@example.com");
  await form.getByRole("button", { name: "Create host" }).click();
  await page.waitForURL(base + "/admin/hosts/img-src-x-onerror-alert-1");
  await open(page, "/admin/hosts");
  await page.getByRole("link", { name: hostile.trim(), exact: true }).waitFor();
  assert.equal(await page.locator("#view img").count(), 0);
  log("hosts: created from the admin page; bad email and taken slug refused");
}

async function integrations(page) {
  /* A Google connection whose grant was refused (needs_auth), as the
   * sync leaves it; written straight into the database. */
  await new Promise((resolve, reject) => execFile("python3", ["-c",
    "import sqlite3,sys; c=sqlite3.connect(sys.argv[1], timeout=10); " +
    "h=c.execute(\"SELECT id FROM hosts WHERE slug='coach'\").fetchone()[0]; " +
    "c.execute(\"INSERT INTO calendar_connections (public_id, host_id, kind, url, " +
    "calendars, status, created_ms, updated_ms) VALUES ('cal_e2egoogleneedsauth', ?, " +
    "'google', 'https://www.googleapis.com/calendar/v3', '[]', 2, 0, 0)\", (h,)); " +
    "c.commit()", DB], { timeout: STEP_MS }, (err) => (err ? reject(err) : resolve())));
  await open(page, "/admin/integrations");
  const ra = page.getByRole("button", { name: "Re-authorize: https://www.googleapis.com/calendar/v3" });
  await ra.waitFor();
  await shot(page, "more-google-needs-auth");
  let consent = null;
  consentUrls = [];
  await ra.click();
  await page.waitForURL((u) => u.href.startsWith(GOOGLE_BASE));
  [consent] = consentUrls;
  assert.equal(consent.pathname, "/google/o/oauth2/v2/auth");
  assert.equal(consent.searchParams.get("client_id"), "e2e-google-client.apps.example");
  assert.equal(consent.searchParams.get("redirect_uri"), base + "/oauth/google/callback");
  const state = consent.searchParams.get("state");
  assert.ok(Buffer.from(state.split(".")[0], "base64url").toString()
    .includes("|coach|cal_e2egoogleneedsauth|"), "the state names the connection");
  log("google: re-authorize goes to the consent page for that connection");

  await open(page, "/admin/integrations");
  const cal = page.locator("#calendly-box");
  await cal.locator("#calendly-status", { hasText: "not connected" }).waitFor();
  consentUrls = [];
  await page.getByRole("button", { name: "Connect with OAuth" }).click();
  await page.waitForURL((u) => u.href.startsWith(CALENDLY_BASE));
  [consent] = consentUrls;
  assert.equal(consent.pathname, "/calendly/oauth/authorize");
  assert.equal(consent.searchParams.get("client_id"), "e2e-calendly-client");
  assert.equal(consent.searchParams.get("code_challenge_method"), "S256");
  /* An account that needs authorizing again shows so, with Re-authorize:
   * the stored state as the refresh job leaves it. */
  await new Promise((resolve, reject) => execFile("python3", ["-c",
    "import sqlite3,sys,json; c=sqlite3.connect(sys.argv[1], timeout=10); " +
    "c.execute(\"INSERT OR REPLACE INTO meta (key, value) VALUES ('calendly.oauth', ?)\", " +
    "(json.dumps({'status': 'needs_auth', 'owner': 'https://api.calendly.com/users/U1', " +
    "'last_error': 'invalid_grant: the grant was revoked', 'failures': 1}),)); c.commit()",
    DB], { timeout: STEP_MS }, (err) => (err ? reject(err) : resolve())));
  await open(page, "/admin/integrations");
  assert.equal((await admin("GET", "/api/v1/calendly")).data.auth, "oauth");
  await cal.locator("#calendly-status", { hasText: "needs auth" }).waitFor();
  await cal.getByText("invalid_grant: the grant was revoked").waitFor();
  await cal.getByRole("button", { name: "Re-authorize" }).waitFor();
  log("calendly: needs_auth shown with Re-authorize");
  /* The provider limits table is still there. */
  await page.locator('section[aria-labelledby="h-provider-limits"]').waitFor();
  await shot(page, "more-integrations");
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, name + ".png"), fullPage: true });
}

// axe-core on each page at desktop and phone size (a context of its own
// that bypasses the CSP, to inject axe), and no sideways scrolling on the
// phone.
async function axeCheck(state, paths) {
  for (const size of [{ width: 1200, height: 900 }, { width: 360, height: 740 }])
    await axeAt(state, paths, size);
}

async function axeAt(state, paths, viewport) {
  const ctx = await browser.newContext({
    bypassCSP: true, storageState: state, locale: "en-GB",
    timezoneId: "Europe/Berlin", viewport,
  });
  const page = await ctx.newPage();
  page.setDefaultTimeout(STEP_MS);
  const found = [];
  for (const p of paths) {
    await open(page, p);
    const wide = await page.evaluate(() =>
      document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(wide <= 1, `${p} scrolls sideways by ${wide}px at ${viewport.width}px`);
    found.push(...(await axeRun(page, p)).found.map((line) => `${p}: ${line}`));
  }
  await ctx.close();
  assert.deepEqual(found, [], "axe: serious or critical violations");
  log(`axe: ${paths.length} pages at ${viewport.width}px, no serious or critical violation`);
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
  stripeBase = await startStripeFake(WHSEC, children);
  await startDaemon();
  browser = await launchChromium(chromium, CHROMIUM, STEP_MS);
  const ada = await paidBooking("Ada Lovelace", "ada@example.com");
  const bob = await paidBooking("Bob Refund", "bob@example.com");
  const cr = await creditBooking();
  log("ledger: two paid bookings and one paid with a package credit");
  const page = await signIn();
  await refunds(page, ada, bob);
  await creditPage(page, cr);
  await clients(page, cr);
  await hosts(page);
  await axeCheck(await page.context().storageState(), [
    "/admin/bookings/" + ada.uid, "/admin/bookings/" + cr.booking.uid,
    "/admin/clients", "/admin/clients/" + cr.client.id, "/admin/hosts",
    "/admin/integrations"]);
  await integrations(page);
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
