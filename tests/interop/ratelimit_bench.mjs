// Benchmark of `@upstash/ratelimit` against upstash-local: the JS counterpart of
// `cargo run --release --example loadgen -- --command ratelimit` (not run in CI).
//
// Usage (from the repo root, with an upstash-local running):
//
//   eval "$(target/release/upstash-local --redis-port 0 --qstash-port 0)"   # or its printed export lines
//   node tests/interop/ratelimit_bench.mjs --concurrency 64 --duration 5 [--keys 10000] \
//       [--limit 1000000] [--prefix P]
//
// Workload (the same as `loadgen --command ratelimit`): `ratelimit.limit("user:<k>")` with k
// drawn uniformly from --keys identifiers (10000), a sliding window of --limit per 10 s
// (1000000, so no identifier runs out during a run and every call is a real round trip rather
// than an ephemeral-cache answer), prefix --prefix (default `loadgen:ratelimit:<random>`, a
// fresh key space per run so consecutive runs do not share counters), every other option at
// its default (ephemeral cache on, `@upstash/redis` auto-pipelining on); --concurrency async
// workers (64) call it back to back for --duration seconds (5).
//
// Prints ONE JSON line:
//   {"sdk":"@upstash/ratelimit","concurrency":..,"ops":..,"ops_per_sec":..,"p50_us":..,
//    "p99_us":..,"http_requests":..,"requests_per_decision":..,"errors":..}
// `http_requests` is the delta of upstash-local's `GET /_local/stats` request counter over the
// run (null when the server has no such endpoint); `requests_per_decision` = http_requests / ops.
// Latencies are per `limit()` call, in microseconds. Reads UPSTASH_REDIS_REST_URL/TOKEN.

import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";

const url = process.env.UPSTASH_REDIS_REST_URL;
const token = process.env.UPSTASH_REDIS_REST_TOKEN;
if (!url || !token) {
  console.error("UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN must be set (eval the upstash-local env block)");
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    concurrency: 64,
    duration: 5,
    keys: 10_000,
    limit: 1_000_000,
    prefix: `loadgen:ratelimit:${Math.floor(Math.random() * 2 ** 32).toString(16)}`,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    if (flag === "--prefix" && argv[i + 1]) {
      opts.prefix = argv[i + 1];
      continue;
    }
    const value = Number(argv[i + 1]);
    const name = {
      "--concurrency": "concurrency",
      "--duration": "duration",
      "--keys": "keys",
      "--limit": "limit",
    }[flag];
    if (!name || !Number.isFinite(value) || value <= 0) {
      console.error(
        "usage: node ratelimit_bench.mjs [--concurrency N] [--duration SECS] [--keys N] [--limit N] [--prefix P]",
      );
      process.exit(2);
    }
    opts[name] = value;
  }
  return opts;
}

const { concurrency, duration, keys, limit, prefix } = parseArgs(process.argv.slice(2));

async function httpRequests() {
  try {
    const res = await fetch(`${url.replace(/\/$/, "")}/_local/stats`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (!res.ok) return null;
    const s = await res.json();
    const r = s?.redis ?? s;
    const v = r?.http_requests;
    if (typeof v === "number") return v;
    if (typeof v?.total === "number") return v.total;
    return null;
  } catch {
    return null;
  }
}

const ratelimit = new Ratelimit({
  redis: new Redis({ url, token }),
  limiter: Ratelimit.slidingWindow(limit, "10 s"),
  prefix,
});

// Warm-up: loads the script into the server's cache (the first call costs NOSCRIPT + EVAL).
await ratelimit.limit("user:warmup");

const latencies = [];
let errors = 0;
const before = await httpRequests();
const start = performance.now();
const deadline = start + duration * 1000;

async function worker() {
  while (performance.now() < deadline) {
    const id = `user:${Math.floor(Math.random() * keys)}`;
    const t0 = performance.now();
    try {
      await ratelimit.limit(id);
      latencies.push((performance.now() - t0) * 1000);
    } catch {
      errors += 1;
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
const elapsed = (performance.now() - start) / 1000;
const after = await httpRequests();

latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]) : null);
const ops = latencies.length;
const http = before !== null && after !== null ? after - before : null;
console.log(
  JSON.stringify({
    sdk: "@upstash/ratelimit",
    concurrency,
    ops,
    ops_per_sec: Math.round((ops / elapsed) * 10) / 10,
    p50_us: pct(0.5),
    p99_us: pct(0.99),
    http_requests: http,
    requests_per_decision: http !== null && ops > 0 ? Math.round((http / ops) * 1000) / 1000 : null,
    errors,
  }),
);
process.exit(errors === 0 ? 0 : 1);
