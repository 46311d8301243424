// Question: /health costs workerd more CPU per request for ours than for the
// reference, beyond what our isolate's V8 profile shows. Where does the rest go?
//
// Answer (2026-12-06, ab18bde, 2-core machine, `perf record -F 999 -g` of each
// side's workerd processes for 5 s of GET /health under wrk, both without the
// inspector proxy and with the same [assets] table): 2.22 against 2.04 ms of
// workerd CPU a request. The 0.19 ms is spread thin over workerd's C++ side
// of the JS objects our request makes through workers-rs, none above 0.011 ms
// a request: Headers objects destroyed (26 samples against 1), Liftoff frame
// setup (26 against 0: wasm code that has not tiered up), allocations and
// frees, traced references, promise continuations, UTF-8 string copies. No
// single rule or storage call stands out. (`perf report -i /tmp/perf-ours.data
// --no-children --sort sym -n` for the figures.)
//
// Usage: node investigations/workerd-perf.mjs  (after `bash scripts/build.sh`;
// needs perf and wrk, and root for perf)
import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(ROOT);
const { freePort } = await import("../harness/ports.mjs");
const { groupProcesses, waitForHealth, WITHOUT_INSPECTOR } = await import("../harness/devserver.mjs");
const { prepareReference } = await import("../harness/reference.mjs");
const { assetsTableFor, withoutTable } = await import("../harness/worker_options.mjs");
const config = withoutTable(readFileSync("wrangler.toml", "utf8"), "build");
writeFileSync("wrangler.perf.toml", config);
const ASSETS = assetsTableFor(config);
const po = await freePort(), pr = await freePort();
const ours = spawn("bash", ["scripts/dev.sh", "--config", "wrangler.perf.toml", "--var", "REQUEST_LOG:failures"], { env: { ...process.env, PORT: String(po), DEV_PERSIST_TO: join(tmpdir(), "perf-ours"), ...WITHOUT_INSPECTOR }, detached: true, stdio: ["ignore", openSync("/tmp/perf-ours.log", "w"), openSync("/tmp/perf-ours.log", "a")] });
const dir = prepareReference({ dir: join(tmpdir(), "allmine-perf-reference"), persistTo: join(tmpdir(), "perf-ref") });
appendFileSync(join(dir, "wrangler.toml"), `\n${ASSETS}`);
const ref = spawn("npx", ["wrangler", "dev", "--ip", "127.0.0.1", "--port", String(pr), "--persist-to", join(tmpdir(), "perf-ref")], { cwd: dir, env: { ...process.env, ...WITHOUT_INSPECTOR }, detached: true, stdio: ["ignore", openSync("/tmp/perf-ref.log", "w"), openSync("/tmp/perf-ref.log", "a")] });
const sides = [{ name: "ours", child: ours, base: `http://127.0.0.1:${po}` }, { name: "ref", child: ref, base: `http://127.0.0.1:${pr}` }];
for (const s of sides) if (!(await waitForHealth(s.base, Date.now() + 300000))) throw new Error(s.name);
for (const s of sides) {
  const pids = groupProcesses(s.child.pid).filter((p) => p.comm.startsWith("workerd")).map((p) => p.pid);
  execFileSync("wrk", ["-t2", "-c16", "-d2s", `${s.base}/health`]);
  const wrk = spawn("wrk", ["-t2", "-c16", "-d6s", `${s.base}/health`], { stdio: ["ignore", "pipe", "inherit"] });
  let out = ""; wrk.stdout.on("data", (d) => (out += d));
  execFileSync("perf", ["record", "-F", "999", "-g", "-o", `/tmp/perf-${s.name}.data`, "-p", pids.join(","), "--", "sleep", "5"], { stdio: "ignore" });
  await new Promise((r) => wrk.on("close", r));
  console.log(s.name, out.match(/Requests\/sec:\s+([\d.]+)/)[1], "req/s; pids", pids.join(","));
}
for (const s of sides) {
  try {
    process.kill(-s.child.pid, "SIGTERM");
  } catch {
    // gone
  }
}
rmSync("wrangler.perf.toml", { force: true });
process.exit(0);
