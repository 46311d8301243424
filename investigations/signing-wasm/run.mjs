// Question: the profile of verify shows Ed25519 as the largest piece of our
// isolate's own CPU, with `fiat_25519_carry_mul` and `__multi3` at the top.
// Would the other Ed25519 crate jwt-compact offers sign and verify faster in
// wasm? And what does ES256 (`p256`) cost there?
//
// Answer (2026-12-06, Node 20's V8 on the project's 2-core machine, after a
// warm-up): yes. ed25519-compact keeps 64-bit limbs on wasm32, so every
// product is a u128 and a call to `__multi3`; curve25519-dalek picks its
// 32-bit backend there, whose products are native i64 multiplies. Signing
// 73 -> 45 µs, verifying 258 -> 104 µs (without dalek's `fast` precomputed
// tables signing is 118 µs). The service now uses ed25519-dalek
// (docs/performance.md#verify). ES256 signs in about 915 µs and verifies in
// 1,602: p256's field arithmetic is u128 too (docs/performance.md#signing-algorithms).
//
// Run: node investigations/signing-wasm/run.mjs   (builds the crate first)
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL(".", import.meta.url));
execFileSync("cargo", ["build", "--release", "--target", "wasm32-unknown-unknown"], {
  cwd: dir,
  stdio: "inherit",
});
const wasm = readFileSync(`${dir}/target/wasm32-unknown-unknown/release/signing_wasm.wasm`);
const { instance } = await WebAssembly.instantiate(wasm);
const run = instance.exports;
if (run.same_signature() !== 1) throw new Error("the two crates' signatures differ");

const N = Number(process.env.N ?? 2000);
const names = ["sign_compact", "sign_dalek", "verify_compact", "verify_dalek", "sign_es256", "verify_es256"];
// Warm up, so V8 has tiered the hot functions up as a busy isolate would.
for (const name of names) run[name](300);
const runs = Object.fromEntries(names.map((name) => [name, []]));
for (let round = 0; round < 5; round++) {
  for (const name of names) {
    const start = process.hrtime.bigint();
    if (run[name](N) === undefined) throw new Error(name);
    runs[name].push(Number(process.hrtime.bigint() - start) / 1e3 / N);
  }
}
const median = (xs) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const name of names) {
  console.log(`${name.padEnd(15)} ${median(runs[name]).toFixed(1)} µs (5 rounds of ${N}: ${runs[name].map((x) => x.toFixed(1)).join(", ")})`);
}
