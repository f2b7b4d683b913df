// Reads {"secret", "messages": [{"headers", "body"}]} on stdin and verifies
// every message with the official Standard Webhooks package; prints
// "verified N" or fails with the first error.
import { Webhook } from "standardwebhooks";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { secret, messages } = JSON.parse(input);
const wh = new Webhook(secret);
for (const m of messages) {
  wh.verify(m.body, m.headers); // throws on a bad signature or timestamp
}
console.log(`verified ${messages.length}`);
