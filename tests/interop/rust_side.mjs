// The Rust half of an interop script: an example binary of this workspace.
//
// `rustExample("interop_kafka", "INTEROP_KAFKA_BIN", "kafka interop")` returns the path of the
// prebuilt binary the variable names (what .ci/run passes), or builds the example with cargo and
// returns its path. When the build fails it prints the failure in the scripts' summary format
// and exits 1.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function build(example) {
  console.log(`---- cargo build --quiet --all-features --example ${example}`);
  execFileSync("cargo", ["build", "--quiet", "--all-features", "--example", example], {
    cwd: ROOT,
    stdio: "inherit",
  });
  let targetDir = process.env.CARGO_TARGET_DIR;
  if (!targetDir) {
    const meta = execFileSync("cargo", ["metadata", "--format-version", "1", "--no-deps"], {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    targetDir = JSON.parse(meta.toString()).target_directory;
  }
  return path.resolve(ROOT, targetDir, "debug", "examples", example);
}

export function rustExample(example, envVar, label) {
  if (process.env[envVar]) return process.env[envVar];
  try {
    return build(example);
  } catch (err) {
    console.log(`FAIL cannot build the Rust side: ${err?.message ?? err}`);
    console.log(`${label}: 0 passed, 1 failed`);
    process.exit(1);
  }
}
