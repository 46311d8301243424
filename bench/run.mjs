// `npm run bench`: builds the release worker, serves it with `wrangler dev`
// (local KV and D1), loads each login endpoint with wrk on loopback for a few
// seconds, and prints one table; the same figures go to bench/results/latest.json.
//   BENCH_SECONDS=4 BENCH_CONNECTIONS=8 BENCH_PRE_ISSUED=2000 npm run bench
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Log, LogLevel, Miniflare } from "miniflare";
import { startResendStub } from "../tests/e2e/support/resend_stub.mjs";
import { builtWorkerOptions } from "../tests/e2e/support/worker_options.mjs";

const ROOT = new URL("../", import.meta.url).pathname;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const THREADS = 2;
const PRE_ISSUED = Number(process.env.BENCH_PRE_ISSUED ?? 2000);
const CLK_TCK = 100; // /proc/<pid>/stat counts CPU in clock ticks (USER_HZ)
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: ROOT, encoding: "utf8", ...opts });

function runAsync(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

// 1. The release build and the bundle as `wrangler deploy` would upload it.
log("building the release worker");
run("bash", ["scripts/build.sh"], { stdio: ["ignore", "ignore", "inherit"] });
const outdir = mkdtempSync(join(tmpdir(), "allmine-bundle-"));
run("npx", ["wrangler", "deploy", "--dry-run", "--env", "production", "--outdir", outdir], { stdio: "ignore" });
const bundle = {};
const uploaded = [];
for (const file of readdirSync(outdir)) {
  const kind = file.endsWith(".wasm") ? "wasm" : file.endsWith(".js") ? "js" : null;
  if (!kind) continue;
  const bytes = readFileSync(join(outdir, file));
  uploaded.push({ type: kind === "wasm" ? "CompiledWasm" : "ESModule", path: file, contents: bytes });
  bundle[`${kind}Bytes`] = bytes.length;
  bundle[`${kind}GzipBytes`] = gzipSync(bytes, { level: 9 }).length;
}
bundle.totalGzipBytes = (bundle.wasmGzipBytes ?? 0) + (bundle.jsGzipBytes ?? 0);
rmSync(outdir, { recursive: true, force: true });
// The entry module first (workerd runs the first module listed): wrangler names
// it after `main` (worker/entry.mjs → entry.js).
const main = uploaded.findIndex((m) => m.path === "entry.js");
if (main < 0) throw new Error(`no entry.js among the uploaded modules: ${uploaded.map((m) => m.path).join(", ")}`);
uploaded.unshift(...uploaded.splice(main, 1));

// 2. Cold start of the uploaded bundle in workerd (through Miniflare; Node's own
// V8 is too old for the module's Wasm features). Three workers are started the
// same way: a bare one (no bindings), an empty one with this worker's bindings,
// and this worker. Ours minus the empty one with the same bindings is the
// module's own cost: loading the modules, instantiating the Wasm and running
// its start code ("module"), then the first request's extra time over the
// empty worker's (lazy compilation of the code it runs, first-use work). The
// first request is a real login attempt: a verify of a well-formed code for an
// address with none pending, which parses the configuration and keys and
// reads KV before it answers 404.
// The empty-with-bindings minus bare figure is what Miniflare's local KV/D1
// simulators take to start, which a deployed worker does not pay; it is
// printed too. Modules are passed as wrangler bundled them, so the figure
// does not include Miniflare walking the imports of a source tree.
async function startup(options) {
  const t0 = performance.now();
  const mf = new Miniflare({ ...options, log: new Log(LogLevel.NONE), cf: false, handleRuntimeStdio: () => {} });
  const url = await mf.ready;
  const readyMs = performance.now() - t0;
  const t1 = performance.now();
  const res = await fetch(new URL("/api/v1/auth/verify-otp-email", url), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "cold@example.com", code: "123456" }),
  });
  await res.text();
  const firstMs = performance.now() - t1;
  if (options.modules === uploaded && res.status !== 404) throw new Error(`the first verify answered ${res.status}, not 404`);
  await mf.dispose();
  return { readyMs, firstMs };
}
const { scriptPath: _s, modulesRules: _r, modulesRoot: _m, rootPath: _p, assets: _a, ...bindings } = builtWorkerOptions();
const emptyScript = "export default { fetch() { return new Response('') } }";
const kinds = {
  bare: { modules: true, script: emptyScript, compatibilityDate: bindings.compatibilityDate },
  empty: { ...bindings, modules: true, script: emptyScript },
  ours: { ...bindings, modules: uploaded },
};
// Noise on a shared machine only ever adds time, so the fastest of several
// starts is the best estimate of each.
const starts = { bare: [], empty: [], ours: [] };
for (let i = 0; i < 9; i++) {
  for (const [kind, options] of Object.entries(kinds)) starts[kind].push(await startup(options));
}
const fastest = (kind, key) => Math.min(...starts[kind].map((s) => s[key]));
const moduleMs = fastest("ours", "readyMs") - fastest("empty", "readyMs");
const firstRequestMs = fastest("ours", "firstMs") - fastest("empty", "firstMs");
const localBindingsMs = fastest("empty", "readyMs") - fastest("bare", "readyMs");
if (process.env.BENCH_COLD_ONLY) {
  console.log(JSON.stringify({ moduleMs, firstRequestMs, totalMs: moduleMs + firstRequestMs, localBindingsMs }));
  process.exit(0);
}

// 3. The service under wrangler dev, with a stand-in mail provider.
const mail = await startResendStub();
const state = mkdtempSync(join(tmpdir(), "allmine-bench-"));
const port = 38787 + Math.floor(Math.random() * 1000);
const base = `http://127.0.0.1:${port}`;
const dev = spawn(
  "bash",
  ["scripts/dev.sh", "--var", "EMAIL_PROVIDER:resend", "--var", `EMAIL_API_URL:${mail.url}`,
    "--var", "EMAIL_API_KEY:re_test_key", "--var", "OTP_RESEND_COOLDOWN_SECONDS:0",
    "--var", "OTP_SENDS_PER_HOUR:100000"],
  {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), DEV_PERSIST_TO: state },
    detached: true,
    stdio: ["ignore", openSync(join(state, "dev.log"), "w"), openSync(join(state, "dev.log"), "a")],
  },
);
const stop = () => {
  try {
    process.kill(-dev.pid, "SIGTERM");
  } catch {
    // gone
  }
};
process.on("exit", stop);

const deadline = Date.now() + 300_000;
for (;;) {
  if (Date.now() > deadline) throw new Error("wrangler dev did not start");
  try {
    if ((await fetch(`${base}/api/v1/nothing`)).status === 404) break;
  } catch {
    // not listening yet
  }
  await new Promise((r) => setTimeout(r, 200));
}
// Cold start, part two: the first request that touches KV and D1.
let t0 = performance.now();
await fetch(`${base}/health`);
const firstHealthMs = performance.now() - t0;
t0 = performance.now();
for (let i = 0; i < 20; i++) await fetch(`${base}/health`);
const warmHealthMs = (performance.now() - t0) / 20;

function workerdPids() {
  const pids = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (Number(fields[2]) === dev.pid && comm.startsWith("workerd")) pids.push(pid);
    } catch {
      // exited
    }
  }
  return pids;
}
function cpuTicks(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]); // utime + stime
  }
  return ticks;
}
const pids = workerdPids();
if (pids.length === 0) throw new Error("no workerd process found in wrangler dev's process group");

let ip = 0;
async function post(path, body) {
  ip++;
  const res = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": `172.16.${ip >> 8 & 255}.${ip & 255}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}
async function pool(n, worker) {
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < n) await worker(next++);
  }));
}

// 4. Pre-issued material: a fresh code per verify, a fresh refresh token per refresh.
log(`pre-issuing ${PRE_ISSUED} codes and ${PRE_ISSUED} refresh tokens`);
const scratch = mkdtempSync(join(tmpdir(), "allmine-bench-bodies-"));
const verifyBodies = [];
await pool(PRE_ISSUED, async (i) => {
  const email = `verify-${i}@example.com`;
  const sent = await post("/api/v1/auth/send-otp-email", { email });
  if (sent.status !== 200) {
    throw new Error(`send answered ${sent.status}: ${readFileSync(join(state, "dev.log"), "utf8").slice(-12000)}`);
  }
  verifyBodies[i] = JSON.stringify({ email, code: mail.codeFor(email) });
});
const refreshBodies = [];
await pool(PRE_ISSUED, async (i) => {
  const email = `refresh-${i}@example.com`;
  await post("/api/v1/auth/send-otp-email", { email });
  const login = await post("/api/v1/auth/verify-otp-email", { email, code: mail.codeFor(email) });
  refreshBodies[i] = JSON.stringify({ refreshToken: login.body.data.refreshToken });
});
writeFileSync(join(scratch, "verify.txt"), verifyBodies.join("\n") + "\n");
writeFileSync(join(scratch, "refresh.txt"), refreshBodies.join("\n") + "\n");

// 5. Load, one endpoint at a time.
const endpoints = [
  { name: "health", args: ["health", "/health"] },
  { name: "send-otp-email", args: ["send", "/api/v1/auth/send-otp-email"] },
  { name: "verify-otp-email", args: ["file", "/api/v1/auth/verify-otp-email", join(scratch, "verify.txt")] },
  { name: "refresh-token", args: ["file", "/api/v1/auth/refresh-token", join(scratch, "refresh.txt")] },
];
const results = {};
for (const { name, args } of endpoints) {
  log(`loading ${name} for ${SECONDS}s`);
  const [mode, path, file] = args;
  const before = cpuTicks(pids);
  // Asynchronously: the mail stand-in lives in this process and must keep answering.
  const out = await runAsync("wrk", [
    `-t${THREADS}`, `-c${CONNECTIONS}`, `-d${SECONDS}s`, "-s", "bench/load.lua", base,
    "--", mode, path, String(THREADS), ...(file ? [file] : []),
  ]);
  const cpuMs = ((cpuTicks(pids) - before) * 1000) / CLK_TCK;
  const figures = JSON.parse(out.trim().split("\n").at(-1));
  results[name] = {
    requests: figures.requests,
    rps: Math.round(figures.requests / (figures.durationUs / 1e6)),
    p50Ms: figures.p50Us / 1000,
    p99Ms: figures.p99Us / 1000,
    non2xx: figures.non2xx,
    socketErrors: figures.socketErrors,
    cpuMsPerRequest: Number((cpuMs / Math.max(1, figures.requests)).toFixed(3)),
  };
}
stop();
await mail.close();
rmSync(state, { recursive: true, force: true });
rmSync(scratch, { recursive: true, force: true });

const report = {
  at: new Date().toISOString(),
  commit: run("git", ["rev-parse", "--short", "HEAD"]).trim(),
  settings: { seconds: SECONDS, connections: CONNECTIONS, threads: THREADS, preIssued: PRE_ISSUED },
  bundle,
  coldStart: {
    moduleMs: Number(moduleMs.toFixed(2)),
    firstRequestMs: Number(firstRequestMs.toFixed(2)),
    totalMs: Number((moduleMs + firstRequestMs).toFixed(2)),
    localBindingsMs: Number(localBindingsMs.toFixed(2)),
    devFirstHealthMs: Number(firstHealthMs.toFixed(2)),
    devWarmHealthMs: Number(warmHealthMs.toFixed(2)),
  },
  endpoints: results,
};
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, "bench/results/latest.json"), JSON.stringify(report, null, 2) + "\n");

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const health = results.health;
console.log(`\nAllmine auth benchmark (${report.commit}, ${SECONDS}s per endpoint, ${CONNECTIONS} connections)\n`);
console.log("endpoint           req/s    p50 ms   p99 ms   CPU ms/req  vs /health CPU  non-2xx");
for (const [name, r] of Object.entries(results)) {
  console.log(
    `${name.padEnd(18)} ${String(r.rps).padStart(6)} ${r.p50Ms.toFixed(2).padStart(9)} ${r.p99Ms.toFixed(2).padStart(8)} ` +
      `${r.cpuMsPerRequest.toFixed(3).padStart(11)} ${(r.cpuMsPerRequest / health.cpuMsPerRequest).toFixed(2).padStart(14)}x ${String(r.non2xx).padStart(8)}`,
  );
}
console.log(`\nbundle: wasm ${kb(bundle.wasmBytes)} (gzip ${kb(bundle.wasmGzipBytes)}), js ${kb(bundle.jsBytes)} (gzip ${kb(bundle.jsGzipBytes)}), total gzip ${kb(bundle.totalGzipBytes)}`);
const cs = report.coldStart;
console.log(`cold start: ${cs.totalMs} ms (module load ${cs.moduleMs} ms + first request ${cs.firstRequestMs} ms, over an empty worker with the same bindings, whose local simulators add ${cs.localBindingsMs} ms to any start); under wrangler dev first /health ${cs.devFirstHealthMs} ms, warm ${cs.devWarmHealthMs} ms`);
console.log("\nwritten to bench/results/latest.json");
// A run in which an endpoint completed nothing (the server went away, say
// because wrangler dev rebuilt on a source change) measured nothing.
const empty = Object.entries(results).filter(([, r]) => r.requests === 0);
if (empty.length > 0) {
  console.error(`\nno request completed for ${empty.map(([n, r]) => `${n} (${JSON.stringify(r.socketErrors)} socket errors)`).join(", ")}: the figures are void`);
  process.exit(1);
}
process.exit(0);
