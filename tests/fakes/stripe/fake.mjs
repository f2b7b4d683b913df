// tests/fakes/stripe/fake.mjs — a contract fake of the parts of the Stripe
// API bookingd uses (../../../../shared/PROVIDERS.md §1, Stripe's API
// reference), as strict as the real one where bookingd could go wrong:
//
// - Authorization: Bearer sk_test_... (401 otherwise), bodies
//   application/x-www-form-urlencoded with bracket notation (400 otherwise),
//   unknown and missing parameters refused with Stripe's error JSON shape
//   {"error": {"type", "code", "message", "param"}} and 400;
// - Idempotency-Key: the first answer of a key is replayed for the same
//   parameters (Idempotent-Replayed: true), a reuse with other parameters is
//   400 idempotency_error; requests that fail validation are not saved;
// - POST /v1/checkout/sessions (expires_at 30 min .. 24 h ahead),
//   GET /v1/checkout/sessions/:id, POST /v1/checkout/sessions/:id/expire,
//   POST /v1/refunds, GET /v1/refunds/:id;
// - events signed with the official `stripe` package
//   (stripe.webhooks.generateTestHeaderString) and POSTed to FAKE_WEBHOOK_URL.
//
// The test drives it through /_fake/... (not part of Stripe): complete or
// expire a session (with the event held back or delivered), resend events
// (duplicates, any order, another timestamp or secret, a tampered body),
// make the next requests fail (429, 500, a dropped connection, or -1: carried
// out but its reply lost, the connection dropped), and read
// the requests it received. A small hosted checkout page (/pay/:id, Pay and
// Cancel buttons) stands in for Stripe's.
//
// Usage: FAKE_WEBHOOK_URL=http://127.0.0.1:8080/webhooks/stripe \
//        FAKE_WEBHOOK_SECRET=whsec_... node fake.mjs
// (both may also be set later through POST /_fake/config)
// Prints {"port": N} on its first line of standard output.
import http from "node:http";
import crypto from "node:crypto";
import Stripe from "stripe";

const stripe = new Stripe("sk_test_fake_signer");
let webhookUrl = process.env.FAKE_WEBHOOK_URL || "";
let timestampOffset = 0; // seconds added to the signatures' timestamps
let apiDelayMs = 0;      // a slow Stripe: every API answer waits this long
let apiGate = null;      // {promise, open}: API requests wait until opened
let webhookSecret = process.env.FAKE_WEBHOOK_SECRET || "";
const API_VERSION = "2026-07-29.dahlia";

const sessions = new Map();     // id -> session
const intents = new Map();      // pi id -> {id, amount, currency, metadata, status, charge}
const refunds = new Map();      // re id -> refund
const idempotency = new Map();  // key -> {method, path, fingerprint, status, body}
const events = [];              // every event made, in order
const requests = [];            // every API request received
let failures = [];              // [{method, prefix, status, count}]
let baseUrl = "";

const now = () => Math.floor(Date.now() / 1000);
const rid = (prefix) => prefix + "_test_" + crypto.randomBytes(12).toString("hex");

class ApiError extends Error {
  constructor(status, type, message, param, code) {
    super(message);
    Object.assign(this, { status, type, param, code });
  }
}
const invalid = (message, param, code) =>
  new ApiError(400, "invalid_request_error", message, param, code || (param ? "parameter_invalid" : undefined));
const unknownParam = (p) =>
  new ApiError(400, "invalid_request_error", `Received unknown parameter: ${p}`, p, "parameter_unknown");
const missing = (p) =>
  new ApiError(400, "invalid_request_error", `Missing required param: ${p}.`, p, "parameter_missing");

function errorBody(e) {
  const error = { type: e.type, message: e.message };
  if (e.code) error.code = e.code;
  if (e.param) error.param = e.param;
  error.doc_url = "https://stripe.com/docs/error-codes" + (e.code ? "/" + e.code.replace(/_/g, "-") : "");
  error.request_log_url = "https://dashboard.stripe.com/test/logs/req_fake";
  return { error };
}

// ---- Form decoding (bracket notation) -------------------------------------

function decodeComponent(s, name) {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    throw invalid(`Invalid URL encoding in ${name}`);
  }
}

// "a[b][0][c]" -> ["a", "b", "0", "c"]
function keyPath(key) {
  const m = /^([^\[\]]+)((?:\[[^\[\]]*\])*)$/.exec(key);
  if (!m) throw invalid(`Invalid parameter name: ${key}`, key);
  const parts = [m[1]];
  for (const p of m[2].matchAll(/\[([^\[\]]*)\]/g)) parts.push(p[1]);
  return parts;
}

function parseForm(body) {
  const out = {};
  if (!body) return out;
  for (const pair of body.split("&")) {
    if (!pair) continue;
    const eq = pair.indexOf("=");
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const key = decodeComponent(rawKey, "a key");
    const value = decodeComponent(eq < 0 ? "" : pair.slice(eq + 1), key);
    const path = keyPath(key);
    let o = out;
    for (let i = 0; i < path.length - 1; i++) {
      const k = path[i];
      if (o[k] === undefined) o[k] = {};
      if (typeof o[k] !== "object") throw invalid(`Invalid parameter: ${key}`, key);
      o = o[k];
    }
    const last = path[path.length - 1];
    if (typeof o[last] === "object") throw invalid(`Invalid parameter: ${key}`, key);
    if (o[last] !== undefined) throw invalid(`Parameter ${key} given twice`, key);
    o[last] = value;
  }
  return out;
}

// An object with "0", "1" ... keys as an array (indices in order, no gaps).
function asArray(o, name) {
  if (o === undefined) return undefined;
  if (typeof o !== "object") throw invalid(`Invalid array`, name);
  const keys = Object.keys(o);
  keys.forEach((k, i) => {
    if (k !== String(i)) throw invalid(`Invalid array index ${k}`, `${name}[${k}]`);
  });
  return keys.map((k) => o[k]);
}

function only(o, allowed, prefix) {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw unknownParam(prefix ? `${prefix}[${k}]` : k);
  }
}

function integer(v, name, min, max) {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !/^-?\d+$/.test(v)) throw invalid(`Invalid integer: ${v}`, name);
  const n = Number(v);
  if (n < min || n > max) throw invalid(`Invalid ${name}: must be between ${min} and ${max}`, name);
  return n;
}

function text(v, name, max) {
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw invalid(`Invalid string`, name);
  if (v.length > max) throw invalid(`Invalid ${name}: must be at most ${max} characters`, name);
  return v;
}

function metadata(o, name) {
  if (o === undefined) return {};
  if (typeof o !== "object") throw invalid("Invalid hash", name);
  const keys = Object.keys(o);
  if (keys.length > 50) throw invalid("Metadata can have at most 50 keys", name);
  for (const k of keys) {
    if (k.length > 40) throw invalid("Metadata keys are at most 40 characters", `${name}[${k}]`);
    text(o[k], `${name}[${k}]`, 500);
  }
  return { ...o };
}

function url(v, name) {
  if (v === undefined) return undefined;
  text(v, name, 5000);
  let u;
  try {
    u = new URL(v);
  } catch {
    throw invalid(`Not a valid URL`, name, "url_invalid");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw invalid("Not a valid URL", name, "url_invalid");
  return v;
}

// ---- Resources --------------------------------------------------------------

function createSession(p) {
  only(p, ["mode", "line_items", "customer_email", "client_reference_id", "metadata",
    "payment_intent_data", "expires_at", "success_url", "cancel_url", "ui_mode", "currency"]);
  if (p.mode === undefined) throw missing("mode");
  if (!["payment", "setup", "subscription"].includes(p.mode)) throw invalid("Invalid mode", "mode");
  if (p.mode !== "payment") throw invalid("This fake supports mode=payment only", "mode");
  const items = asArray(p.line_items, "line_items");
  if (!items || !items.length) throw missing("line_items");
  if (items.length > 100) throw invalid("At most 100 line items", "line_items");
  let total = 0, currency;
  items.forEach((it, i) => {
    const n = `line_items[${i}]`;
    if (typeof it !== "object") throw invalid("Invalid line item", n);
    only(it, ["price_data", "quantity", "price"], n);
    if (it.price !== undefined) throw invalid("This fake knows no Prices; use price_data", `${n}[price]`, "resource_missing");
    const q = integer(it.quantity, `${n}[quantity]`, 1, 999999);
    if (q === undefined) throw missing(`${n}[quantity]`);
    const pd = it.price_data;
    if (pd === undefined) throw missing(`${n}[price_data]`);
    if (typeof pd !== "object") throw invalid("Invalid hash", `${n}[price_data]`);
    only(pd, ["currency", "unit_amount", "product_data"], `${n}[price_data]`);
    if (pd.currency === undefined) throw missing(`${n}[price_data][currency]`);
    if (!/^[a-z]{3}$/.test(pd.currency)) throw invalid("Invalid currency", `${n}[price_data][currency]`);
    const amount = integer(pd.unit_amount, `${n}[price_data][unit_amount]`, 0, 99999999);
    if (amount === undefined) throw missing(`${n}[price_data][unit_amount]`);
    const prod = pd.product_data;
    if (prod === undefined) throw missing(`${n}[price_data][product_data]`);
    if (typeof prod !== "object") throw invalid("Invalid hash", `${n}[price_data][product_data]`);
    only(prod, ["name", "description", "metadata"], `${n}[price_data][product_data]`);
    if (!prod.name) throw missing(`${n}[price_data][product_data][name]`);
    text(prod.name, `${n}[price_data][product_data][name]`, 250);
    if (currency && currency !== pd.currency) throw invalid("All line items must share one currency", `${n}[price_data][currency]`);
    currency = pd.currency;
    total += amount * q;
  });
  if (p.customer_email !== undefined && !/^[^@\s]+@[^@\s]+$/.test(p.customer_email))
    throw invalid("Invalid email address", "customer_email", "email_invalid");
  text(p.client_reference_id, "client_reference_id", 200);
  const md = metadata(p.metadata, "metadata");
  let piMetadata = {};
  if (p.payment_intent_data !== undefined) {
    if (typeof p.payment_intent_data !== "object") throw invalid("Invalid hash", "payment_intent_data");
    only(p.payment_intent_data, ["metadata", "description"], "payment_intent_data");
    piMetadata = metadata(p.payment_intent_data.metadata, "payment_intent_data[metadata]");
  }
  const created = now();
  let expires = created + 86400;
  if (p.expires_at !== undefined) {
    expires = integer(p.expires_at, "expires_at", 0, 2 ** 40);
    if (expires - created < 1800 || expires - created > 86400)
      throw invalid("The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.", "expires_at");
  }
  if (p.ui_mode !== undefined && p.ui_mode !== "hosted_page") throw invalid("This fake serves hosted_page only", "ui_mode");
  url(p.success_url, "success_url");
  url(p.cancel_url, "cancel_url");
  if (p.success_url === undefined) throw missing("success_url");
  const id = rid("cs");
  const s = {
    id, object: "checkout.session", amount_subtotal: total, amount_total: total,
    cancel_url: p.cancel_url ?? null, client_reference_id: p.client_reference_id ?? null,
    created, currency, customer: null,
    customer_details: p.customer_email ? { email: p.customer_email, name: null } : null,
    customer_email: p.customer_email ?? null, expires_at: expires, livemode: false,
    metadata: md, mode: "payment", payment_intent: null, payment_status: "unpaid",
    status: "open", success_url: p.success_url, ui_mode: "hosted_page",
    url: `${baseUrl}/pay/${id}`,
    _pi_metadata: piMetadata,
  };
  sessions.set(id, s);
  return s;
}

const publicSession = (s) => {
  const { _pi_metadata, ...rest } = s;
  return { ...rest, url: s.status === "open" ? rest.url : null };
};

function getSession(id) {
  const s = sessions.get(id);
  if (!s) throw new ApiError(404, "invalid_request_error", `No such checkout.session: '${id}'`, "session", "resource_missing");
  return s;
}

function expireSession(s) {
  if (s.status !== "open")
    throw invalid(`Only Checkout Sessions with a status in [open] can be expired. This Checkout Session has a status of ${s.status}.`, undefined, "checkout_session_not_open");
  s.status = "expired";
  emit("checkout.session.expired", publicSession(s));
}

function completeSession(s, paymentStatus) {
  if (s.status !== "open") throw invalid(`The session is ${s.status}`);
  const pi = rid("pi");
  intents.set(pi, {
    id: pi, amount: s.amount_total, currency: s.currency, metadata: { ...s._pi_metadata },
    status: paymentStatus === "paid" ? "succeeded" : "processing", charge: rid("ch"), refunded: 0,
  });
  s.status = "complete";
  s.payment_status = paymentStatus;
  s.payment_intent = pi;
  return publicSession(s);
}

function createRefund(p) {
  only(p, ["payment_intent", "charge", "amount", "metadata", "reason"]);
  if (p.payment_intent === undefined && p.charge === undefined) throw missing("payment_intent");
  if (p.charge !== undefined) throw invalid("This fake refunds by payment_intent", "charge");
  const pi = intents.get(p.payment_intent);
  if (!pi) throw new ApiError(400, "invalid_request_error", `No such payment_intent: '${p.payment_intent}'`, "payment_intent", "resource_missing");
  if (pi.status !== "succeeded") throw invalid("This PaymentIntent has not succeeded", "payment_intent", "payment_intent_unexpected_state");
  if (p.reason !== undefined && !["duplicate", "fraudulent", "requested_by_customer"].includes(p.reason))
    throw invalid("Invalid reason", "reason");
  const left = pi.amount - pi.refunded;
  const amount = p.amount === undefined ? left : integer(p.amount, "amount", 1, 99999999);
  if (left <= 0) throw invalid(`Charge ${pi.charge} has already been refunded.`, undefined, "charge_already_refunded");
  if (amount > left) throw invalid(`Refund amount is greater than the amount left`, "amount", "amount_too_large");
  pi.refunded += amount;
  const r = {
    id: rid("re"), object: "refund", amount, charge: pi.charge, created: now(), currency: pi.currency,
    metadata: metadata(p.metadata, "metadata"), payment_intent: pi.id, reason: p.reason ?? null, status: "succeeded",
  };
  refunds.set(r.id, r);
  emit("charge.refunded", chargeOf(pi));
  return r;
}

function chargeOf(pi) {
  return {
    id: pi.charge, object: "charge", amount: pi.amount, amount_captured: pi.amount,
    amount_refunded: pi.refunded, currency: pi.currency, metadata: { ...pi.metadata },
    paid: true, payment_intent: pi.id, refunded: pi.refunded >= pi.amount, status: "succeeded",
  };
}

// ---- Events -------------------------------------------------------------------

let holdEvents = false; // when set, events are recorded, not delivered

function emit(type, object) {
  const ev = {
    id: rid("evt"), object: "event", api_version: API_VERSION, created: now(),
    data: { object: JSON.parse(JSON.stringify(object)) }, livemode: false,
    pending_webhooks: 1, request: { id: null, idempotency_key: null }, type,
    deliveries: [],
  };
  events.push(ev);
  if (!holdEvents) deliver(ev, {}).catch(() => {});
  return ev;
}

const envelope = (ev) => {
  const { deliveries, ...rest } = ev;
  return rest;
};

// POSTs ev to bookingd, signed; opts: {timestamp_offset, secret, tamper,
// signature (a header value as is), no_signature}.
async function deliver(ev, opts) {
  const payload = JSON.stringify(envelope(ev), null, 2);
  const timestamp = now() + timestampOffset + (opts.timestamp_offset || 0);
  let header = stripe.webhooks.generateTestHeaderString({
    payload, secret: opts.secret || webhookSecret, timestamp,
  });
  if (opts.signature !== undefined) header = opts.signature;
  const body = opts.tamper ? payload.replace('"livemode": false', '"livemode": true') : payload;
  const headers = { "Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)" };
  if (!opts.no_signature) headers["Stripe-Signature"] = header;
  const result = await post(opts.url || webhookUrl, body, headers);
  ev.deliveries.push(result);
  return result;
}

function post(target, body, headers) {
  return new Promise((resolve) => {
    if (!target) return resolve({ status: 0, error: "no FAKE_WEBHOOK_URL" });
    const req = http.request(target, { method: "POST", headers: { ...headers, "Content-Length": Buffer.byteLength(body) } }, (res) => {
      let data = "";
      res.on("data", (c) => (data += c));
      res.on("end", () => resolve({ status: res.statusCode, body: data }));
    });
    req.on("error", (e) => resolve({ status: 0, error: e.message }));
    req.setTimeout(30000, () => req.destroy(new Error("timeout")));
    req.end(body);
  });
}

// ---- HTTP ---------------------------------------------------------------------

function send(res, status, obj, headers = {}) {
  // A "lost reply" failure: the request was carried out, its answer never
  // arrives (the connection drops), so the client cannot tell.
  if (res.loseReply) return res.socket.destroy();
  const body = JSON.stringify(obj, null, 2);
  res.writeHead(status, { "Content-Type": "application/json", "Request-Id": "req_" + crypto.randomBytes(8).toString("hex"), ...headers });
  res.end(body);
}

function authorize(req) {
  const h = req.headers["authorization"];
  if (!h) throw new ApiError(401, "invalid_request_error", "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').");
  const m = /^Bearer (sk_test_[A-Za-z0-9_]+)$/.exec(h);
  if (!m) throw new ApiError(401, "invalid_request_error", "Invalid API Key provided: " + h.replace(/^Bearer /, "").slice(0, 12) + "****", undefined, "api_key_invalid");
}

// Answers an API request; returns [status, body].
function api(method, path, params) {
  let m;
  if (method === "POST" && path === "/v1/checkout/sessions") return [200, publicSession(createSession(params))];
  if ((m = /^\/v1\/checkout\/sessions\/([A-Za-z0-9_]+)$/.exec(path)) && method === "GET") {
    only(params, ["expand"]);
    return [200, publicSession(getSession(m[1]))];
  }
  if ((m = /^\/v1\/checkout\/sessions\/([A-Za-z0-9_]+)\/expire$/.exec(path)) && method === "POST") {
    only(params, []);
    const s = getSession(m[1]);
    expireSession(s);
    return [200, publicSession(s)];
  }
  if (method === "POST" && path === "/v1/refunds") return [200, createRefund(params)];
  if ((m = /^\/v1\/refunds\/([A-Za-z0-9_]+)$/.exec(path)) && method === "GET") {
    const r = refunds.get(m[1]);
    if (!r) throw new ApiError(404, "invalid_request_error", `No such refund: '${m[1]}'`, "id", "resource_missing");
    return [200, r];
  }
  throw new ApiError(404, "invalid_request_error", `Unrecognized request URL (${method}: ${path}).`);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = "";
    req.setEncoding("utf8");
    req.on("data", (c) => {
      data += c;
      if (data.length > 1024 * 1024) reject(new ApiError(413, "invalid_request_error", "Request too large"));
    });
    req.on("end", () => resolve(data));
    req.on("error", reject);
  });
}

async function handleApi(req, res, path, query) {
  const raw = await readBody(req);
  const entry = { method: req.method, path, idempotency_key: req.headers["idempotency-key"] ?? null,
    content_type: req.headers["content-type"] ?? null, body: raw, status: 0 };
  requests.push(entry);
  if (apiDelayMs > 0) await new Promise((r) => setTimeout(r, apiDelayMs));
  if (apiGate) await apiGate.promise;
  const fail = failures.find((f) => f.count > 0 && (!f.method || f.method === req.method) && path.startsWith(f.prefix));
  if (fail && fail.status === -1) {
    fail.count--;
    entry.lost_reply = true;
    res.loseReply = true;
  } else if (fail) {
    fail.count--;
    entry.status = fail.status;
    if (fail.status === 0) return req.socket.destroy();
    const type = fail.status === 429 ? "rate_limit_error" : "api_error";
    return send(res, fail.status, errorBody({ type, message: fail.status === 429 ? "Too many requests" : "An unknown error occurred", code: fail.status === 429 ? "rate_limit" : undefined }),
      fail.status === 429 ? { "Stripe-Should-Retry": "true" } : {});
  }
  try {
    authorize(req);
    let params;
    if (req.method === "POST") {
      const ct = (req.headers["content-type"] || "").split(";")[0].trim().toLowerCase();
      if (ct !== "application/x-www-form-urlencoded")
        throw invalid("Invalid request: Content-Type must be application/x-www-form-urlencoded");
      params = parseForm(raw);
    } else {
      if (raw) throw invalid("A GET request has no body");
      params = parseForm(query);
    }
    const key = req.headers["idempotency-key"];
    if (key !== undefined && req.method === "POST") {
      if (key.length === 0 || key.length > 255) throw invalid("Idempotency keys are 1 to 255 characters", undefined, "idempotency_key_invalid");
      const fingerprint = JSON.stringify([req.method, path, params]);
      const saved = idempotency.get(key);
      if (saved) {
        if (saved.fingerprint !== fingerprint) {
          entry.status = 400;
          return send(res, 400, errorBody({ type: "idempotency_error",
            message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.` }));
        }
        entry.status = saved.status;
        entry.replayed = true;
        return send(res, saved.status, saved.body, { "Idempotent-Replayed": "true", "Idempotency-Key": key });
      }
      const [status, body] = api(req.method, path, params);
      idempotency.set(key, { fingerprint, status, body });
      entry.status = status;
      return send(res, status, body, { "Idempotency-Key": key });
    }
    const [status, body] = api(req.method, path, params);
    entry.status = status;
    return send(res, status, body);
  } catch (e) {
    if (!(e instanceof ApiError)) {
      entry.status = 500;
      return send(res, 500, errorBody({ type: "api_error", message: String(e && e.message) }));
    }
    entry.status = e.status;
    return send(res, e.status, errorBody(e));
  }
}

// ---- Control (/_fake) and the hosted page -------------------------------------

async function json(req) {
  const raw = await readBody(req);
  return raw ? JSON.parse(raw) : {};
}

async function control(req, res, path) {
  let m;
  const body = req.method === "POST" ? await json(req) : {};
  if (path === "/_fake/requests") return send(res, 200, requests);
  if (path === "/_fake/events") return send(res, 200, events);
  if (path === "/_fake/sessions") return send(res, 200, [...sessions.values()].map(publicSession));
  if (path === "/_fake/config" && req.method === "POST") {
    if (body.webhook_secret !== undefined) webhookSecret = body.webhook_secret;
    if (body.hold_events !== undefined) holdEvents = !!body.hold_events;
    if (body.webhook_url !== undefined) webhookUrl = body.webhook_url;
    if (body.timestamp_offset !== undefined) timestampOffset = Number(body.timestamp_offset);
    if (body.api_delay_ms !== undefined) apiDelayMs = Number(body.api_delay_ms);
    // hold_api: API requests are received and then kept waiting until
    // hold_api is false again (a Stripe that answers nothing meanwhile).
    if (body.hold_api === true && !apiGate) {
      let open;
      const promise = new Promise((r) => { open = r; });
      apiGate = { promise, open };
    } else if (body.hold_api === false && apiGate) {
      apiGate.open();
      apiGate = null;
    }
    return send(res, 200, { webhook_secret: webhookSecret, hold_events: holdEvents, webhook_url: webhookUrl, timestamp_offset: timestampOffset, api_delay_ms: apiDelayMs, hold_api: !!apiGate });
  }
  if (path === "/_fake/fail" && req.method === "POST") {
    failures.push({ method: body.method, prefix: body.prefix || "/", status: body.status ?? 500, count: body.count ?? 1 });
    return send(res, 200, { ok: true });
  }
  if (path === "/_fake/fail/clear" && req.method === "POST") {
    failures = [];
    return send(res, 200, { ok: true });
  }
  if ((m = /^\/_fake\/sessions\/([A-Za-z0-9_]+)\/(complete|expire|async)$/.exec(path)) && req.method === "POST") {
    const s = sessions.get(m[1]);
    if (!s) return send(res, 404, { error: "no such session" });
    try {
      let evs = [];
      if (m[2] === "complete") {
        const ps = body.payment_status || "paid";
        const obj = completeSession(s, ps);
        evs.push(emit("checkout.session.completed", obj));
      } else if (m[2] === "expire") {
        expireSession(s);
        evs.push(events[events.length - 1]);
      } else {
        const pi = intents.get(s.payment_intent);
        if (!pi || s.status !== "complete") return send(res, 409, { error: "not completed" });
        pi.status = body.succeeded ? "succeeded" : "requires_payment_method";
        s.payment_status = body.succeeded ? "paid" : "unpaid";
        evs.push(emit(body.succeeded ? "checkout.session.async_payment_succeeded" : "checkout.session.async_payment_failed", publicSession(s)));
      }
      return send(res, 200, { session: publicSession(s), events: evs.map(envelope) });
    } catch (e) {
      return send(res, 409, { error: e.message });
    }
  }
  if ((m = /^\/_fake\/events\/([A-Za-z0-9_]+)\/deliver$/.exec(path)) && req.method === "POST") {
    const ev = events.find((e) => e.id === m[1]);
    if (!ev) return send(res, 404, { error: "no such event" });
    return send(res, 200, await deliver(ev, body));
  }
  return send(res, 404, { error: "no such control" });
}

function page(res, s) {
  const esc = (x) => String(x).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Fake Stripe Checkout</title></head>
<body><h1>Pay ${esc((s.amount_total / 100).toFixed(2))} ${esc(s.currency.toUpperCase())}</h1>
<p>Status: ${esc(s.status)}</p>
<form method="post" action="/pay/${esc(s.id)}/pay"><button>Pay</button></form>
<form method="post" action="/pay/${esc(s.id)}/cancel"><button>Cancel</button></form></body></html>`);
}

async function hosted(req, res, path) {
  const m = /^\/pay\/([A-Za-z0-9_]+)(\/pay|\/cancel)?$/.exec(path);
  const s = m && sessions.get(m[1]);
  if (!s) return send(res, 404, { error: "no such session" });
  if (!m[2]) return page(res, s);
  if (m[2] === "/pay" && s.status === "open") {
    emit("checkout.session.completed", completeSession(s, "paid"));
    res.writeHead(303, { Location: s.success_url.replace("{CHECKOUT_SESSION_ID}", s.id) });
    return res.end();
  }
  res.writeHead(303, { Location: s.cancel_url || s.success_url });
  return res.end();
}

const server = http.createServer(async (req, res) => {
  const u = new URL(req.url, "http://fake");
  try {
    if (u.pathname.startsWith("/_fake/")) return await control(req, res, u.pathname);
    if (u.pathname.startsWith("/pay/")) return await hosted(req, res, u.pathname);
    return await handleApi(req, res, u.pathname, u.search.slice(1));
  } catch (e) {
    send(res, e.status || 500, errorBody(e instanceof ApiError ? e : { type: "api_error", message: String(e) }));
  }
});
server.listen(Number(process.env.FAKE_PORT || 0), "127.0.0.1", () => {
  baseUrl = `http://127.0.0.1:${server.address().port}`;
  console.log(JSON.stringify({ port: server.address().port }));
});
