// Interop: `@upstash/kafka` 1.3.5 and our `upstash-kafka` crate on the same topics and groups.
//
// Reads UPSTASH_KAFKA_REST_URL / _USERNAME / _PASSWORD (the env block upstash-local prints).
// Creates its own topics through upstash-local's `POST /_local/kafka/topics` (the REST API
// itself cannot create topics), then interleaves JS calls with runs of the Rust example
// (examples/interop_kafka.rs, one JSON line per run): records produced by one side are fetched
// and consumed by the other with the same values, keys and headers; JSON values round-trip;
// multi-topic fetches keep their order; offsets committed by one side are read and resumed
// from by the other; admin views agree. The last line is `kafka interop: N passed, N failed`;
// the exit status is 1 when anything failed.
//
// The Rust side is built once with `cargo build --quiet --all-features --example
// interop_kafka`; INTEROP_KAFKA_BIN names a prebuilt binary instead (then nothing is built).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { Kafka } from "@upstash/kafka";
import { rustExample } from "./rust_side.mjs";

const url = process.env.UPSTASH_KAFKA_REST_URL;
const username = process.env.UPSTASH_KAFKA_REST_USERNAME;
const password = process.env.UPSTASH_KAFKA_REST_PASSWORD;
if (!url || !username || !password) {
  console.error("UPSTASH_KAFKA_REST_URL, _USERNAME and _PASSWORD must be set (eval the upstash-local env block)");
  process.exit(2);
}

const run = randomUUID().slice(0, 8);
const AUTH = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;

let passed = 0;
let failed = 0;

// ---------------------------------------------------------------- the Rust binary
const BIN = rustExample("interop_kafka", "INTEROP_KAFKA_BIN", "kafka interop");

// Runs one Rust operation and returns its JSON result.
function rust(op, opts) {
  const args = [op];
  for (const [k, v] of Object.entries(opts)) {
    if (v === true) args.push(`--${k}`);
    else if (Array.isArray(v)) for (const x of v) args.push(`--${k}`, String(x));
    else if (v !== undefined) args.push(`--${k}`, String(v));
  }
  const out = spawnSync(BIN, args, { encoding: "utf8", env: process.env });
  if (out.error) throw new Error(`cannot run ${BIN}: ${out.error.message}`);
  if (out.status !== 0) throw new Error(`${BIN} ${args.join(" ")} exited with ${out.status}: ${out.stderr.trim()}`);
  return JSON.parse(out.stdout.trim());
}

// ---------------------------------------------------------------- setup
async function createTopic(name, partitions) {
  const res = await fetch(`${url.replace(/\/$/, "")}/_local/kafka/topics`, {
    method: "POST",
    headers: { authorization: AUTH, "content-type": "application/json" },
    body: JSON.stringify({ name, partitions }),
  });
  if (!res.ok) throw new Error(`cannot create topic ${name}: ${res.status} ${await res.text()}`);
}

const T1 = `interop.${run}.one`;
const T2 = `interop.${run}.two`;
const TG = `interop.${run}.group`;
try {
  await createTopic(T1, 1);
  await createTopic(T2, 2);
  await createTopic(TG, 1);
} catch (err) {
  console.log(`FAIL setup: ${err?.message ?? err}`);
  console.log("kafka interop: 0 passed, 1 failed");
  process.exit(1);
}

const kafka = new Kafka({ url, username, password });
const producer = kafka.producer();
const consumer = kafka.consumer();
const admin = kafka.admin();

// Polls a JS consume until `min` messages arrived (the first request of an instance may be empty).
async function jsConsumeUntil(req, min) {
  const got = [];
  for (let i = 0; i < 30 && got.length < min; i += 1) {
    got.push(...(await consumer.consume(req)));
  }
  return got;
}

// ---------------------------------------------------------------- scenarios
const SCENARIOS = [
  [
    "JS produces (string, object, key, headers); Rust fetches the same records",
    async () => {
      const a = await producer.produce(T1, "hello from js", { key: "k-js", headers: [{ key: "h1", value: "v1" }] });
      const b = await producer.produce(T1, { n: 42, list: ["x", "y"] });
      const got = rust("fetch", { topic: a.topic, partition: a.partition, offset: a.offset });
      assert.equal(got.length, 2);
      assert.deepEqual(
        { key: got[0].key, value: got[0].value, headers: got[0].headers, offset: got[0].offset },
        { key: "k-js", value: "hello from js", headers: [{ key: "h1", value: "v1" }], offset: a.offset },
      );
      assert.equal(got[1].offset, b.offset);
      assert.deepEqual(JSON.parse(got[1].value), { n: 42, list: ["x", "y"] });
      assert.equal(got[1].key, "");
      assert.deepEqual(got[1].headers, []);
      return `offsets ${a.offset},${b.offset}`;
    },
  ],
  [
    "Rust produces (key, headers, JSON); JS fetches them",
    async () => {
      const a = rust("produce", { topic: T1, value: "hello from rust", key: "k-rs", header: ["h=1", "trace=abc"] });
      const b = rust("produce-json", { topic: T1, value: JSON.stringify({ ok: true, n: 7 }) });
      const got = await consumer.fetch({ topic: a.topic, partition: a.partition, offset: a.offset });
      assert.equal(got.length, 2);
      assert.equal(got[0].value, "hello from rust");
      assert.equal(got[0].key, "k-rs");
      assert.deepEqual(got[0].headers, [{ key: "h", value: "1" }, { key: "trace", value: "abc" }]);
      assert.equal(got[1].offset, b.offset);
      assert.deepEqual(JSON.parse(got[1].value), { ok: true, n: 7 });
      return `offsets ${a.offset},${b.offset}`;
    },
  ],
  [
    "JS produceMany across topics with keys; Rust multi-position fetch keeps the JS order",
    async () => {
      const written = await producer.produceMany([
        { topic: T2, value: "two-a", key: "same", partition: 1 },
        { topic: T1, value: "one-a", key: "k1" },
      ]);
      assert.equal(written.length, 2);
      const [w2, w1] = written;
      // Positions list first, the single position last (both clients split the same way).
      const jsGot = await consumer.fetch({
        topic: w1.topic, partition: w1.partition, offset: w1.offset,
        topicPartitionOffsets: [{ topic: w2.topic, partition: w2.partition, offset: w2.offset }],
      });
      const rsGot = rust("fetch", { topic: w1.topic, partition: w1.partition, offset: w1.offset, and: [`${w2.topic}:${w2.partition}:${w2.offset}`] });
      const pick = (ms) => ms.map((m) => [m.topic, m.value, m.key]);
      assert.deepEqual(pick(rsGot), pick(jsGot));
      assert.deepEqual(pick(rsGot), [[T2, "two-a", "same"], [T1, "one-a", "k1"]]);
      return "same order";
    },
  ],
  [
    "one group: JS consumes and commits, Rust reads the commit, commits further, resumes after it",
    async () => {
      const group = `interop-${run}-g`;
      const base = await producer.produce(TG, "g0");
      for (const v of ["g1", "g2", "g3"]) await producer.produce(TG, v);
      const jsReq = { consumerGroupId: group, instanceId: "js", topics: [TG], autoCommit: false, autoOffsetReset: "earliest", timeout: 1000 };
      const seen = await jsConsumeUntil(jsReq, 4);
      assert.deepEqual(seen.map((m) => m.value), ["g0", "g1", "g2", "g3"]);
      await consumer.commit({ consumerGroupId: group, instanceId: "js", offset: { topic: TG, partition: 0, offset: base.offset + 1 } });
      const rsCommitted = rust("committed", { group, instance: "js", topic: TG, partition: 0 });
      assert.equal(rsCommitted[0].offset, base.offset + 1, "Rust reads the JS commit");
      rust("commit", { group, instance: "js", topic: TG, partition: 0, offset: base.offset + 2 });
      const jsCommitted = await consumer.committed({ consumerGroupId: group, instanceId: "js", topicPartitions: [{ topic: TG, partition: 0 }] });
      assert.equal(jsCommitted[0].offset, base.offset + 2, "JS reads the Rust commit");
      await admin.removeConsumerInstance(group, "js");
      // A Rust instance of the group resumes at the committed offset.
      const resumed = rust("consume", { group, instance: "rust", topic: TG, "no-auto-commit": true, min: 2 });
      assert.deepEqual(resumed.map((m) => m.value), ["g2", "g3"]);
      const groups = await admin.consumers();
      const g = groups.find((x) => x.name === group);
      assert.ok(g?.instances.some((i) => i.name === "rust"), `JS lists the Rust instance: ${JSON.stringify(groups)}`);
      rust("remove", { group, instance: "rust" });
      // Removing it twice is an error (checked from Rust only: @upstash/kafka retries every
      // failure for about 15 s before it rejects).
      assert.throws(() => rust("remove", { group, instance: "rust" }), /not found|does not exist/);
      return `committed ${base.offset + 1} -> ${base.offset + 2}`;
    },
  ],
  [
    "JS group consumes what Rust produced; offsets agree on both sides",
    async () => {
      const group = `interop-${run}-h`;
      const a = rust("produce", { topic: T2, value: "for js", key: "rk", partition: 0, header: ["x=y"] });
      const got = await jsConsumeUntil({ consumerGroupId: group, instanceId: "i", topics: [T2], autoOffsetReset: "earliest", timeout: 1000 }, 1);
      const mine = got.find((m) => m.offset === a.offset && m.partition === 0);
      assert.ok(mine, `JS consumed the Rust record: ${JSON.stringify(got)}`);
      assert.equal(mine.key, "rk");
      assert.deepEqual(mine.headers, [{ key: "x", value: "y" }]);
      await admin.removeConsumerInstance(group, "i");
      const rsLatest = rust("latest", { topic: T2, partition: 0 });
      const jsLatest = await admin.topicPartitionOffsets({ timestamp: "latest", topicPartition: { topic: T2, partition: 0 } });
      assert.equal(rsLatest[0].offset, jsLatest[0].offset);
      assert.equal(rsLatest[0].offset, a.offset + 1);
      const topics = await admin.topics();
      assert.equal(topics[T2], 2);
      return `latest ${rsLatest[0].offset}`;
    },
  ],
];

for (const [name, body] of SCENARIOS) {
  try {
    const note = await body();
    passed += 1;
    console.log(`ok   ${name}  [${note}]`);
  } catch (err) {
    failed += 1;
    console.log(`FAIL ${name}: ${err?.stack ?? err}`);
  }
}

// ---------------------------------------------------------------- cleanup
for (const t of [T1, T2, TG]) {
  try {
    await fetch(`${url.replace(/\/$/, "")}/_local/kafka/topics/${t}`, { method: "DELETE", headers: { authorization: AUTH } });
  } catch (err) {
    console.log(`note: cleanup of ${t} failed: ${err?.message ?? err}`);
  }
}

console.log(`kafka interop: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
