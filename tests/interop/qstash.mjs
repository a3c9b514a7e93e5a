// Interop: `@upstash/qstash` 2.12 against upstash-local's QStash service, and signatures in both
// directions between the official `Receiver` and our `upstash-qstash` crate.
//
// Reads QSTASH_URL, QSTASH_TOKEN, QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY (the env
// block upstash-local prints). The script runs its own HTTP receiver on 127.0.0.1 (ephemeral
// port); every delivery upstash-local makes to it is checked with the official `Receiver`
// (signature, body hash and subject = the exact URL). The checks:
//
// - the JS client publishes through upstash-local: publish, publishJSON, enqueueJSON (FIFO),
//   batch, URL groups (add/list/get/publish/remove/delete), schedules (create/list/get/pause/
//   resume, fired by the local trigger endpoint, delete), messages get/cancel, DLQ list/delete;
// - tokens signed with node:crypto exactly as QStash signs them (HS256, padded body hash) are
//   accepted by our Receiver (examples/interop_qstash.rs), tampered ones refused;
// - tokens made by our Signer are accepted by the official Receiver.
//
// The last line is `qstash interop: N passed, N failed`; the exit status is 1 when anything
// failed. The Rust side is built with `cargo build --quiet --all-features --example
// interop_qstash` unless INTEROP_QSTASH_BIN names a prebuilt binary.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, createHmac, randomUUID } from "node:crypto";
import http from "node:http";
import { Client, Receiver } from "@upstash/qstash";
import { rustExample } from "./rust_side.mjs";

const env = process.env;
for (const name of ["QSTASH_URL", "QSTASH_TOKEN", "QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY"]) {
  if (!env[name]) {
    console.error(`${name} must be set (eval the upstash-local env block)`);
    process.exit(2);
  }
}
// The receiver below must use the keys given, not dev mode.
delete env.QSTASH_DEV;

const run = randomUUID().slice(0, 8);
const WAIT_MS = 60_000;

let passed = 0;
let failed = 0;

// ---------------------------------------------------------------- the Rust binary
const BIN = rustExample("interop_qstash", "INTEROP_QSTASH_BIN", "qstash interop");

function rust(args) {
  const out = spawnSync(BIN, args, { encoding: "utf8", env });
  if (out.error) throw new Error(`cannot run ${BIN}: ${out.error.message}`);
  if (out.status !== 0) throw new Error(`${BIN} exited with ${out.status}: ${out.stderr.trim()}`);
  return out.stdout.trim();
}

const rustVerify = (signature, body, url) => {
  const args = ["verify", "--signature", signature, "--body", body];
  if (url !== undefined) args.push("--url", url);
  return JSON.parse(rust(args));
};
const rustSign = (body, url, key = "current") => rust(["sign", "--body", body, "--url", url, "--key", key]);

// ---------------------------------------------------------------- signing like QStash
const b64url = (buf) => Buffer.from(buf).toString("base64url");
// QStash puts the body hash in with its `=` padding.
const paddedHash = (body) => createHash("sha256").update(body).digest("base64").replace(/\+/g, "-").replace(/\//g, "_");

function qstashSign(key, body, url, { padded = true, now = Math.floor(Date.now() / 1000), extra = {} } = {}) {
  const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const hash = padded ? paddedHash(body) : b64url(createHash("sha256").update(body).digest());
  const claims = {
    iss: "Upstash",
    sub: url,
    exp: now + 300,
    nbf: now,
    iat: now,
    jti: `jwt_${randomUUID().replace(/-/g, "")}`,
    body: hash,
    ...extra,
  };
  const payload = b64url(JSON.stringify(claims));
  const sig = createHmac("sha256", Buffer.from(key, "utf8")).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${sig}`;
}

// ---------------------------------------------------------------- the local receiver
const receiver = new Receiver({
  currentSigningKey: env.QSTASH_CURRENT_SIGNING_KEY,
  nextSigningKey: env.QSTASH_NEXT_SIGNING_KEY,
});
const deliveries = []; // {path, headers, body, verified, error}
let BASE;

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const record = { path: req.url, method: req.method, headers: req.headers, body, verified: false, error: null };
    try {
      const signature = req.headers["upstash-signature"];
      if (!signature) throw new Error("no Upstash-Signature header");
      record.verified = await receiver.verify({ signature, body, url: `${BASE}${req.url}` });
    } catch (err) {
      record.error = err?.message ?? String(err);
    }
    deliveries.push(record);
    const fail = req.url.includes("/fail");
    res.writeHead(fail ? 500 : 200, { "content-type": "text/plain" });
    res.end(fail ? "failing on purpose" : "ok");
  });
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
BASE = `http://127.0.0.1:${server.address().port}`;
const url = (name) => `${BASE}/${run}/${name}`;

async function waitFor(what, pred, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const deliveredTo = (p) => deliveries.filter((d) => d.path === new URL(p).pathname + new URL(p).search);

// Waits for `n` deliveries to URL `u`, each verified by the official Receiver.
async function delivered(u, n = 1) {
  const got = await waitFor(`${n} deliveries to ${u}`, () => {
    const ds = deliveredTo(u);
    return ds.length >= n ? ds : null;
  });
  for (const d of got) assert.ok(d.verified === true, `delivery to ${u} failed verification: ${d.error}`);
  return got;
}

const client = new Client({ baseUrl: env.QSTASH_URL, token: env.QSTASH_TOKEN, retry: false });

async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (err) {
    failed += 1;
    console.log(`FAIL ${name}: ${err?.stack ?? err}`);
  }
}

// ---------------------------------------------------------------- publishing
await check("publish: raw body, forwarded header, signed delivery", async () => {
  const u = url("publish?x=1");
  const res = await client.publish({ url: u, body: "hello qstash", headers: { "x-run": run } });
  assert.match(res.messageId, /^msg_/);
  const [d] = await delivered(u);
  assert.equal(d.body, "hello qstash");
  assert.equal(d.headers["x-run"], run);
  assert.equal(d.headers["upstash-message-id"], res.messageId);
  assert.equal(d.headers["upstash-retried"], "0");
});

await check("publishJSON: JSON body and content type", async () => {
  const u = url("json");
  const res = await client.publishJSON({ url: u, body: { hello: "world", n: 1 } });
  assert.match(res.messageId, /^msg_/);
  const [d] = await delivered(u);
  assert.deepEqual(JSON.parse(d.body), { hello: "world", n: 1 });
  assert.match(d.headers["content-type"], /application\/json/);
});

await check("enqueueJSON: a queue with parallelism 1 delivers in order", async () => {
  const queue = client.queue({ queueName: `interop-${run}` });
  const u = url("queue");
  for (let i = 0; i < 4; i += 1) await queue.enqueueJSON({ url: u, body: { i } });
  const ds = await delivered(u, 4);
  assert.deepEqual(ds.map((d) => JSON.parse(d.body).i), [0, 1, 2, 3]);
  const info = await queue.get();
  assert.equal(info.name, `interop-${run}`);
  assert.equal(info.parallelism, 1);
  await queue.delete();
});

await check("batch: two destinations", async () => {
  const [a, b] = [url("batch-a"), url("batch-b")];
  const res = await client.batch([
    { url: a, body: "A" },
    { url: b, body: "B" },
  ]);
  assert.equal(res.length, 2);
  assert.match(res[0].messageId, /^msg_/);
  assert.notEqual(res[0].messageId, res[1].messageId);
  assert.equal((await delivered(a))[0].body, "A");
  assert.equal((await delivered(b))[0].body, "B");
});

await check("URL groups: add, list, get, publish fan-out, remove, delete", async () => {
  const name = `interop-${run}`;
  const [e1, e2] = [url("group-1"), url("group-2")];
  await client.urlGroups.addEndpoints({ name, endpoints: [{ url: e1 }, { url: e2, name: "second" }] });
  const list = await client.urlGroups.list();
  assert.ok(list.some((g) => g.name === name), "group listed");
  const group = await client.urlGroups.get(name);
  assert.deepEqual(group.endpoints.map((e) => e.url).sort(), [e1, e2].sort());
  const res = await client.publish({ urlGroup: name, body: "fan-out" });
  assert.ok(Array.isArray(res) && res.length === 2, `array of 2, got ${JSON.stringify(res)}`);
  for (const e of [e1, e2]) {
    const [d] = await delivered(e);
    assert.equal(d.body, "fan-out");
    assert.equal(d.headers["upstash-topic-name"], name);
  }
  await client.urlGroups.removeEndpoints({ name, endpoints: [{ url: e1 }] });
  assert.deepEqual((await client.urlGroups.get(name)).endpoints.map((e) => e.url), [e2]);
  await client.urlGroups.delete(name);
  assert.ok(!(await client.urlGroups.list()).some((g) => g.name === name), "group deleted");
});

await check("schedules: create, list, get, pause, resume, fire, delete", async () => {
  const u = url("schedule");
  const { scheduleId } = await client.schedules.create({ destination: u, cron: "0 0 1 1 * ", body: "tick" });
  assert.match(scheduleId, /^scd_/);
  assert.ok((await client.schedules.list()).some((s) => s.scheduleId === scheduleId), "listed");
  const s = await client.schedules.get(scheduleId);
  assert.equal(s.cron, "0 0 1 1 *");
  assert.equal(s.destination, u);
  await client.schedules.pause({ schedule: scheduleId });
  assert.equal((await client.schedules.get(scheduleId)).isPaused, true);
  await client.schedules.resume({ schedule: scheduleId });
  assert.equal((await client.schedules.get(scheduleId)).isPaused, false);
  // Fire it now (an upstash-local development endpoint) instead of waiting for the cron.
  const r = await fetch(`${env.QSTASH_URL}/_local/qstash/schedules/${scheduleId}/trigger`, {
    method: "POST",
    headers: { authorization: `Bearer ${env.QSTASH_TOKEN}` },
  });
  assert.equal(r.status, 200, await r.text());
  const [d] = await delivered(u);
  assert.equal(d.body, "tick");
  assert.equal(d.headers["upstash-schedule-id"], scheduleId);
  await client.schedules.delete(scheduleId);
  assert.ok(!(await client.schedules.list()).some((x) => x.scheduleId === scheduleId), "deleted");
});

await check("messages: get a delayed message, cancel it", async () => {
  const u = url("delayed");
  const { messageId } = await client.publish({ url: u, body: "later", delay: 3600 });
  const m = await client.messages.get(messageId);
  assert.equal(m.messageId, messageId);
  assert.equal(m.url, u);
  assert.ok(m.notBefore >= m.createdAt + 3_500_000, `notBefore ${m.notBefore} createdAt ${m.createdAt}`);
  await client.messages.cancel(messageId);
  await assert.rejects(client.messages.get(messageId), "cancelled message is gone");
  assert.equal(deliveredTo(u).length, 0);
});

await check("DLQ: a failing message with retries 0 is listed, then deleted", async () => {
  const u = url("fail");
  const { messageId } = await client.publish({ url: u, body: "doomed", retries: 0 });
  const entry = await waitFor("the DLQ entry", async () => {
    const { messages } = await client.dlq.listMessages();
    return messages.find((m) => m.messageId === messageId);
  });
  assert.equal(entry.url, u);
  assert.equal(entry.responseStatus, 500);
  assert.equal((await delivered(u))[0].body, "doomed");
  await client.dlq.delete(entry.dlqId);
  const { messages } = await client.dlq.listMessages();
  assert.ok(!messages.some((m) => m.dlqId === entry.dlqId), "deleted from the DLQ");
});

await check("logs: the published message has a DELIVERED event", async () => {
  const u = url("logged");
  const { messageId } = await client.publish({ url: u, body: "log me" });
  await delivered(u);
  await waitFor("a DELIVERED log", async () => {
    const { logs } = await client.logs({ filter: { messageId } });
    return logs.some((l) => l.state === "DELIVERED");
  });
});

// ---------------------------------------------------------------- signatures, both directions
const target = "https://example.com/api/hook?a=1";
const body = JSON.stringify({ run, text: "signed like QStash" });

await check("our Receiver accepts a token node:crypto signed like QStash (current key)", async () => {
  const token = qstashSign(env.QSTASH_CURRENT_SIGNING_KEY, body, target);
  assert.equal(await receiver.verify({ signature: token, body, url: target }), true, "official agrees");
  const r = rustVerify(token, body, target);
  assert.equal(r.ok, true, r.error);
  assert.equal(r.sub, target);
  assert.equal(r.body, paddedHash(body));
});

await check("our Receiver accepts the next key, an unpadded body claim and aud:\"\"", async () => {
  for (const token of [
    qstashSign(env.QSTASH_NEXT_SIGNING_KEY, body, target),
    qstashSign(env.QSTASH_CURRENT_SIGNING_KEY, body, target, { padded: false }),
    qstashSign(env.QSTASH_CURRENT_SIGNING_KEY, body, target, { extra: { aud: "" } }),
  ]) {
    const r = rustVerify(token, body, target);
    assert.equal(r.ok, true, r.error);
  }
});

await check("our Receiver refuses tampered body, wrong URL, wrong key, expired token", async () => {
  const token = qstashSign(env.QSTASH_CURRENT_SIGNING_KEY, body, target);
  assert.equal(rustVerify(token, `${body} `, target).ok, false);
  assert.equal(rustVerify(token, body, "https://example.com/other").ok, false);
  assert.equal(rustVerify(qstashSign("sig_not_the_key", body, target), body, target).ok, false);
  const old = Math.floor(Date.now() / 1000) - 3600;
  assert.equal(rustVerify(qstashSign(env.QSTASH_CURRENT_SIGNING_KEY, body, target, { now: old }), body, target).ok, false);
});

await check("the official Receiver accepts tokens from our Signer (current and next key)", async () => {
  for (const key of ["current", "next"]) {
    const token = rustSign(body, target, key);
    assert.equal(await receiver.verify({ signature: token, body, url: target }), true);
  }
  const token = rustSign(body, target);
  await assert.rejects(receiver.verify({ signature: token, body: `${body}x`, url: target }));
  await assert.rejects(receiver.verify({ signature: token, body, url: "https://example.com/elsewhere" }));
});

server.close();
console.log(`qstash interop: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
