// Interop: `@upstash/ratelimit` 2.2 and our `upstash-ratelimit` crate sharing limits.
//
// Reads UPSTASH_REDIS_REST_URL / UPSTASH_REDIS_REST_TOKEN (the env block upstash-local prints).
// For each algorithm (fixed window, sliding window, token bucket) and each scenario, on a fresh
// identifier under the default prefix `@upstash/ratelimit`, it alternates JS `limit()` calls with
// runs of the Rust example (examples/interop_ratelimit.rs, one JSON line per decision) and checks
// that the combined sequence of decisions and remaining counts is the expected one, that every
// decision reports the same limit and reset, and that `getRemaining` agrees on both sides.
//
// A batched phase then checks the Rust side's decision batching: per algorithm, on a fresh
// identifier with a limit of 20, JS takes 3 tokens, then the Rust example takes 40 decisions at
// once (`--concurrent`, so that those queued behind busy requests share batch script runs). Exactly
// 17 of them must succeed (remaining 16..0, once each), the Rust limiter must report batched
// decisions (a run that never batched fails: it would prove nothing), and afterwards JS `limit()`
// is refused and `getRemaining` is 0 on both sides.
//
// Windows are 1 h; a scenario that straddles a window boundary (very unlikely) is retried on a
// new identifier. The last line is `ratelimit interop: N passed, N failed`; the exit status is 1
// when anything failed.
//
// The Rust side is built once with `cargo build --quiet --all-features --example
// interop_ratelimit` (in $CARGO_TARGET_DIR or the workspace's target directory) and then called
// directly. INTEROP_RATELIMIT_BIN names a prebuilt binary instead (then nothing is built).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import { rustExample } from "./rust_side.mjs";

const url = process.env.UPSTASH_REDIS_REST_URL;
const token = process.env.UPSTASH_REDIS_REST_TOKEN;
if (!url || !token) {
  console.error("UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set (eval the upstash-local env block)");
  process.exit(2);
}

const PREFIX = "@upstash/ratelimit";
const LIMIT = 5;
const WINDOW = "1 h";
const WINDOW_MS = 3_600_000;
const run = randomUUID().slice(0, 8);

let passed = 0;
let failed = 0;

// ---------------------------------------------------------------- the Rust binary
const BIN = rustExample("interop_ratelimit", "INTEROP_RATELIMIT_BIN", "ratelimit interop");

// Runs the Rust example and returns its JSON lines.
function rust(algo, id, { calls, rate = 1, getRemaining = false, limit = LIMIT, concurrent = false }) {
  const args = ["--algo", algo, "--id", id, "--prefix", PREFIX, "--limit", String(limit), "--window", WINDOW,
    "--refill", "1", "--calls", String(calls), "--rate", String(rate)];
  if (concurrent) args.push("--concurrent");
  if (getRemaining) args.push("--get-remaining");
  const out = spawnSync(BIN, args, { encoding: "utf8", env: process.env });
  if (out.error) throw new Error(`cannot run ${BIN}: ${out.error.message}`);
  if (out.status !== 0) throw new Error(`${BIN} exited with ${out.status}: ${out.stderr.trim()}`);
  return out.stdout.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
}

// ---------------------------------------------------------------- the JS side
const redis = new Redis({ url, token });

function jsLimiter(algo, limit = LIMIT) {
  const limiter = {
    fixed: () => Ratelimit.fixedWindow(limit, WINDOW),
    sliding: () => Ratelimit.slidingWindow(limit, WINDOW),
    token: () => Ratelimit.tokenBucket(1, WINDOW, limit),
  }[algo]();
  return new Ratelimit({ redis, limiter, prefix: PREFIX });
}

async function js(limiter, id, { calls, rate = 1 }) {
  const out = [];
  for (let i = 0; i < calls; i += 1) {
    const res = await limiter.limit(id, { rate });
    await res.pending;
    out.push({ op: "limit", success: res.success, remaining: res.remaining, limit: res.limit, reset: res.reset, reason: res.reason ?? null });
  }
  return out;
}

// ---------------------------------------------------------------- scenarios
// Each step: [side, calls, rate]; `expect` lists [success, remaining] per decision (per algo when
// they differ). `remainingAfter` is what getRemaining must report at the end.
const SCENARIOS = [
  {
    name: "one token per call, through the limit",
    steps: [["js", 2, 1], ["rust", 2, 1], ["js", 1, 1], ["rust", 2, 1], ["js", 1, 1], ["rust", 1, 1]],
    expect: () => [[true, 4], [true, 3], [true, 2], [true, 1], [true, 0], [false, 0], [false, 0], [false, 0], [false, 0]],
    remainingAfter: () => 0,
    midRemaining: { afterStep: 0, value: 3 },
  },
  {
    name: "rate 2 then rate 1",
    steps: [["js", 1, 2], ["rust", 1, 2], ["js", 1, 2], ["rust", 1, 1]],
    // fixed: INCRBY always counts (2,4,6,7). sliding: the third call is recorded (6) and fails,
    // the fourth is refused without a write. token bucket 2.2: the third call is refused without
    // a write (1 < 2), the fourth takes the last token.
    expect: (algo) =>
      algo === "token"
        ? [[true, 3], [true, 1], [false, 0], [true, 0]]
        : [[true, 3], [true, 1], [false, 0], [false, 0]],
    remainingAfter: () => 0,
  },
];

async function scenario(algo, sc, attempt) {
  const id = `interop:${run}:${algo}:${sc.name.replace(/\W+/g, "-")}:${attempt}`;
  const limiter = jsLimiter(algo);
  const start = Date.now();
  const seq = [];
  const log = [];
  for (const [i, [side, calls, rate]] of sc.steps.entries()) {
    const got = side === "js" ? await js(limiter, id, { calls, rate }) : rust(algo, id, { calls, rate });
    for (const d of got) {
      seq.push({ side, ...d });
      log.push(`${side}:${d.success ? "ok" : "no"}/${d.remaining}`);
    }
    if (sc.midRemaining?.afterStep === i) {
      const [r] = rust(algo, id, { calls: 0, getRemaining: true });
      const j = await limiter.getRemaining(id);
      assert.equal(r.remaining, sc.midRemaining.value, `rust get_remaining mid-way (${log.join(" ")})`);
      assert.equal(j.remaining, sc.midRemaining.value, `js getRemaining mid-way (${log.join(" ")})`);
      assert.equal(r.reset, j.reset, "get_remaining reset, rust vs js");
    }
  }
  const [rRem] = rust(algo, id, { calls: 0, getRemaining: true });
  const jRem = await limiter.getRemaining(id);
  const end = Date.now();
  if (algo !== "token" && Math.floor(start / WINDOW_MS) !== Math.floor(end / WINDOW_MS)) {
    return "retry";
  }
  const expected = sc.expect(algo);
  assert.deepEqual(
    seq.map((d) => [d.success, d.remaining]),
    expected,
    `decisions (${log.join(" ")})`,
  );
  for (const d of seq) {
    assert.equal(d.limit, LIMIT, `limit of a ${d.side} decision`);
    assert.equal(d.reset, seq[0].reset, `reset of a ${d.side} decision (${seq.map((x) => x.reset).join(",")})`);
  }
  assert.equal(rRem.remaining, sc.remainingAfter(algo), "rust get_remaining at the end");
  assert.equal(jRem.remaining, sc.remainingAfter(algo), "js getRemaining at the end");
  assert.equal(rRem.limit, LIMIT, "rust get_remaining limit");
  assert.equal(jRem.limit, LIMIT, "js getRemaining limit");
  assert.equal(rRem.reset, jRem.reset, "get_remaining reset, rust vs js");
  return log.join(" ");
}

for (const algo of ["fixed", "sliding", "token"]) {
  for (const sc of SCENARIOS) {
    const name = `${algo}: ${sc.name}`;
    try {
      let outcome = "retry";
      for (let attempt = 0; attempt < 3 && outcome === "retry"; attempt += 1) {
        outcome = await scenario(algo, sc, attempt);
      }
      if (outcome === "retry") throw new Error("crossed a window boundary three times");
      passed += 1;
      console.log(`ok   ${name}  [${outcome}]`);
    } catch (err) {
      failed += 1;
      console.log(`FAIL ${name}: ${err?.stack ?? err}`);
    }
  }
}

// ---------------------------------------------------------------- batched decisions
const BATCH_LIMIT = 20;
const BATCH_JS_FIRST = 3;
const BATCH_CALLS = 40;

// JS takes BATCH_JS_FIRST tokens one by one, then the Rust side takes BATCH_CALLS decisions
// concurrently on one limiter; returns the outcome summary, or "retry" on a window boundary.
async function batched(algo, attempt) {
  const id = `interop:${run}:${algo}:batched:${attempt}`;
  const limiter = jsLimiter(algo, BATCH_LIMIT);
  const start = Date.now();
  const first = await js(limiter, id, { calls: BATCH_JS_FIRST });
  const lines = rust(algo, id, { calls: BATCH_CALLS, limit: BATCH_LIMIT, concurrent: true });
  const after = await js(limiter, id, { calls: 1 });
  const [rRem] = rust(algo, id, { calls: 0, limit: BATCH_LIMIT, getRemaining: true });
  const jRem = await limiter.getRemaining(id);
  const end = Date.now();
  if (algo !== "token" && Math.floor(start / WINDOW_MS) !== Math.floor(end / WINDOW_MS)) {
    return "retry";
  }

  assert.deepEqual(
    first.map((d) => [d.success, d.remaining]),
    Array.from({ length: BATCH_JS_FIRST }, (_, i) => [true, BATCH_LIMIT - 1 - i]),
    "js decisions before the concurrent run",
  );
  const decisions = lines.filter((l) => l.op === "limit");
  const counts = lines.filter((l) => l.op === "batched");
  assert.equal(decisions.length, BATCH_CALLS, "rust decisions printed");
  assert.equal(counts.length, 1, "one batched-count line from the rust side");
  const batchedCount = counts[0].count;
  assert.ok(
    batchedCount > 0,
    `the rust limiter decided nothing in a batch (metrics().batched = ${batchedCount}): ` +
      `${BATCH_CALLS} concurrent calls never queued, so this phase proved nothing about batching`,
  );
  assert.ok(batchedCount <= BATCH_CALLS, `batched count ${batchedCount} > ${BATCH_CALLS} calls`);
  const left = BATCH_LIMIT - BATCH_JS_FIRST;
  const ok = decisions.filter((d) => d.success);
  assert.equal(ok.length, left, `successful rust decisions of ${BATCH_CALLS} (batched ${batchedCount})`);
  // The server decides in order, inside each script run: every count from left-1 down to 0 once.
  assert.deepEqual(
    ok.map((d) => d.remaining).sort((a, b) => b - a),
    Array.from({ length: left }, (_, i) => left - 1 - i),
    "remaining of the successful rust decisions",
  );
  for (const d of decisions.filter((x) => !x.success)) {
    assert.equal(d.remaining, 0, "remaining of a refused rust decision");
  }
  for (const d of [...first, ...decisions, ...after]) {
    assert.equal(d.limit, BATCH_LIMIT, "limit of a decision");
    assert.equal(d.reset, first[0].reset, `reset of a decision (js ${first[0].reset}, got ${d.reset})`);
  }
  assert.deepEqual(after.map((d) => [d.success, d.remaining]), [[false, 0]], "js limit() after the concurrent run");
  assert.equal(jRem.remaining, 0, "js getRemaining at the end");
  assert.equal(rRem.remaining, 0, "rust get_remaining at the end");
  assert.equal(jRem.limit, BATCH_LIMIT, "js getRemaining limit");
  assert.equal(rRem.limit, BATCH_LIMIT, "rust get_remaining limit");
  assert.equal(rRem.reset, jRem.reset, "get_remaining reset, rust vs js");
  return `js:ok*${BATCH_JS_FIRST} rust:ok*${ok.length}/no*${decisions.length - ok.length} ` +
    `batched=${batchedCount} js:${after[0].success ? "ok" : "no"}/${after[0].remaining}`;
}

for (const algo of ["fixed", "sliding", "token"]) {
  const name = `${algo}: ${BATCH_CALLS} concurrent rust decisions (batched) after ${BATCH_JS_FIRST} js, limit ${BATCH_LIMIT}`;
  try {
    let outcome = "retry";
    for (let attempt = 0; attempt < 3 && outcome === "retry"; attempt += 1) {
      outcome = await batched(algo, attempt);
    }
    if (outcome === "retry") throw new Error("crossed a window boundary three times");
    passed += 1;
    console.log(`ok   ${name}  [${outcome}]`);
  } catch (err) {
    failed += 1;
    console.log(`FAIL ${name}: ${err?.stack ?? err}`);
  }
}

// ---------------------------------------------------------------- cleanup
try {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, { match: `${PREFIX}:interop:${run}:*`, count: 1000 });
    if (keys.length) await redis.del(...keys);
    cursor = String(next);
  } while (cursor !== "0");
} catch (err) {
  console.log(`note: cleanup failed: ${err?.message ?? err}`);
}

console.log(`ratelimit interop: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
