// tests/e2e/harness.mjs — what the browser tests do alike: a free local
// port; `bookingd serve` started with its output kept, waited for until
// /healthz answers, and stopped (SIGTERM, SIGKILL after 10 s); the Stripe
// fake started; Chromium launched; a page's waits bounded and its script
// and console errors collected; axe-core run on a page.
import { spawn } from "node:child_process";
import assert from "node:assert/strict";
import net from "node:net";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const AXE = path.join(HERE, "node_modules", "axe-core", "axe.min.js");

// A TCP port on 127.0.0.1 that nothing listens on at the moment.
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Starts `bin serve` with env. keepLog(text) is called with the last
// 20,000 characters of the daemon's output each time it writes. Returns the
// child process, whose `exited` resolves to { code, signal }.
export function spawnDaemon(bin, env, keepLog) {
  const daemon = spawn(bin, ["serve"], { env, stdio: ["ignore", "pipe", "pipe"] });
  daemon.logText = "";
  const keep = (chunk) => {
    daemon.logText = (daemon.logText + chunk).slice(-20000);
    keepLog(daemon.logText);
  };
  daemon.stdout.on("data", keep);
  daemon.stderr.on("data", keep);
  daemon.exited = new Promise((resolve) =>
    daemon.on("exit", (code, signal) => resolve({ code, signal })));
  return daemon;
}

// Waits (at most stepMs) until base/healthz answers; throws, with the
// daemon's output, when it exits first or does not answer in time.
export async function waitHealthy(daemon, base, stepMs) {
  const until = Date.now() + stepMs;
  for (;;) {
    if (daemon.exitCode !== null || daemon.signalCode !== null)
      throw new Error("bookingd serve exited at start:\n" + daemon.logText);
    try {
      const r = await fetch(base + "/healthz",
                            { signal: AbortSignal.timeout(1000) });
      if (r.ok)
        break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > until)
      throw new Error("bookingd did not answer /healthz:\n" + daemon.logText);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Stops the daemon (SIGTERM, SIGKILL after 10 s); resolves to its exit, or
// null when there is none.
export async function stopDaemon(daemon) {
  if (!daemon)
    return null;
  if (daemon.exitCode !== null || daemon.signalCode !== null)
    return daemon.exited;
  daemon.kill("SIGTERM");
  const timer = setTimeout(() => daemon.kill("SIGKILL"), 10_000);
  const how = await daemon.exited;
  clearTimeout(timer);
  return how;
}

// Debian's Chromium, headless, with nothing of its own on the network.
export function launchChromium(chromium, executablePath, stepMs) {
  return chromium.launch({
    executablePath, timeout: stepMs,
    args: ["--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-first-run", "--disable-quic"],
  });
}

// Bounds the page's waits by stepMs and adds to problems each script error
// and console error of the page. Refusals a test provokes (401, 403, 409,
// 422, aborted requests) are logged as failed loads and do not count;
// anything else, a CSP violation included, does.
export function watchPage(page, name, problems, stepMs) {
  page.setDefaultTimeout(stepMs);
  page.setDefaultNavigationTimeout(stepMs);
  page.on("pageerror", (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource/.test(m.text()))
      problems.push(`${name}: console: ${m.text()}`);
  });
  return page;
}

// Starts the Stripe fake (tests/fakes/stripe) signing its webhooks with
// whsec; the child is added to children (stopped by the caller's cleanup).
// Resolves to the fake's base URL.
export async function startStripeFake(whsec, children) {
  const fake = spawn("node", [path.join(HERE, "..", "fakes", "stripe", "fake.mjs")], {
    env: { ...process.env, FAKE_WEBHOOK_SECRET: whsec },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(fake);
  const line = await new Promise((resolve, reject) => {
    readline.createInterface({ input: fake.stdout }).once("line", resolve);
    fake.on("exit", () => reject(new Error("the Stripe fake exited")));
  });
  return "http://127.0.0.1:" + JSON.parse(line).port;
}

// Runs axe-core (WCAG 2 A and AA rules) on the page, which must take an
// injected script (its context made with bypassCSP: true), and asserts
// that it ran (more than 10 rules passed, what names the page). Resolves
// to { passes, found }: the number of rules passed and the serious and
// critical violations, each "id (impact): help — its first three targets".
export async function axeRun(page, what) {
  await page.addScriptTag({ path: AXE });
  const res = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a",
                                     "wcag21aa"] },
  }));
  assert.ok(res.passes.length > 10, `axe ran on ${what}`);
  return {
    passes: res.passes.length,
    found: res.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ` +
           v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; ")),
  };
}
