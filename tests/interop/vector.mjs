// Interop: `@upstash/vector` 1.2.3 and our `upstash-vector` crate on one index.
//
// Reads UPSTASH_VECTOR_REST_URL / UPSTASH_VECTOR_REST_TOKEN (the env block upstash-local prints;
// any dense index works, its dimension is read from `info`). In two fresh namespaces, one
// written by each SDK, it checks that upsert, query with filters, fetch, range, delete (ids and
// filter), namespaces and info give the same answers through @upstash/vector and through the
// Rust example (examples/interop_vector.rs, one JSON value per call), and that the answers are
// right: filter results checked against predicates written here in JS, range in insertion
// order ending in "", null for missing ids, namespaces isolated.
//
// The last line is `vector interop: N passed, N failed`; the exit status is 1 when anything
// failed. The namespaces are deleted at the end.
//
// The Rust side is built once with `cargo build --quiet --all-features --example
// interop_vector` (in $CARGO_TARGET_DIR or the workspace's target directory) and then called
// directly. INTEROP_VECTOR_BIN names a prebuilt binary instead (then nothing is built).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { Index } from "@upstash/vector";
import { rustExample } from "./rust_side.mjs";

const url = process.env.UPSTASH_VECTOR_REST_URL;
const token = process.env.UPSTASH_VECTOR_REST_TOKEN;
if (!url || !token) {
  console.error("UPSTASH_VECTOR_REST_URL and UPSTASH_VECTOR_REST_TOKEN must be set (eval the upstash-local env block)");
  process.exit(2);
}

const run = randomUUID().slice(0, 8);
const NS_JS = `interop-${run}-js`;
const NS_RUST = `interop-${run}-rust`;
const COUNT = 20;

let passed = 0;
let failed = 0;

// ---------------------------------------------------------------- the Rust binary
const BIN = rustExample("interop_vector", "INTEROP_VECTOR_BIN", "vector interop");

// Runs one operation of the Rust example and returns its JSON output.
function rust(...args) {
  const out = spawnSync(BIN, args.map(String), { encoding: "utf8", env: process.env });
  if (out.error) throw new Error(`cannot run ${BIN}: ${out.error.message}`);
  if (out.status !== 0) throw new Error(`${BIN} ${args.join(" ")} exited with ${out.status}: ${out.stderr.trim()}`);
  return JSON.parse(out.stdout);
}

// ---------------------------------------------------------------- the data (as in the example)
const index = new Index({ url, token });
let DIM = 0;

function itemVector(i) {
  const v = [];
  for (let j = 0; j < DIM; j += 1) v.push(((i * 131 + j * 17 + 7) % 257) / 128 - 1);
  return v;
}

function itemMetadata(i) {
  const m = {
    i,
    group: ["red", "green", "blue"][i % 3],
    name: `item-${i}`,
    tags: [`t${i % 4}`, "all"],
    nested: { even: i % 2 === 0 },
  };
  if (i % 5 !== 0) m.price = i % 7 === 0 ? null : i * 1.5;
  return m;
}

function cosine(a, b) {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i += 1) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return d / Math.sqrt(na * nb);
}

// Filters, each with the predicate it means (spec section 5), over itemMetadata.
const FILTERS = [
  ["group = 'red'", (m) => m.group === "red"],
  ["group != 'red' AND i >= 4", (m) => m.group !== "red" && m.i >= 4],
  ["price > 10 OR group = 'blue'", (m) => (typeof m.price === "number" && m.price > 10) || m.group === "blue"],
  // null counts as present: `!=` is true for it, false for a missing field.
  ["price != 6", (m) => "price" in m && m.price !== 6],
  ["HAS FIELD price", (m) => "price" in m],
  ["HAS NOT FIELD price", (m) => !("price" in m)],
  ["name GLOB 'item-1*'", (m) => m.name.startsWith("item-1")],
  ["name NOT GLOB '*[02468]'", (m) => !/[02468]$/.test(m.name)],
  ["i IN (1, 2, 3, 17)", (m) => [1, 2, 3, 17].includes(m.i)],
  ["group NOT IN ('red', 'green')", (m) => !["red", "green"].includes(m.group)],
  ["tags CONTAINS 't1'", (m) => m.tags.includes("t1")],
  ["tags NOT CONTAINS 't1'", (m) => !m.tags.includes("t1")],
  ["nested.even = true AND tags[0] = 't2'", (m) => m.nested.even === true && m.tags[0] === "t2"],
  ["tags[#-1] = 'all' AND (i < 3 OR i > 16)", (m) => m.tags[m.tags.length - 1] === "all" && (m.i < 3 || m.i > 16)],
];

// ---------------------------------------------------------------- checks
const checks = [];
function check(name, fn) {
  checks.push([name, fn]);
}

const same = (a, b) => Math.fround(a) === Math.fround(b);

check("info: dimension and similarity agree", async () => {
  const j = await index.info();
  const r = rust("info");
  DIM = j.dimension;
  assert.ok(DIM > 0, "a dense index");
  assert.equal(r.dimension, j.dimension);
  assert.equal(r.similarityFunction, j.similarityFunction);
});

check("upsert: JS writes, Rust fetches the same records", async () => {
  const items = [];
  for (let i = 0; i < COUNT; i += 1) items.push({ id: `j${i}`, vector: itemVector(i), metadata: itemMetadata(i) });
  assert.equal(await index.upsert(items, { namespace: NS_JS }), "Success");
  const ids = ["j0", "j7", "nope", "j19"];
  const r = rust("fetch", NS_JS, ids.join(","));
  const j = await index.fetch(ids, { includeMetadata: true, includeVectors: true, namespace: NS_JS });
  assert.equal(r.length, 4);
  assert.equal(r[2], null, "rust: missing id is null");
  assert.equal(j[2], null, "js: missing id is null");
  for (const k of [0, 1, 3]) {
    const i = Number(ids[k].slice(1));
    assert.equal(r[k].id, ids[k]);
    assert.deepEqual(r[k].metadata, itemMetadata(i), "rust metadata");
    assert.deepEqual(j[k].metadata, itemMetadata(i), "js metadata");
    assert.deepEqual(r[k].vector, itemVector(i), "rust vector (exact f32 values)");
    assert.deepEqual(j[k].vector, itemVector(i), "js vector (exact f32 values)");
  }
});

check("upsert: Rust writes, JS fetches the same records", async () => {
  assert.equal(rust("upsert", NS_RUST, COUNT), "Success");
  const ids = Array.from({ length: COUNT }, (_, i) => `r${i}`);
  const j = await index.fetch(ids, { includeMetadata: true, includeVectors: true, namespace: NS_RUST });
  const r = rust("fetch", NS_RUST, ids.join(","));
  for (let i = 0; i < COUNT; i += 1) {
    assert.equal(j[i].id, `r${i}`);
    assert.deepEqual(j[i].metadata, itemMetadata(i));
    assert.deepEqual(j[i].vector, itemVector(i));
    assert.deepEqual(r[i], { id: j[i].id, metadata: j[i].metadata, vector: j[i].vector });
  }
});

check("namespaces are isolated", async () => {
  const jq = await index.query({ vector: itemVector(3), topK: 50 }, { namespace: NS_JS });
  assert.ok(jq.every((h) => h.id.startsWith("j")), "only j* ids in the JS namespace");
  assert.equal(jq.length, COUNT);
  const rq = rust("query", NS_RUST, 3, 50);
  assert.ok(rq.every((h) => h.id.startsWith("r")), "only r* ids in the Rust namespace");
  const none = await index.fetch(["r1"], { namespace: NS_JS });
  assert.deepEqual(none, [null]);
});

check("query without filter: same ranking, scores as computed here", async () => {
  for (const seed of [0, 5, 13]) {
    const j = await index.query({ vector: itemVector(seed), topK: 5, includeMetadata: true, includeVectors: true }, { namespace: NS_JS });
    const r = rust("query", NS_JS, seed, 5);
    assert.equal(j[0].id, `j${seed}`, "the item itself first");
    assert.ok(Math.abs(j[0].score - 1) < 1e-6, `self score ${j[0].score}`);
    assert.deepEqual(r.map((h) => h.id), j.map((h) => h.id));
    for (let k = 0; k < j.length; k += 1) {
      assert.ok(same(r[k].score, j[k].score), `score ${r[k].score} vs ${j[k].score}`);
      assert.deepEqual(r[k].metadata, j[k].metadata);
      assert.deepEqual(r[k].vector, j[k].vector);
      const i = Number(j[k].id.slice(1));
      const want = (1 + cosine(itemVector(seed), itemVector(i))) / 2;
      assert.ok(Math.abs(j[k].score - want) < 1e-5, `cosine score of ${j[k].id}: ${j[k].score} vs ${want}`);
    }
  }
});

for (const [filter, pred] of FILTERS) {
  check(`query with filter: ${filter}`, async () => {
    const want = Array.from({ length: COUNT }, (_, i) => i).filter((i) => pred(itemMetadata(i)));
    const j = await index.query({ vector: itemVector(2), topK: COUNT, includeMetadata: true, filter }, { namespace: NS_JS });
    const r = rust("query", NS_RUST, 2, COUNT, filter);
    assert.deepEqual(j.map((h) => Number(h.id.slice(1))).sort((a, b) => a - b), want, "JS: exactly the matching items");
    assert.deepEqual(r.map((h) => Number(h.id.slice(1))), j.map((h) => Number(h.id.slice(1))), "Rust: same ranking (same data in the other namespace)");
    for (let k = 0; k < j.length; k += 1) assert.ok(same(r[k].score, j[k].score), "same scores");
    // A smaller top-k keeps the head of the ranking.
    const j3 = await index.query({ vector: itemVector(2), topK: 3, filter }, { namespace: NS_RUST });
    assert.deepEqual(j3.map((h) => h.id), r.slice(0, 3).map((h) => h.id));
  });
}

check("filter syntax error: 400 with a position, through both SDKs", async () => {
  await assert.rejects(
    index.query({ vector: itemVector(1), topK: 1, filter: "group = 'red' AND" }, { namespace: NS_JS }),
    (err) => /position|at \d|column|offset/i.test(String(err?.message ?? err)),
  );
  assert.throws(() => rust("query", NS_JS, 1, 1, "group = 'red' AND"), /400|position|at \d|offset/i);
});

check("range: same pages in insertion order, ending in an empty cursor", async () => {
  const r = rust("range", NS_JS, 7);
  const pages = [];
  let cursor = "0";
  for (;;) {
    const p = await index.range({ cursor, limit: 7, includeMetadata: true }, { namespace: NS_JS });
    pages.push({ cursor, nextCursor: p.nextCursor, ids: p.vectors.map((v) => v.id) });
    if (p.nextCursor === "" || pages.length > 100) break;
    cursor = p.nextCursor;
  }
  assert.deepEqual(r, pages);
  assert.deepEqual(pages.flatMap((p) => p.ids), Array.from({ length: COUNT }, (_, i) => `j${i}`));
  assert.equal(pages.length, 3);
  assert.equal(pages.at(-1).nextCursor, "");
});

check("delete by ids (JS) and by filter (Rust), seen by both", async () => {
  const d = await index.delete(["j3", "j4", "missing"], { namespace: NS_JS });
  assert.deepEqual(d, { deleted: 2 });
  assert.deepEqual(rust("fetch", NS_JS, "j3,j4,j5").map((v) => v && v.id), [null, null, "j5"]);
  const again = rust("delete", NS_JS, "j3,j4");
  assert.equal(again, 0, "deleting again deletes nothing");
  const blue = Array.from({ length: COUNT }, (_, i) => i).filter((i) => i !== 3 && i !== 4 && itemMetadata(i).group === "blue");
  assert.equal(rust("delete-filter", NS_JS, "group = 'blue'"), blue.length);
  const left = await index.range({ cursor: 0, limit: 100 }, { namespace: NS_JS });
  const want = Array.from({ length: COUNT }, (_, i) => i)
    .filter((i) => i !== 3 && i !== 4 && itemMetadata(i).group !== "blue")
    .map((i) => `j${i}`);
  assert.deepEqual(left.vectors.map((v) => v.id), want);
  const jd = await index.delete({ filter: "group = 'green' AND i < 5" }, { namespace: NS_RUST });
  assert.deepEqual(jd, { deleted: 2 });
});

check("info and namespaces agree", async () => {
  const j = await index.info();
  const r = rust("info");
  assert.equal(r.vectorCount, j.vectorCount);
  assert.equal(j.namespaces[NS_JS].vectorCount, COUNT - 2 - 6);
  assert.equal(r.namespaces[NS_JS], j.namespaces[NS_JS].vectorCount);
  assert.equal(j.namespaces[NS_RUST].vectorCount, COUNT - 2);
  assert.equal(r.namespaces[NS_RUST], j.namespaces[NS_RUST].vectorCount);
  const jl = await index.listNamespaces();
  const rl = rust("namespaces");
  assert.deepEqual([...rl].sort(), [...jl].sort());
  assert.ok(jl.includes("") && jl.includes(NS_JS) && jl.includes(NS_RUST));
  assert.equal(await index.deleteNamespace(NS_RUST), "Success");
  assert.ok(!rust("namespaces").includes(NS_RUST), "deleted namespace gone for Rust");
  assert.ok(!(NS_RUST in (await index.info()).namespaces), "deleted namespace gone from info");
});

for (const [name, fn] of checks) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (err) {
    failed += 1;
    console.log(`FAIL ${name}: ${err?.stack ?? err}`);
    if (DIM === 0) break;
  }
}

// ---------------------------------------------------------------- cleanup
for (const ns of [NS_JS, NS_RUST]) {
  try {
    await index.deleteNamespace(ns);
  } catch {
    // Already deleted by a check.
  }
}

console.log(`vector interop: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
