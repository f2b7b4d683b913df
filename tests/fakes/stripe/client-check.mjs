// tests/fakes/stripe/client-check.mjs — checks the fake against the
// official stripe client: creates a Checkout Session through it, retrieves
// it, expires it, and sees the fake refuse what Stripe refuses (an unknown
// parameter, a wrong key, an expires_at out of bounds, an idempotency key
// reused with other parameters) with the errors the client knows.
// Usage: node client-check.mjs PORT      (prints "ok" or fails)
import assert from "node:assert/strict";
import Stripe from "stripe";

const port = Number(process.argv[2]);
const opts = { host: "127.0.0.1", port, protocol: "http", maxNetworkRetries: 0 };
const stripe = new Stripe("sk_test_client_check", opts);
const params = {
  mode: "payment",
  line_items: [{ quantity: 1, price_data: { currency: "eur", unit_amount: 4500, product_data: { name: "Intro call" } } }],
  customer_email: "ada@example.com",
  client_reference_id: "BOOKINGUID",
  metadata: { booking_uid: "BOOKINGUID" },
  expires_at: Math.floor(Date.now() / 1000) + 3600,
  success_url: "http://127.0.0.1/manage/x?checkout=success",
  cancel_url: "http://127.0.0.1/manage/x?checkout=cancel",
};
const s = await stripe.checkout.sessions.create(params);
assert.match(s.id, /^cs_test_/);
assert.equal(s.object, "checkout.session");
assert.equal(s.status, "open");
assert.equal(s.payment_status, "unpaid");
assert.equal(s.amount_total, 4500);
assert.equal(s.currency, "eur");
assert.equal(s.metadata.booking_uid, "BOOKINGUID");
assert.ok(s.url);
const got = await stripe.checkout.sessions.retrieve(s.id);
assert.deepEqual(got, s);
const expired = await stripe.checkout.sessions.expire(s.id);
assert.equal(expired.status, "expired");
assert.equal(expired.url, null);

// Idempotency through the client: same key and parameters, same answer;
// other parameters, an idempotency error.
const a = await stripe.checkout.sessions.create(params, { idempotencyKey: "k1" });
const b = await stripe.checkout.sessions.create(params, { idempotencyKey: "k1" });
assert.equal(a.id, b.id);
await assert.rejects(
  stripe.checkout.sessions.create({ ...params, customer_email: "bob@example.com" }, { idempotencyKey: "k1" }),
  (e) => e.type === "StripeIdempotencyError" && e.statusCode === 400);

await assert.rejects(stripe.checkout.sessions.create({ ...params, colour: "red" }),
  (e) => e.type === "StripeInvalidRequestError" && e.param === "colour" && e.statusCode === 400);
await assert.rejects(stripe.checkout.sessions.create({ ...params, expires_at: Math.floor(Date.now() / 1000) + 600 }),
  (e) => e.type === "StripeInvalidRequestError" && e.param === "expires_at");
await assert.rejects(stripe.checkout.sessions.retrieve("cs_test_nope"),
  (e) => e.type === "StripeInvalidRequestError" && e.statusCode === 404 && e.code === "resource_missing");
await assert.rejects(new Stripe("sk_live_nope", opts).checkout.sessions.retrieve(s.id),
  (e) => e.type === "StripeAuthenticationError" && e.statusCode === 401);
console.log("ok");
