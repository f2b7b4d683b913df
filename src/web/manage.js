// web/manage.js — the manage page (/manage/{uid}?token=): see one booking,
// cancel it with a reason, or move it to another time. The token from the
// confirmation authorizes every call. Shared pieces are in common.js.
import {
  api, errorText, fillZoneSelect, formatRange, notice, SlotPicker, TAKEN_TEXT,
} from "./common.js";

const $ = (id) => document.getElementById(id);
const uid = decodeURIComponent(location.pathname.replace(/^\/manage\//, ""));
const token = new URLSearchParams(location.search).get("token") || "";
const base = "/api/v1/bookings/" + encodeURIComponent(uid);
const auth = "?token=" + encodeURIComponent(token);
/* The booking being moved does not block its own neighbourhood. */
const picker = new SlotPicker($("slots"), $("slots-status"), picked,
                              { exclude: uid, token });
let booking = null;
let title = "";
let tz = fillZoneSelect($("tz"));

const STATUS = {
  pending: "Awaiting payment",
  confirmed: "Confirmed",
  cancelled: "Cancelled",
  completed: "Completed",
  no_show: "Missed",
};

function fail(text) {
  $("booking").hidden = true;
  $("cancel-step").hidden = true;
  $("reschedule-step").hidden = true;
  notice($("page-status"), "");
  notice($("page-error"), text, "error");
}

function when(b) {
  return formatRange(b.start, b.end, tz) + " (" + tz.replace(/_/g, " ") + ")";
}

function show(b) {
  booking = b;
  $("b-title").textContent = title || b.event_type;
  const badge = $("b-status");
  badge.textContent = STATUS[b.status] || b.status;
  badge.dataset.status = b.status;
  $("b-when").textContent = when(b);
  $("b-who").textContent = b.attendee.name + " <" + b.attendee.email + ">";
  const cancelled = b.status === "cancelled";
  $("b-reason-label").hidden = $("b-reason").hidden =
    !(cancelled && b.cancellation_reason);
  $("b-reason").textContent = b.cancellation_reason || "";
  const open = b.status === "confirmed" || b.status === "pending";
  $("actions").hidden = !open;
  $("rebook").hidden = !cancelled;
  showPayment(b);
  $("booking").hidden = false;
  document.title = (cancelled ? "Cancelled: " : "Your booking: ") +
                   (title || b.event_type);
}

const PAYMENT = {
  unpaid: "Payment pending",
  paid: "Payment received",
  refunded: "Refunded",
  failed: "Payment failed",
};

/* What the ledger says of the payment — never the ?checkout= of Stripe's
 * redirect, which anyone can type. */
function showPayment(b) {
  const priced = !!b.payment;
  $("b-payment-label").hidden = $("b-payment").hidden = !priced;
  if (priced) {
    const amount = new Intl.NumberFormat(undefined, {
      style: "currency", currency: b.payment.currency,
    }).format(b.payment.amount / 100);
    let text = amount + " · " + (PAYMENT[b.payment_status] || b.payment_status);
    if (b.status === "pending" && b.hold_expires_at)
      text += " (held for you until " +
              formatRange(b.hold_expires_at, null, tz) + ")";
    $("b-payment").textContent = text;
  } else if (b.credit) {
    /* Paid with a credit of a package of sessions (docs/payments.md). */
    $("b-payment-label").hidden = $("b-payment").hidden = false;
    $("b-payment").textContent = "Paid with a package credit";
  }
  /* The invoice, once paid: its PDF opens with the same token. */
  const invoice = priced && b.payment.invoice;
  $("b-invoice-label").hidden = $("b-invoice").hidden = !invoice;
  if (invoice) {
    $("invoice-link").href = "/api/v1/invoices/" +
      encodeURIComponent(invoice) + ".pdf" + auth;
    $("invoice-link").textContent = invoice + " (PDF)";
  }
  const waiting = b.status === "pending" && b.payment_status === "unpaid";
  $("pay").hidden = !waiting;
  $("pay-link").hidden = !(waiting && b.checkout_url);
  $("pay-retry").hidden = !(waiting && !b.checkout_url);
  if (waiting && b.checkout_url)
    $("pay-link").href = b.checkout_url;
  if (waiting && b.payment.error)
    notice($("pay-error"), b.payment.error, "error");
  else
    notice($("pay-error"), "");
}

$("pay-retry").addEventListener("click", async () => {
  $("pay-retry").disabled = true;
  const r = await api("POST", base + "/payment" + auth, {});
  $("pay-retry").disabled = false;
  if (!r.ok) {
    notice($("pay-error"), errorText(r), "error");
    return;
  }
  if (r.data.checkout_url) {
    location.assign(r.data.checkout_url);
    return;
  }
  show(r.data);
});

async function load() {
  if (!uid || uid.includes("/") || !token) {
    fail("This link is incomplete. Please open the full “Manage your " +
         "booking” link from your confirmation.");
    return;
  }
  const r = await api("GET", base + auth);
  if (!r.ok) {
    if (r.status === 401 || r.status === 404)
      fail("This link does not open a booking: it may be mistyped or " +
           "incomplete. Please use the full link from your confirmation.");
    else
      fail(errorText(r));
    return;
  }
  title = r.data.event_type_title || "";
  notice($("page-status"), "");
  show(r.data);
  awaitPayment(r.data);
}

/* Back from Stripe's page after paying: its webhook confirms the booking
 * a moment later, so the page looks again for a while. What it shows is
 * the ledger's, whatever the ?checkout= says. */
let polls = 0;
function awaitPayment(b) {
  const back = new URLSearchParams(location.search).get("checkout");
  if (back !== "success" || b.status !== "pending" || polls >= 30)
    return;
  polls++;
  message("Waiting for the payment to be confirmed…");
  setTimeout(async () => {
    const r = await api("GET", base + auth);
    if (!r.ok)
      return;
    show(r.data);
    if (r.data.status !== "pending")
      message("");
    awaitPayment(r.data);
  }, 2000);
}

function message(text) {
  notice($("b-message"), text);
}

function closeSteps() {
  $("cancel-step").hidden = true;
  $("reschedule-step").hidden = true;
  $("actions").hidden = !(booking.status === "confirmed" ||
                          booking.status === "pending");
}

$("tz").addEventListener("change", async () => {
  tz = $("tz").value;
  show(booking);
  if (!$("reschedule-step").hidden) {
    await picker.load(null, tz);
    if (picker.selected)
      picked();
    else
      $("reschedule-pick").hidden = true;
  }
});

/* What cancelling gives back, as the ledger computes it now (the refund
 * policy of the event type): read again when the step opens, since the
 * answer changes as the start comes nearer. */
function money(amount, currency) {
  return new Intl.NumberFormat(undefined, { style: "currency", currency })
    .format(amount / 100);
}

function showRefund(b) {
  const r = b && b.payment && b.payment.refund_if_cancelled;
  const el = $("cancel-refund");
  el.hidden = !r;
  if (!r)
    return;
  if (r.full)
    el.textContent = "Cancelling now refunds the full " +
      money(r.amount, b.payment.currency) + ".";
  else if (r.amount > 0)
    el.textContent = "Cancelling now refunds " +
      money(r.amount, b.payment.currency) + " of " +
      money(b.payment.amount, b.payment.currency) + " (" +
      r.late_refund_percent + " %): the full refund ended " +
      formatRange(r.full_refund_until, null, tz) + ".";
  else
    el.textContent = "Cancelling now refunds nothing: the full refund " +
      "ended " + formatRange(r.full_refund_until, null, tz) + ".";
}

/* Cancel: a confirm step with an optional reason. */
$("cancel-open").addEventListener("click", async () => {
  message("");
  $("reschedule-step").hidden = true;
  $("actions").hidden = true;
  notice($("cancel-error"), "");
  showRefund(booking);
  $("cancel-step").hidden = false;
  $("cancel-heading").focus();
  if (booking && booking.payment) {
    const r = await api("GET", base + auth);
    if (r.ok) {
      booking = r.data;
      showRefund(booking);
    }
  }
});

$("cancel-back").addEventListener("click", () => {
  closeSteps();
  $("cancel-open").focus();
});

$("cancel-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const button = $("cancel-confirm");
  button.disabled = true;
  const reason = $("reason").value.trim();
  const r = await api("POST", base + "/cancel" + auth,
                      reason ? { reason } : {});
  button.disabled = false;
  if (!r.ok) {
    notice($("cancel-error"), errorText(r), "error");
    return;
  }
  show(r.data);
  closeSteps();
  message("Your booking is cancelled. The time is free for others again.");
  $("b-title").focus();
});

/* Reschedule: the event type's free times, then a confirm step. */
$("reschedule-open").addEventListener("click", () => {
  message("");
  $("cancel-step").hidden = true;
  $("actions").hidden = true;
  $("reschedule-pick").hidden = true;
  notice($("slot-notice"), "");
  $("reschedule-step").hidden = false;
  $("reschedule-heading").focus();
  picker.clear();
  picker.load(booking.event_type, tz);
});

$("reschedule-back").addEventListener("click", () => {
  closeSteps();
  $("reschedule-open").focus();
});

function picked() {
  const s = picker.selected;
  notice($("slot-notice"), "");
  notice($("reschedule-error"), "");
  $("new-when").textContent = formatRange(s.start, s.end, tz);
  $("reschedule-pick").hidden = false;
  $("reschedule-pick").scrollIntoView({ block: "nearest" });
}

$("reschedule-confirm").addEventListener("click", async () => {
  const slot = picker.selected;
  if (!slot)
    return;
  const button = $("reschedule-confirm");
  button.disabled = true;
  const r = await api("POST", base + "/reschedule" + auth,
                      { start: slot.start });
  button.disabled = false;
  if (r.ok) {
    show(r.data);
    closeSteps();
    message("Your booking is moved to " + when(r.data) + ".");
    $("b-title").focus();
    return;
  }
  if (r.status === 409 && r.error.code === "slot_unavailable") {
    $("reschedule-pick").hidden = true;
    picker.clear();
    notice($("slot-notice"), TAKEN_TEXT, "error");
    await picker.load();
  } else {
    notice($("reschedule-error"), errorText(r), "error");
  }
});

load();
