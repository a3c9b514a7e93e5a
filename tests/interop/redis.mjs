// Interop: the official `@upstash/redis` SDK and our Rust client against the same server.
//
// Reads UPSTASH_REDIS_REST_URL / UPSTASH_REDIS_REST_TOKEN (the env block upstash-local prints).
// Order of the run:
//   1. node scenario   (strings, binary-ish values, pipeline, multi-exec, scripts,
//                        auto-pipelining, read-your-writes, errors) under its own prefix
//   2. node writes     keys under the "x-node" prefix
//   3. rust            the same scenario (examples/interop_redis.rs) under its own prefix,
//                      then reads the "x-node" keys and writes keys under the "x-rust" prefix
//   4. node checks     the "x-rust" keys
// The last line is `interop: N passed, N failed`; the exit status is 1 when anything failed.
//
// INTEROP_RUST_CMD overrides the command that runs the Rust side
// (default: `cargo run --quiet --all-features --example interop_redis --`).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Redis } from "@upstash/redis";

const url = process.env.UPSTASH_REDIS_REST_URL;
const token = process.env.UPSTASH_REDIS_REST_TOKEN;
if (!url || !token) {
  console.error("UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set (eval the upstash-local env block)");
  process.exit(2);
}

const run = randomUUID().slice(0, 8);
const NODE = `interop:node:${run}:`;
const X_NODE = `interop:x-node:${run}:`;
const X_RUST = `interop:x-rust:${run}:`;
const RUST = `interop:rust:${run}:`;

// The client as users create it: auto-pipelining, base64 responses, automatic deserialization.
const redis = new Redis({ url, token });
// The same without automatic deserialization, to compare exact stored text.
const raw = new Redis({ url, token, automaticDeserialization: false, enableAutoPipelining: false });

const PRINTABLE_ASCII = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join("");
const UNICODE = "héllo wörld ✓ 你好 Ωμέγα";
const JSONISH = '{"a":1,"b":[1,2],"c":"x\\"y","d":null}';
const ESCAPES = 'line\nfeed\r\ttab \\ back "quote" nul\u0000 \u0001 \u001f \u007f end';
const EMOJI = "😀👍🏽🇩🇪👨‍👩‍👧 🦀";

let passed = 0;
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   node ${name}`);
  } catch (err) {
    failed += 1;
    console.log(`FAIL node ${name}: ${err?.stack ?? err}`);
  }
}

async function rejects(promise, pattern) {
  try {
    await promise;
  } catch (err) {
    assert.match(String(err?.message ?? err), pattern);
    return err;
  }
  assert.fail(`expected a rejection matching ${pattern}`);
}

// `GET /_local/stats` of upstash-local; null against a server without it.
async function stats() {
  const res = await fetch(`${url.replace(/\/$/, "")}/_local/stats`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (!res.ok) return null;
  return await res.json();
}

function totals(s) {
  const r = s?.redis ?? s;
  const pick = (v) => (typeof v === "number" ? v : typeof v?.total === "number" ? v.total : undefined);
  const http = pick(r?.http_requests);
  const commands = pick(r?.commands);
  assert.ok(http !== undefined && commands !== undefined, `unexpected stats shape: ${JSON.stringify(s)}`);
  return { http, commands };
}

const k = (name) => `${NODE}${name}`;

// ---------------------------------------------------------------- 1. node scenario

await check("strings", async () => {
  assert.equal(await redis.set(k("str"), "hello"), "OK");
  assert.equal(await redis.get(k("str")), "hello");
  await redis.set(k("str"), UNICODE);
  assert.equal(await redis.get(k("str")), UNICODE);
  // JSON-ish text: the SDK parses it on the way back; the raw client sees the exact text.
  await redis.set(k("str"), JSONISH);
  assert.deepEqual(await redis.get(k("str")), { a: 1, b: [1, 2], c: 'x"y', d: null });
  assert.equal(await raw.get(k("str")), JSONISH);
  // Objects are stored as JSON text.
  await redis.set(k("obj"), { nested: { list: [1, "two"] } });
  assert.equal(await raw.get(k("obj")), '{"nested":{"list":[1,"two"]}}');
  assert.deepEqual(await redis.get(k("obj")), { nested: { list: [1, "two"] } });
  // Text that only looks like JSON stays text.
  await redis.set(k("str"), '{"not": json');
  assert.equal(await redis.get(k("str")), '{"not": json');

  assert.equal(await redis.incr(k("counter")), 1);
  assert.equal(await redis.incrby(k("counter"), 10), 11);
  assert.equal(await redis.get(k("counter")), 11);
  assert.equal(await raw.get(k("counter")), "11");

  await redis.set(k("str"), "expiring", { ex: 60 });
  const ttl = await redis.ttl(k("str"));
  assert.ok(ttl > 0 && ttl <= 60, `ttl ${ttl}`);
  assert.equal(await redis.get(k("missing")), null);
});

await check("binary-ish values", async () => {
  for (const text of [PRINTABLE_ASCII, ESCAPES, EMOJI]) {
    await redis.set(k("bin"), text);
    assert.equal(await raw.get(k("bin")), text);
    assert.equal(await redis.strlen(k("bin")), Buffer.byteLength(text, "utf8"));
  }
  await redis.mset({ [k("m1")]: EMOJI, [k("m2")]: PRINTABLE_ASCII });
  assert.deepEqual(await raw.mget(k("m1"), k("m2"), k("m3")), [EMOJI, PRINTABLE_ASCII, null]);
});

await check("pipeline", async () => {
  const p = redis.pipeline();
  p.set(k("p:k"), EMOJI).incr(k("p:c")).incr(k("p:c")).get(k("p:k")).del(k("p:none"));
  assert.deepEqual(await p.exec(), ["OK", 1, 2, EMOJI, 0]);

  // A failing command fails alone; the others still run.
  const q = redis.pipeline();
  q.set(k("p:s"), "not a number").incr(k("p:s")).get(k("p:s"));
  const items = await q.exec({ keepErrors: true });
  assert.equal(items.length, 3);
  assert.equal(items[0].result, "OK");
  assert.match(items[1].error, /^ERR/);
  assert.equal(items[2].result, "not a number");

  const r = redis.pipeline();
  r.set(k("p:s"), "not a number").incr(k("p:s"));
  await rejects(r.exec(), /ERR/);
});

await check("multi-exec", async () => {
  const tx = redis.multi();
  tx.set(k("tx:k"), 1).incr(k("tx:k")).get(k("tx:k"));
  assert.deepEqual(await tx.exec(), ["OK", 2, 2]);

  // A run-time error inside EXEC does not roll the others back.
  const bad = redis.multi();
  bad.set(k("tx:s"), "text").incr(k("tx:s")).set(k("tx:s2"), "after");
  const items = await bad.exec({ keepErrors: true });
  assert.equal(items.length, 3);
  assert.equal(items[0].result, "OK");
  assert.ok(items[1].error, "INCR on text should fail");
  assert.equal(items[2].result, "OK");
  assert.equal(await redis.get(k("tx:s2")), "after");
});

await check("scripts", async () => {
  const script = redis.createScript("redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])");
  assert.equal(await script.exec([k("script")], ["v1"]), "v1");
  const sha = await redis.scriptLoad("redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])");
  assert.equal(sha, script.sha1);
  assert.deepEqual(await redis.scriptExists(sha), [1]);
  assert.equal(await redis.evalsha(sha, [k("script")], ["v1b"]), "v1b");
  assert.equal(await redis.eval("return ARGV[1] .. ARGV[2]", [], ["a", "😀"]), "a😀");

  // After SCRIPT FLUSH, EVALSHA answers NOSCRIPT and Script.exec falls back to EVAL.
  assert.equal(await redis.scriptFlush(), "OK");
  assert.deepEqual(await redis.scriptExists(sha), [0]);
  await rejects(redis.evalsha(sha, [k("script")], ["x"]), /NOSCRIPT/);
  assert.equal(await script.exec([k("script")], ["v2"]), "v2");
  assert.deepEqual(await redis.scriptExists(sha), [1]);

  const ro = redis.createScript("return redis.call('GET', KEYS[1])", { readonly: true });
  assert.equal(await ro.exec([k("script")], []), "v2");
});

await check("auto-pipelining", async () => {
  const before = redis.pipelineCounter;
  assert.equal(typeof before, "number", "redis.pipelineCounter is exposed");
  const s0 = await stats();

  // 50 concurrent commands: 25 SETs and 25 INCRs, issued in order.
  const calls = [];
  for (let i = 0; i < 25; i++) {
    calls.push(redis.set(k(`auto:${i}`), i));
    calls.push(redis.incr(k("auto:counter")));
  }
  const results = await Promise.all(calls);
  for (let i = 0; i < 25; i++) {
    assert.equal(results[2 * i], "OK");
    assert.equal(results[2 * i + 1], i + 1);
  }
  const pipelines = redis.pipelineCounter - before;
  assert.ok(pipelines >= 1 && pipelines < 50, `50 commands took ${pipelines} auto pipelines`);

  const s1 = await stats();
  if (s0 && s1) {
    const [a, b] = [totals(s0), totals(s1)];
    const http = b.http - a.http;
    const commands = b.commands - a.commands;
    assert.ok(commands >= 50 && http < 50, `server saw ${http} HTTP requests for ${commands} commands`);
    console.log(`     node auto-pipelining: 50 commands, ${pipelines} auto pipelines, server saw ${http} HTTP requests`);
  } else {
    console.log("     node auto-pipelining: server has no /_local/stats; client-side count only");
  }

  const values = await Promise.all(Array.from({ length: 25 }, (_, i) => redis.get(k(`auto:${i}`))));
  assert.deepEqual(values, Array.from({ length: 25 }, (_, i) => i));
});

await check("read-your-writes", async () => {
  await redis.set(k("ryw"), "written");
  const syncToken = redis.readYourWritesSyncToken;
  assert.equal(typeof syncToken, "string");
  assert.ok(syncToken.length > 0, "upstash-sync-token was received");

  // Another instance carries the token over and reads the write.
  const other = new Redis({ url, token });
  other.readYourWritesSyncToken = syncToken;
  assert.equal(await other.get(k("ryw")), "written");

  // The header on the wire: present on responses, empty and made-up values accepted.
  for (const sent of ["", "my-new-sync-token"]) {
    const res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "upstash-sync-token": sent },
      body: JSON.stringify(["GET", k("ryw")]),
    });
    assert.equal(res.status, 200);
    assert.ok(res.headers.get("upstash-sync-token"), "response carries upstash-sync-token");
    assert.deepEqual(await res.json(), { result: "written" });
  }
});

await check("errors", async () => {
  await redis.set(k("err"), "text");
  await rejects(redis.lpush(k("err"), "x"), /WRONGTYPE/);
  await rejects(raw.exec(["NOSUCHCOMMAND"]), /ERR/);
  const bad = new Redis({ url, token: "not-the-token", enableAutoPipelining: false, retry: false });
  await rejects(bad.get(k("err")), /WRONGPASS|Unauthorized|401|invalid/i);
});

// ---------------------------------------------------------------- 2. node writes for rust

const xn = (name) => `${X_NODE}${name}`;
await check("writes for rust", async () => {
  await redis.set(xn("text"), "héllo wörld 😀 from node");
  await redis.set(xn("json"), { a: 1, list: [1, "two"], nested: { ok: true } });
  await redis.set(xn("num"), 42);
  await redis.set(xn("bool"), true);
  await redis.set(xn("ascii"), PRINTABLE_ASCII);
  await redis.set(xn("escapes"), ESCAPES);
  await redis.set(xn("emoji"), EMOJI);
  await redis.hset(xn("hash"), { f1: "v1", f2: 2 });
  await redis.rpush(xn("list"), "a", "b", "c");
  await Promise.all([redis.incr(xn("counter")), redis.incr(xn("counter")), redis.incr(xn("counter"))]);
  await redis.createScript("return redis.call('SET', KEYS[1], ARGV[1])").exec([xn("script")], ["set by a node script"]);
});

// ---------------------------------------------------------------- 3. the rust side

let rustSyncToken;
await (async () => {
  const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
  const cmd = process.env.INTEROP_RUST_CMD ?? "cargo run --quiet --all-features --example interop_redis --";
  const args = ["--prefix", RUST, "--check-node", X_NODE, "--write-for-node", X_RUST];
  console.log(`---- rust: ${cmd} ${args.join(" ")}`);
  const [program, ...pre] = cmd.split(/\s+/).filter(Boolean);
  const child = spawn(program, [...pre, ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, INTEROP_NODE_SYNC_TOKEN: redis.readYourWritesSyncToken ?? "" },
  });
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk) => {
    out += chunk;
    process.stdout.write(chunk);
  });
  const code = await new Promise((resolve) => {
    child.on("error", (err) => {
      console.log(`FAIL rust: cannot start ${program}: ${err.message}`);
      resolve(-1);
    });
    child.on("close", resolve);
  });
  const summary = [...out.matchAll(/^rust: (\d+) passed, (\d+) failed$/gm)].at(-1);
  if (summary) {
    passed += Number(summary[1]);
    failed += Number(summary[2]);
  }
  if (!summary || (code !== 0 && Number(summary[2]) === 0)) {
    failed += 1;
    console.log(`FAIL rust: exited with ${code}${summary ? "" : " without a summary"}`);
  }
  rustSyncToken = out.match(/^rust-sync-token: (.+)$/m)?.[1];
  console.log("---- rust done");
})();

// ---------------------------------------------------------------- 4. node checks what rust wrote

const xr = (name) => `${X_RUST}${name}`;
await check("reads what rust wrote", async () => {
  const reader = new Redis({ url, token });
  if (rustSyncToken) reader.readYourWritesSyncToken = rustSyncToken;
  assert.equal(await reader.get(xr("text")), "grüße aus Rust 🦀");
  // Text that is JSON comes back parsed, numbers as numbers (the SDK's automatic deserialization).
  assert.deepEqual(await reader.get(xr("json")), { from: "rust", n: [1, 2, 3] });
  assert.equal(await reader.get(xr("num")), 123);
  assert.equal(await raw.get(xr("ascii")), PRINTABLE_ASCII);
  assert.equal(await raw.get(xr("escapes")), ESCAPES);
  assert.equal(await raw.get(xr("emoji")), EMOJI);
  // Non-UTF-8 bytes: the JS SDK decodes base64 to text lossily (U+FFFD), the length survives.
  assert.equal(await raw.get(xr("bin")), "\u0000\ufffdA\ufffd");
  assert.equal(await reader.strlen(xr("bin")), 4);
  assert.deepEqual(await reader.hgetall(xr("hash")), { f1: "v1", f2: 2 });
  assert.deepEqual(await reader.lrange(xr("list"), 0, -1), ["x", "y", "z"]);
  assert.equal(await reader.get(xr("counter")), 5);
  assert.equal(await reader.get(xr("tx")), "from a rust transaction");
  assert.equal(await reader.get(xr("tx:n")), 1);
  assert.equal(await reader.get(xr("script")), "set by a rust script");
});

// ---------------------------------------------------------------- cleanup and summary

await check("cleanup", async () => {
  for (const prefix of [NODE, X_NODE, X_RUST, RUST]) {
    let cursor = "0";
    do {
      const [next, keys] = await raw.scan(cursor, { match: `${prefix}*`, count: 1000 });
      if (keys.length > 0) await raw.del(...keys);
      cursor = String(next);
    } while (cursor !== "0");
  }
});

console.log(`interop: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
