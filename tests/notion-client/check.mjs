// tests/notion-client/check.mjs — drives the Notion contract fake
// (tests/integration/notion_fake.py) with the official client,
// @notionhq/client 4.0.2 (the last release whose default Notion-Version is
// 2022-06-28, the version bookingd pins), through `baseUrl`. If the
// official client cannot talk to the fake, the fake is wrong.
// usage: NOTION_BASE=http://127.0.0.1:PORT NOTION_TOKEN=... NOTION_ROOT=<page id>
//        node check.mjs main|ratelimit
import {
  Client,
  APIErrorCode,
  isNotionClientError,
  iteratePaginatedAPI,
  collectPaginatedAPI,
} from "@notionhq/client";

const base = process.env.NOTION_BASE;
const token = process.env.NOTION_TOKEN;
const root = process.env.NOTION_ROOT;
const notion = new Client({ auth: token, baseUrl: base, notionVersion: "2022-06-28" });

function check(cond, what) {
  if (!cond) {
    console.error("FAILED: " + what);
    process.exit(1);
  }
}

async function expectError(p, code, what) {
  try {
    await p;
  } catch (e) {
    check(isNotionClientError(e), `${what}: a Notion client error (${e})`);
    check(e.code === code, `${what}: code ${code}, got ${e.code}`);
    return e;
  }
  check(false, `${what}: should have failed with ${code}`);
}

async function main() {
  const me = await notion.users.me({});
  check(me.object === "user", "users.me");

  const clients = await notion.databases.create({
    parent: { type: "page_id", page_id: root },
    title: [{ type: "text", text: { content: "Clients" } }],
    properties: {
      Name: { title: {} },
      Email: { email: {} },
      Status: { select: { options: [{ name: "prospect" }, { name: "active" }] } },
      "bookingd id": { rich_text: {} },
    },
  });
  check(clients.object === "database" && clients.id, "databases.create");
  const sessions = await notion.databases.create({
    parent: { type: "page_id", page_id: root },
    title: [{ type: "text", text: { content: "Sessions" } }],
    properties: {
      Name: { title: {} },
      Date: { date: {} },
      Amount: { number: { format: "number" } },
      Client: { relation: { database_id: clients.id, single_property: {} } },
    },
  });
  const got = await notion.databases.retrieve({ database_id: sessions.id });
  check(got.properties.Client.type === "relation", "databases.retrieve");

  // databases.update adds missing properties (what bookingd does to an
  // adopted database), and the fake refuses a second title as Notion does.
  const updated = await notion.databases.update({
    database_id: clients.id,
    properties: { Phone: { phone_number: {} }, Notes: { rich_text: {} } },
  });
  check(
    updated.properties.Phone.type === "phone_number" &&
      updated.properties.Notes.type === "rich_text" &&
      updated.properties.Name.type === "title",
    "databases.update adds properties",
  );
  await expectError(
    notion.databases.update({
      database_id: clients.id,
      properties: { Other: { title: {} } },
    }),
    "validation_error",
    "databases.update refuses a second title",
  );

  const made = [];
  for (let i = 0; i < 60; i++) {
    made.push(
      await notion.pages.create({
        parent: { database_id: clients.id },
        properties: {
          Name: { title: [{ text: { content: `Client ${i}` } }] },
          Email: { email: `c${i}@example.com` },
          Status: { select: { name: i % 2 ? "active" : "prospect" } },
          "bookingd id": { rich_text: [{ text: { content: `cli_${i}` } }] },
        },
      }),
    );
  }
  check(made[0].object === "page" && made[0].properties.Name.title[0].plain_text === "Client 0",
        "pages.create answers the page");

  // Pagination with the client's own helpers.
  let n = 0;
  for await (const page of iteratePaginatedAPI(notion.databases.query, {
    database_id: clients.id,
    page_size: 25,
  })) {
    check(page.object === "page", "query results are pages");
    n++;
  }
  check(n === 60, `60 rows paged through, got ${n}`);
  const act = await collectPaginatedAPI(notion.databases.query, {
    database_id: clients.id,
    filter: { property: "Status", select: { equals: "active" } },
    page_size: 7,
  });
  check(act.length === 30, `30 active rows, got ${act.length}`);
  const one = await notion.databases.query({
    database_id: clients.id,
    filter: { property: "bookingd id", rich_text: { equals: "cli_7" } },
  });
  check(one.results.length === 1 && one.results[0].id === made[7].id, "filter by bookingd id");
  const since = await notion.databases.query({
    database_id: clients.id,
    filter: { timestamp: "last_edited_time", last_edited_time: { on_or_after: made[59].last_edited_time } },
    sorts: [{ timestamp: "last_edited_time", direction: "ascending" }],
  });
  check(since.results.some((p) => p.id === made[59].id), "last_edited_time filter");

  // A session related to a client, then updated.
  const s = await notion.pages.create({
    parent: { database_id: sessions.id },
    properties: {
      Name: { title: [{ text: { content: "Intro with Client 1" } }] },
      Date: { date: { start: "2026-12-01T10:00:00", end: "2026-12-01T10:30:00", time_zone: "Europe/Berlin" } },
      Amount: { number: 49.5 },
      Client: { relation: [{ id: made[1].id }] },
    },
  });
  const u = await notion.pages.update({
    page_id: s.id,
    properties: { Amount: { number: 60 } },
  });
  check(u.properties.Amount.number === 60, "pages.update");
  const r = await notion.pages.retrieve({ page_id: s.id });
  check(r.properties.Client.relation[0].id === made[1].id, "pages.retrieve relation");
  check(r.properties.Date.date.time_zone === "Europe/Berlin", "date with time zone");

  // Comments and block children.
  const c = await notion.comments.create({
    parent: { page_id: s.id },
    rich_text: [{ text: { content: "the slot is taken" } }],
  });
  check(c.object === "comment", "comments.create");
  const cl = await notion.comments.list({ block_id: s.id });
  check(cl.results.length === 1, "comments.list");
  const kids = await collectPaginatedAPI(notion.blocks.children.list, { block_id: root, page_size: 1 });
  check(kids.filter((b) => b.type === "child_database").length === 2, "blocks.children.list");

  // Errors as the client expects them.
  await expectError(notion.pages.retrieve({ page_id: "00000000-0000-4000-8000-000000000000" }),
                    APIErrorCode.ObjectNotFound, "an unknown page");
  await expectError(
    notion.pages.create({ parent: { database_id: clients.id }, properties: { Nope: { rich_text: [] } } }),
    APIErrorCode.ValidationError, "an unknown property");
  await expectError(
    notion.pages.update({ page_id: s.id, properties: { Amount: { number: "many" } } }),
    APIErrorCode.ValidationError, "a wrong property type");
  await expectError(new Client({ auth: "secret_wrong", baseUrl: base }).users.me({}),
                    APIErrorCode.Unauthorized, "a wrong token");
  console.log("ok");
}

async function ratelimit() {
  const e = await expectError(notion.users.me({}), APIErrorCode.RateLimited, "a 429");
  check(e.status === 429, "status 429");
  check(e.headers && (e.headers.get ? e.headers.get("retry-after") : e.headers["retry-after"]) !== undefined,
        "Retry-After is given");
  console.log("ok");
}

const phase = process.argv[2] || "main";
(phase === "ratelimit" ? ratelimit() : main()).catch((e) => {
  console.error("FAILED: " + (e && e.stack ? e.stack : e));
  process.exit(1);
});
