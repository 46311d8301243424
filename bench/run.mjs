// `npm run bench`: our worker side by side with the TypeScript reference
// (../shared/reference/ts-worker, the login a team would write instead), both
// under `wrangler dev` with their own local KV and D1 and one stand-in mail
// provider, loaded alternately with wrk on loopback, route by route. It prints
//   1. per route, ours over the reference: req/s, p50, workerd CPU per request
//      (from /proc, local KV and D1 simulators included), each the median of
//      alternating rounds, with the range of the per-round ratios, both
//      workers under wrangler dev WITHOUT its inspector proxy (which parses
//      every inspector event and would bill ours for more of them);
//   2. the worker's own CPU per request from V8 CPU profiles of each isolate
//      (JS, wasm, built-ins and API calls, GC; the simulators excluded),
//      in a second phase with both workers started again, inspectors on;
//   3. the storage round trips of every path of ours, from its log lines;
//   4. the bundle wrangler would upload, and its cold start.
// The same figures go to bench/results/latest.json, the profiles beside it.
//
//   BENCH_SECONDS=5 BENCH_ROUNDS=5 BENCH_CONNECTIONS=16 BENCH_PROFILE_SECONDS=4
//   BENCH_ROUTES=health,send,verify  BENCH_COLD_STARTS=15  BENCH_SKIP_COLD=1  BENCH_COLD_ONLY=1
// wrk is Debian's package `wrk` (installed here when missing and run as root).
import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, loadavg } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Log, LogLevel, Miniflare } from "miniflare";
import { assetsTableFor, builtWorkerOptions, withoutTable } from "../harness/worker_options.mjs";
import { startResendStub } from "../harness/resend_stub.mjs";
import { attribute, connectInspector, profiled, summarise } from "./profile.mjs";
import { prepareReference } from "../harness/reference.mjs";
import { countTrips } from "./trips.mjs";
import { spawnApp } from "../harness/app.mjs";
import { cpuTimeMs, waitForHealth, WITHOUT_INSPECTOR, workerdPids } from "../harness/devserver.mjs";
import { freePort } from "../harness/ports.mjs";
import { ROOT } from "../harness/worker_options.mjs";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const PROFILE_SECONDS = Number(process.env.BENCH_PROFILE_SECONDS ?? 4);
const ROUTES = (process.env.BENCH_ROUTES ?? "health,send,verify").split(",");
const THREADS = 2;
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: ROOT, encoding: "utf8", ...opts });
const log = (message) => process.stderr.write(`[bench] ${message}\n`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x, digits = 3) => Number(x.toFixed(digits));

function runAsync(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

function ensureWrk() {
  try {
    run("wrk", ["--version"], { stdio: "ignore" });
  } catch (err) {
    // wrk --version exits 1 after printing; only a missing binary throws ENOENT.
    if (err.code !== "ENOENT") return;
    if (process.getuid?.() !== 0) throw new Error("wrk is missing: apt-get install -y wrk");
    log("installing wrk (Debian package)");
    run("apt-get", ["install", "-y", "-qq", "wrk"], { stdio: "ignore" });
  }
}

// 1. The release build and the bundle as `wrangler deploy` would upload it.
ensureWrk();
const machine = { loadBefore: loadavg().map((x) => round(x, 2)), cores: readFileSync("/proc/cpuinfo", "utf8").match(/^processor/gm).length };
log(`load average ${machine.loadBefore.join(" ")} on ${machine.cores} cores`);
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
// address with none pending, which parses the configuration and keys, reads
// KV and asks D1 (the authority on codes; its schema migrated beforehand)
// before it answers 404. `BENCH_COLD_STARTS` (15) rounds, each starting all three back to back.
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
let coldStart = null;
const COLD_STARTS = Number(process.env.BENCH_COLD_STARTS ?? 15);
if (!process.env.BENCH_SKIP_COLD) {
  log(`cold start: ${COLD_STARTS} rounds, each starting a bare worker, an empty one with our bindings, ours`);
  const coldState = mkdtempSync(join(tmpdir(), "allmine-cold-"));
  run("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", coldState], {
    stdio: "ignore", env: { ...process.env, CI: "true" },
  });
  const { scriptPath: _s, modulesRules: _r, modulesRoot: _m, rootPath: _p, assets: _a, ...workerBindings } = builtWorkerOptions({ devVars: true });
  const bindings = { ...workerBindings, d1Persist: join(coldState, "v3", "d1") };
  const emptyScript = "export default { fetch() { return new Response('') } }";
  // The empty worker's first request touches KV and D1 too, so that their
  // simulators' first use is not counted as ours.
  const storageScript = `export default { async fetch(req, env) {
    await env.OTP_CODES.get("cold");
    await env.DB.prepare("SELECT count(*) FROM otp_codes").first();
    return new Response("");
  } }`;
  const kinds = {
    bare: { modules: true, script: emptyScript, compatibilityDate: bindings.compatibilityDate },
    empty: { ...bindings, modules: true, script: storageScript },
    ours: { ...bindings, modules: uploaded },
  };
  // Noise on a shared machine only ever adds time, so the fastest start is the best estimate.
  const starts = { bare: [], empty: [], ours: [] };
  for (let i = 0; i < COLD_STARTS; i++) {
    for (const [kind, options] of Object.entries(kinds)) starts[kind].push(await startup(options));
  }
  rmSync(coldState, { recursive: true, force: true });
  const fastest = (kind, key) => Math.min(...starts[kind].map((s) => s[key]));
  const moduleMs = fastest("ours", "readyMs") - fastest("empty", "readyMs");
  const firstRequestMs = fastest("ours", "firstMs") - fastest("empty", "firstMs");
  // Single starts spread by 50-120 ms on this machine, so the fastest of each
  // moves by tens of ms between runs; the median of the per-round differences
  // (each round starts all three back to back) is the steadier figure.
  const median = (xs) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)];
  const paired = (key) => median(starts.ours.map((s, i) => s[key] - starts.empty[i][key]));
  coldStart = {
    moduleMs: round(moduleMs, 2),
    firstRequestMs: round(firstRequestMs, 2),
    totalMs: round(moduleMs + firstRequestMs, 2),
    pairedMedianMs: {
      module: round(paired("readyMs"), 2),
      firstRequest: round(paired("firstMs"), 2),
      total: round(paired("readyMs") + paired("firstMs"), 2),
    },
    starts: COLD_STARTS,
    localBindingsMs: round(fastest("empty", "readyMs") - fastest("bare", "readyMs"), 2),
  };
  if (process.env.BENCH_COLD_ONLY) {
    console.log(JSON.stringify(coldStart));
    process.exit(0);
  }
}

// 3. Both workers under wrangler dev (twice: without inspectors for the
// throughput, then with them for the profiles), one mail stand-in for both.
// Keeps no mail but the last per address: a bench sends hundreds of thousands.
const mail = await startResendStub({ keep: 0, anyKey: true });
const scratch = mkdtempSync(join(tmpdir(), "allmine-bench-"));
const children = [];
process.on("exit", () => {
  rmSync(scratch, { recursive: true, force: true });
  rmSync(join(ROOT, "wrangler.bench.toml"), { force: true });
  for (const child of children) {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // gone
    }
  }
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));
function serve(name, cmd, args, cwd, env = {}) {
  const logFile = join(scratch, `${name}.log`);
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    detached: true, // its own process group: its workerd is found, and stopped, through it
    stdio: ["ignore", openSync(logFile, "w"), openSync(logFile, "a")],
  });
  children.push(child);
  return { child, logFile };
}

// Ours: the release build again, with WASM_NAMES=1 (the same code with its
// names section, so that a profile can say which Rust function a sample is
// in), served by scripts/dev.sh (wrangler dev) from a copy of wrangler.toml
// without [build], so that nothing rebuilds or restarts it mid-run, and whose
// mail ceiling (300 mails a minute per location, a cost guard) does not refuse
// the send load: the limiter is still called on every send, as deployed.
log("building the release worker with its function names, for the profiles");
run("bash", ["scripts/build.sh"], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, WASM_NAMES: "1" } });
const config = withoutTable(readFileSync(join(ROOT, "wrangler.toml"), "utf8"), "build")
  .replace(/(name = "MAIL_CEILING"\nnamespace_id = "1003"\nsimple = \{ limit = )\d+/, "$11000000");
if (!config.includes("limit = 1000000")) throw new Error("no local MAIL_CEILING in wrangler.toml to raise");
// The request log as production sets it: each line costs workerd about 1.3 ms
// of CPU under wrangler dev (it travels through the inspector).
const PRODUCTION_REQUEST_LOG = config.match(/\[env\.production\.vars\][^[]*?\nREQUEST_LOG = "(\w+)"/)?.[1];
if (!PRODUCTION_REQUEST_LOG) throw new Error("no REQUEST_LOG in [env.production.vars] of wrangler.toml");
const benchConfig = join(ROOT, "wrangler.bench.toml");
writeFileSync(benchConfig, config);
// Ours serves the docs page as static assets, and under wrangler dev that
// table costs each of our requests 0.2-0.45 ms of workerd CPU although they
// reach the worker first (investigations/assets-router.mjs). That is the
// platform's work, not our isolate's (deployed, it is not billed as the
// worker's CPU), so the reference is given the same [assets] table, pointing
// at the same files: both pay it.
const REFERENCE_ASSETS = assetsTableFor(config);
/**
 * Starts both workers: with `inspector`, each with an inspector port (for the
 * profiles); without, with wrangler dev's inspector proxy left out altogether
 * (`WITHOUT_INSPECTOR`), as the throughput is measured. Fresh local state each.
 */
async function startSides(phase, inspector) {
  const port = async () => (inspector ? { inspectorPort: await freePort() } : {});
  const env = inspector ? {} : WITHOUT_INSPECTOR;
  const ours = { name: "ours", port: await freePort(), ...(await port()), state: join(scratch, `ours-${phase}`) };
  ours.base = `http://127.0.0.1:${ours.port}`;
  Object.assign(
    ours,
    serve(`ours-${phase}`, "bash", [
      "scripts/dev.sh", "--config", benchConfig, ...(inspector ? ["--inspector-port", String(ours.inspectorPort)] : []),
      "--var", "EMAIL_PROVIDER:resend", "--var", `EMAIL_API_URL:${mail.url}`, "--var", "EMAIL_API_KEY:bench",
      "--var", `REQUEST_LOG:${PRODUCTION_REQUEST_LOG}`,
    ], ROOT, { PORT: String(ours.port), DEV_PERSIST_TO: ours.state, ...env }),
  );
  // The reference, started the way its run.sh does (from a private copy,
  // fresh local state); its files stay untouched.
  const reference = { name: "reference", port: await freePort(), ...(await port()), state: join(scratch, `reference-${phase}`) };
  reference.base = `http://127.0.0.1:${reference.port}`;
  const dir = prepareReference({ dir: join(tmpdir(), `allmine-bench-reference-${phase}`), persistTo: reference.state, log });
  appendFileSync(join(dir, "wrangler.toml"), `\n${REFERENCE_ASSETS}`);
  Object.assign(
    reference,
    serve(`reference-${phase}`, "npx", [
      "wrangler", "dev", "--ip", "127.0.0.1", "--port", String(reference.port),
      ...(inspector ? ["--inspector-port", String(reference.inspectorPort)] : []), "--persist-to", reference.state,
      "--var", "EMAIL_PROVIDER:resend", "--var", `EMAIL_API_URL:${mail.url}`, "--var", "EMAIL_API_KEY:reference",
    ], dir, env),
  );
  const sides = [ours, reference];
  for (const side of sides) {
    const tail = () => readFileSync(side.logFile, "utf8").slice(-4000);
    const exited = () => side.child.exitCode !== null && new Error(`${side.name} exited: ${tail()}`);
    if (!(await waitForHealth(side.base, Date.now() + 600_000, exited))) throw new Error(`${side.name} did not start: ${tail()}`);
    log(`${side.name} is up at ${side.base} (${inspector ? "inspector on, for the profiles" : "no inspector proxy"})`);
  }
  // Each inspector is connected now, while wrangler dev is fresh, and kept:
  // connecting after minutes of load has been seen to hang.
  if (inspector) for (const side of sides) side.inspector = await connectInspector(side.inspectorPort);
  for (const side of sides) {
    side.pids = workerdPids(side.child.pid);
    if (side.pids.length === 0) throw new Error(`no workerd process in ${side.name}'s process group`);
  }
  return sides;
}

/** Stops both workers (their process groups) and waits until they are gone. */
async function stopSides(sides) {
  for (const side of sides) {
    side.inspector?.close();
    try {
      process.kill(-side.child.pid, "SIGTERM");
    } catch {
      // gone
    }
  }
  for (const side of sides) {
    for (let i = 0; i < 100 && side.child.exitCode === null && side.child.signalCode === null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}


// 4. Round trips of every path of ours, from its log lines. The loaded server
// runs with production's REQUEST_LOG ("failures": no line for a 200), so the
// paths are run on the same build in workerd through Miniflare, logging all.
log("counting storage round trips per path");
const tripsApp = await spawnApp({ vars: { REQUEST_LOG: "all" } });
let trips;
try {
  trips = await countTrips({
    base: new URL(tripsApp.url).origin,
    logs: () => tripsApp.logs.join(""),
    mail: tripsApp.mail,
    deleteKvKey: (key) => tripsApp.kv.delete(key),
  });
} finally {
  await tripsApp.dispose();
}

// 5. Load, route by route, the two workers alternately, without inspectors.
log("starting both workers without wrangler dev's inspector proxy, for the throughput");
let [ours, reference] = await startSides("throughput", false);
let sides = [ours, reference];
machine.loadBeforeLoad = loadavg().map((x) => round(x, 2));
let ipCounter = 0;
async function sendCode(side, email) {
  ipCounter++;
  const res = await fetch(`${side.base}/api/v1/auth/send-otp-email`, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": `172.16.${(ipCounter >> 8) & 255}.${ipCounter & 255}` },
    body: JSON.stringify({ email }),
  });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${side.name} send answered ${res.status}`);
}
/** Fresh right codes for `n` verifies of `side`, each used once. */
async function issueCodes(side, n) {
  side.issued ??= 0;
  const bodies = [];
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < n) {
      const email = `verify-${side.name}-${side.issued++}@example.com`;
      next++;
      await sendCode(side, email);
      bodies.push(JSON.stringify({ email, code: mail.codeFor(email) }));
    }
  }));
  const file = join(scratch, `verify-${side.name}-${side.issued}.txt`);
  writeFileSync(file, bodies.join("\n") + "\n");
  return file;
}
const ROUTE_ARGS = {
  health: async () => ["health", "/health"],
  // Every run its own addresses, so no per-address limit refuses a send.
  send: async (side) => ["send", "/api/v1/auth/send-otp-email", `${side.name}${(side.sendRuns = (side.sendRuns ?? 0) + 1)}`],
  // A fresh right code per request: enough for twice the fastest rate seen so
  // far (a round on a quieter moment runs faster; past the end of the file a
  // reused code answers 404, counted as non-2xx).
  verify: async (side, seconds) => {
    const rate = Math.max(side.fastest ?? 300, 150);
    return ["file", "/api/v1/auth/verify-otp-email", await issueCodes(side, Math.ceil(rate * seconds * 2) + 100)];
  },
};
async function load(side, route, seconds) {
  return runLoad(side, await ROUTE_ARGS[route](side, seconds), seconds);
}
async function runLoad(side, [mode, path, file], seconds) {
  const before = cpuTimeMs(side.pids);
  const out = await runAsync("wrk", [
    `-t${THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`, "-s", "bench/load.lua", side.base,
    "--", mode, path, String(THREADS), ...(file ? [file] : []),
  ]);
  const cpuMs = cpuTimeMs(side.pids) - before;
  const f = JSON.parse(out.trim().split("\n").at(-1));
  const rps = f.requests / (f.durationUs / 1e6);
  side.fastest = Math.max(side.fastest ?? 0, rps);
  return {
    requests: f.requests,
    rps: round(rps, 1),
    p50Ms: f.p50Us / 1000,
    p99Ms: f.p99Us / 1000,
    non2xx: f.non2xx,
    socketErrors: f.socketErrors,
    cpuMsPerRequest: round(cpuMs / Math.max(1, f.requests)),
  };
}
const ROUTE_NAMES = { health: "GET /health", send: "send-otp-email", verify: "verify-otp-email" };
const results = {};
for (const route of ROUTES) {
  results[route] = { rounds: [] };
  // One warm-up pass each, unmeasured (lazy compilation, the first D1 pages).
  for (const side of sides) await load(side, route, 1);
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? [reference, ours] : [ours, reference];
    const pair = {};
    for (const side of order) {
      log(`${ROUTE_NAMES[route]}, round ${r + 1}/${ROUNDS}: ${side.name}, ${SECONDS}s`);
      pair[side.name] = await load(side, route, SECONDS);
    }
    results[route].rounds.push(pair);
  }
}

machine.loadAfterLoad = loadavg().map((x) => round(x, 2));
await stopSides(sides);

// 6. V8 CPU profiles of each isolate under the same load: its own CPU per
// request. They need the inspector, so both workers are started again with it.
log("starting both workers again, with inspectors, for the profiles");
[ours, reference] = await startSides("profiles", true);
sides = [ours, reference];
const profiles = {};
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
for (const route of ROUTES) {
  profiles[route] = {};
  for (const side of sides) {
    log(`profiling ${side.name}'s ${ROUTE_NAMES[route]} for ${PROFILE_SECONDS}s`);
    const args = await ROUTE_ARGS[route](side, PROFILE_SECONDS);
    const { profile, result } = await profiled(side.inspector, () => runLoad(side, args, PROFILE_SECONDS));
    writeFileSync(join(ROOT, `bench/results/${side.name}-${route}.cpuprofile`), JSON.stringify(profile));
    const s = summarise(profile);
    const perRequest = (ms) => round(ms / Math.max(1, result.requests));
    profiles[route][side.name] = {
      requests: result.requests,
      samples: profile.samples.length,
      ownMsPerRequest: perRequest(s.ownMs),
      categories: Object.fromEntries(Object.entries(s.categories).map(([c, ms]) => [c, perRequest(ms)])),
      top: s.top.filter(([name]) => !name.startsWith("(idle)")).slice(0, 15).map(([name, ms]) => [name, perRequest(ms)]),
      work: Object.fromEntries(Object.entries(attribute(profile)).sort((a, b) => b[1] - a[1]).map(([w, ms]) => [w, perRequest(ms)])),
    };
  }
}
await stopSides(sides);
machine.loadAfter = loadavg().map((x) => round(x, 2));

// 7. The report.
const summary = {};
for (const route of ROUTES) {
  const rounds = results[route].rounds;
  const pick = (name, key) => rounds.map((p) => p[name][key]);
  const ratios = (key) => rounds.map((p) => p.ours[key] / p.reference[key]);
  summary[route] = {
    ours: { rps: median(pick("ours", "rps")), p50Ms: median(pick("ours", "p50Ms")), cpuMsPerRequest: median(pick("ours", "cpuMsPerRequest")), non2xx: pick("ours", "non2xx").reduce((a, b) => a + b, 0) },
    reference: { rps: median(pick("reference", "rps")), p50Ms: median(pick("reference", "p50Ms")), cpuMsPerRequest: median(pick("reference", "cpuMsPerRequest")), non2xx: pick("reference", "non2xx").reduce((a, b) => a + b, 0) },
    rpsRatio: { median: round(median(ratios("rps"))), min: round(Math.min(...ratios("rps"))), max: round(Math.max(...ratios("rps"))) },
    p50Ratio: { median: round(median(ratios("p50Ms"))), min: round(Math.min(...ratios("p50Ms"))), max: round(Math.max(...ratios("p50Ms"))) },
    cpuRatio: { median: round(median(ratios("cpuMsPerRequest"))), min: round(Math.min(...ratios("cpuMsPerRequest"))), max: round(Math.max(...ratios("cpuMsPerRequest"))) },
    ownCpu: { ours: profiles[route].ours.ownMsPerRequest, reference: profiles[route].reference.ownMsPerRequest, ratio: round(profiles[route].ours.ownMsPerRequest / profiles[route].reference.ownMsPerRequest) },
  };
}
const report = {
  at: new Date().toISOString(),
  commit: run("git", ["rev-parse", "--short", "HEAD"]).trim(),
  machine,
  settings: { seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, threads: THREADS, profileSeconds: PROFILE_SECONDS },
  bundle,
  coldStart,
  summary,
  rounds: results,
  profiles,
  trips,
};
writeFileSync(join(ROOT, "bench/results/latest.json"), JSON.stringify(report, null, 2) + "\n");

const pad = (s, n) => String(s).padStart(n);
const range = (r) => `${r.median.toFixed(2)} (${r.min.toFixed(2)}–${r.max.toFixed(2)})`;
console.log(`\nAllmine auth vs the TypeScript reference (${report.commit}; ${ROUNDS} alternating rounds of ${SECONDS}s per route, wrk ${THREADS} threads ${CONNECTIONS} connections, no inspector proxy)`);
console.log(
  `machine: ${machine.cores} cores, load average ${machine.loadBefore[0]} before the bench, ` +
    `${machine.loadBeforeLoad[0]} / ${machine.loadAfterLoad[0]} before / after the throughput rounds (no inspector), ` +
    `${machine.loadAfter[0]} after the profiles\n`,
);
console.log("route              ours req/s  ref req/s  req/s ratio        ours p50  ref p50  p50 ratio          ours CPU  ref CPU  CPU ratio (ms/req, workerd incl. simulators)");
for (const route of ROUTES) {
  const s = summary[route];
  console.log(
    `${ROUTE_NAMES[route].padEnd(18)} ${pad(s.ours.rps.toFixed(0), 10)} ${pad(s.reference.rps.toFixed(0), 10)}  ${range(s.rpsRatio).padEnd(18)}` +
      `${pad(s.ours.p50Ms.toFixed(1), 8)} ${pad(s.reference.p50Ms.toFixed(1), 8)}  ${range(s.p50Ratio).padEnd(18)}` +
      `${pad(s.ours.cpuMsPerRequest.toFixed(2), 8)} ${pad(s.reference.cpuMsPerRequest.toFixed(2), 8)}  ${range(s.cpuRatio)}` +
      (s.ours.non2xx || s.reference.non2xx ? `   non-2xx: ours ${s.ours.non2xx}, reference ${s.reference.non2xx}` : ""),
  );
}
console.log("\nown CPU per request, from V8 CPU profiles of each isolate (ms; JS / wasm / built-ins and API calls / GC):");
for (const route of ROUTES) {
  const line = (p) => {
    const c = p.categories;
    return `${p.ownMsPerRequest.toFixed(3)} (${(c.js ?? 0).toFixed(3)} / ${(c.wasm ?? 0).toFixed(3)} / ${(c["builtins and API calls"] ?? 0).toFixed(3)} / ${(c["(garbage collector)"] ?? 0).toFixed(3)})`;
  };
  const p = profiles[route];
  console.log(`${ROUTE_NAMES[route].padEnd(18)} ours ${line(p.ours).padEnd(44)} reference ${line(p.reference).padEnd(44)} ratio ${summary[route].ownCpu.ratio.toFixed(2)}`);
}
console.log("\nwhere our isolate's own CPU goes, per request (ms; reference's total for scale):");
for (const route of ROUTES) {
  const p = profiles[route];
  const parts = Object.entries(p.ours.work).filter(([, ms]) => ms >= 0.005).map(([w, ms]) => `${w} ${ms.toFixed(3)}`);
  console.log(`${ROUTE_NAMES[route].padEnd(18)} ours ${p.ours.ownMsPerRequest.toFixed(3)} (reference ${p.reference.ownMsPerRequest.toFixed(3)}):`);
  console.log(`    ${parts.join(", ")}`);
  const ref = Object.entries(p.reference.work).filter(([, ms]) => ms >= 0.005).map(([w, ms]) => `${w} ${ms.toFixed(3)}`);
  console.log(`    reference: ${ref.join(", ")}`);
}
console.log("\nsequential storage round trips on the critical path, per path of ours (from its log lines):");
console.log("route             path                                      status  kv d1 mail limiter  sequential  goal");
for (const t of trips) {
  const ok = t.goal == null ? "" : t.sequential <= t.goal ? `≤ ${t.goal} ✓` : `≤ ${t.goal} ✗`;
  console.log(`${t.route.padEnd(17)} ${t.path.padEnd(41)} ${pad(t.status, 6)}  ${pad(t.kv, 2)} ${pad(t.d1, 2)} ${pad(t.mail, 4)} ${pad(t.limiter, 7)}  ${pad(t.sequential, 10)}  ${ok}`);
}
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`\nbundle: wasm ${kb(bundle.wasmBytes)} (gzip ${kb(bundle.wasmGzipBytes)}), js ${kb(bundle.jsBytes)} (gzip ${kb(bundle.jsGzipBytes)}), total gzip ${kb(bundle.totalGzipBytes)}`);
if (coldStart) {
  console.log(`cold start: ${coldStart.pairedMedianMs.total} ms, the median of ${coldStart.starts} paired starts (module load ${coldStart.pairedMedianMs.module} ms + first request ${coldStart.pairedMedianMs.firstRequest} ms); fastest against fastest ${coldStart.totalMs} ms (${coldStart.moduleMs} + ${coldStart.firstRequestMs}); over an empty worker with the same bindings, whose local simulators add ${coldStart.localBindingsMs} ms to any start`);
}
console.log("\nwritten to bench/results/latest.json (profiles: bench/results/*.cpuprofile, open in Chrome DevTools)");
mail.close();
rmSync(benchConfig, { force: true });
rmSync(scratch, { recursive: true, force: true });
const empty = ROUTES.filter((r) => results[r].rounds.some((p) => p.ours.requests === 0 || p.reference.requests === 0));
if (empty.length > 0) {
  console.error(`\nno request completed in a round of ${empty.join(", ")}: the figures are void`);
  process.exit(1);
}
process.exit(0);
