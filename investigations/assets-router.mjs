// Question: what does the [assets] table cost each request of ours under
// `wrangler dev`, when `run_worker_first` sends the request to the worker
// anyway? bench/storage-costs prices the router at about 0.03 ms of workerd CPU
// for a bare JS worker, yet ours looked slower beside the reference.
//
// Answer (2026-12-06, 57c9f76, 2-core machine, 6 alternating rounds of 5 s of
// GET /health, REQUEST_LOG=failures): with the table 541 req/s and 2.33 ms of
// workerd CPU a request, without it 622 req/s and 2.11 ms; a run before it,
// 0.45 ms and 17 %. So 0.2-0.45 ms and 13-17 %, whatever the run. Leaving out
// the ASSETS binding or the _headers file changed nothing; only the table
// does. Hence the bench gives the reference the same table
// (docs/performance.md#the-benchmark). Deployed, the router's work is not
// billed as the worker's CPU.
//
// Usage: node investigations/assets-router.mjs  (after `bash scripts/build.sh`;
// ROUNDS=6 by default; needs wrk)
import { execFileSync, spawn } from "node:child_process";
import { openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../harness/ports.mjs";
import { cpuTimeMs, waitForHealth, WITHOUT_INSPECTOR, workerdPids } from "../harness/devserver.mjs";
import { withoutTable } from "../harness/worker_options.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const config = withoutTable(readFileSync(join(ROOT, "wrangler.toml"), "utf8"), "build");
const variants = { "with [assets]": config, "without [assets]": withoutTable(config, "assets") };

const sides = [];
for (const [name, text] of Object.entries(variants)) {
  const file = join(ROOT, `wrangler.investigation-${sides.length}.toml`);
  writeFileSync(file, text);
  const port = await freePort();
  const log = join(tmpdir(), `assets-router-${sides.length}.log`);
  const child = spawn("bash", ["scripts/dev.sh", "--config", file, "--var", "REQUEST_LOG:failures"], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), DEV_PERSIST_TO: join(tmpdir(), `assets-router-state-${sides.length}`), ...WITHOUT_INSPECTOR },
    detached: true,
    stdio: ["ignore", openSync(log, "w"), openSync(log, "a")],
  });
  sides.push({ name, file, child, base: `http://127.0.0.1:${port}` });
}
const stop = () => {
  for (const side of sides) {
    try {
      process.kill(-side.child.pid, "SIGTERM");
    } catch {
      // gone
    }
    rmSync(side.file, { force: true });
  }
};
process.on("exit", stop);
for (const side of sides) {
  if (!(await waitForHealth(side.base, Date.now() + 300_000))) throw new Error(`${side.name} did not start`);
}

/** The CPU time of the side's workerd processes so far, in ms. */
const workerdMs = (side) => cpuTimeMs(workerdPids(side.child.pid));

const rounds = Number(process.env.ROUNDS ?? 6);
for (let round = 0; round < rounds; round++) {
  for (const side of round % 2 ? [...sides].reverse() : sides) {
    const before = workerdMs(side);
    const out = execFileSync("wrk", ["-t2", "-c16", "-d5s", `${side.base}/health`], { encoding: "utf8" });
    const requests = Number(out.match(/(\d+) requests in/)[1]);
    const cpu = (workerdMs(side) - before) / requests;
    (side.rounds ??= []).push({ rps: Number(out.match(/Requests\/sec:\s+([\d.]+)/)[1]), cpu });
  }
}
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const side of sides) {
  const rps = median(side.rounds.map((r) => r.rps));
  const cpu = median(side.rounds.map((r) => r.cpu));
  console.log(`${side.name.padEnd(18)} ${rps.toFixed(0)} req/s  ${cpu.toFixed(2)} ms workerd CPU/request (median of ${rounds})`);
}
process.exit(0);
