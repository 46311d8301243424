// Investigation, kept apart (it answered its question; nothing imports it).
// Question (issue 16): workerd's resident memory grows by hundreds of MB over a
//   soak; is it our worker (the Rust code's wasm memory, the wasm-bindgen glue's
//   JS heap) or wrangler dev and workerd themselves?
// Answer (README, "Whose memory grows", 2026-11-26): not ours. Our isolate
//   stays near 1.2–1.3 MB of wasm memory and 1.3–2.9 MB of JS heap after a GC,
//   with no trend, while workerd's two processes grow by about 420 MB in three
//   minutes; the TypeScript reference's wrangler dev grows as much on its own
//   load (573 → 1,058 MB), and ours grows on a plain GET with no storage too.
//   The soak keeps weighing our isolate (harness/memory.mjs) every minute.
//
// The control for the soak's memory figures: a steady open-loop load at a set
// rate under `wrangler dev`, printing each minute workerd's resident memory
// (wrangler's proxy and the runtime) and the worker isolate's own (its JS heap
// after a GC; our wasm memory on a test build), as the soak does.
//
//   node investigations/memory-control.mjs reference   the TypeScript reference (../shared/reference/ts-worker),
//                                               send then verify with the right code, again and again
//   node investigations/memory-control.mjs ours [PATH] ours, GET PATH (/health: a KV read and a D1 query;
//                                               /.well-known/jwks.json: no storage) again and again
//                                               (a test build, WORKER_FEATURES=fault-injection, for the wasm figure)
//
// CONTROL_RATE (requests a second, 100), CONTROL_MINUTES (4), CONTROL_MAX_INFLIGHT (64),
// CONTROL_ISOLATES=1 (weigh every isolate of the runtime, as SOAK_ISOLATES=1 does),
// REFERENCE_SRC (the reference's folder). Every loop is bounded; it stops what it started.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { API_KEY, startResendStub } from "../harness/resend_stub.mjs";
import { devServerFor, REFERENCE_SRC } from "../harness/reference.mjs";
import { formatMemory, IsolateMemory } from "../harness/memory.mjs";
import { freePort } from "../harness/ports.mjs";

const WHAT = process.argv[2];
const PATH = process.argv[3] ?? "/health";
const RATE = Number(process.env.CONTROL_RATE ?? 100);
const MINUTES = Number(process.env.CONTROL_MINUTES ?? 4);
const MAX_INFLIGHT = Number(process.env.CONTROL_MAX_INFLIGHT ?? 64);
const REFERENCE = process.env.REFERENCE_SRC ?? REFERENCE_SRC;
if (!["reference", "ours"].includes(WHAT)) {
  console.error("usage: node investigations/memory-control.mjs reference | ours [PATH]");
  process.exit(2);
}
const log = (...a) => console.log(`[control ${WHAT === "ours" ? `ours ${PATH}` : WHAT}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const watchdog = setTimeout(() => {
  console.error(`[control] FAILED: over its time bound`);
  process.exit(1);
}, (MINUTES * 60 + 600) * 1000);
watchdog.unref();

const scratch = mkdtempSync(join(tmpdir(), "allmine-memory-control-"));
const mail = await startResendStub({ keep: 200 });
const port = await freePort();
const inspectorPort = await freePort();
const dev = devServerFor(WHAT, { scratch, port, inspectorPort, mailUrl: mail.url, apiKey: API_KEY, src: REFERENCE, log });
dev.stopOnExit();
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));
const isolate = new IsolateMemory({
  base: dev.base, inspectorPort, pids: () => dev.pids(), isolates: process.env.CONTROL_ISOLATES === "1",
});

let seq = 0;
const statuses = {};
const examples = {}; // status -> the start of one body that was not a 200
let requests = 0;
async function call(method, path, body) {
  const res = await fetch(`${dev.base}${path}`, {
    method,
    headers: { "content-type": "application/json", "cf-connecting-ip": `10.9.${(seq >> 8) & 255}.${seq & 255}` },
    body: body && JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  }).catch(() => ({ status: "no answer", text: async () => "" }));
  const text = await res.text().catch(() => "");
  if (res.status !== 200 && !examples[res.status]) examples[res.status] = text.slice(0, 120);
  statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  requests++;
  return { status: res.status };
}
// One op: the reference's login (send, then verify with the mailed code), or one GET of ours.
async function op() {
  const n = ++seq;
  if (WHAT === "ours") return call("GET", PATH);
  const email = `control-${n}-${process.pid}@example.com`;
  const sent = await call("POST", "/api/v1/auth/send-otp-email", { email });
  if (sent.status !== 200) return;
  const code = mail.lastMailTo(email)?.text?.match(/\b(\d{6})\b/)?.[1];
  await call("POST", "/api/v1/auth/verify-otp-email", { email, code });
}
const requestsPerOp = WHAT === "ours" ? 1 : 2;

async function report(label, started) {
  const seconds = (Date.now() - started) / 1000;
  const rate = requests === 0 ? "no requests" : `${requests} requests = ${(requests / seconds).toFixed(1)} req/s ` +
    `(${Object.entries(statuses).map(([s, n]) => `${s}:${n}`).join(" ")})`;
  requests = 0;
  for (const k of Object.keys(statuses)) delete statuses[k];
  const seen = Object.entries(examples).map(([st, body]) => `${st}: ${body}`);
  for (const k of Object.keys(examples)) delete examples[k];
  const memory = dev.workerdMemory();
  const ours = await isolate.sample();
  const each = memory.each.map((mb, i) => `${memory.roles[i]} ${mb}`).join(" + ");
  log(`${label}: ${rate} | workerd RSS ${memory.rssMb} MB (${each}); ` +
    `${formatMemory(ours).replace("our isolate", "the worker's isolate")}`);
  if (seen.length) log(`  not 200: ${seen.join(" | ")}`);
}

try {
  log(`wrangler dev on ${dev.base}`);
  await dev.start(300_000);
  await isolate.attach();
  await report("before traffic", Date.now());
  const started = Date.now();
  const end = started + MINUTES * 60_000;
  let inflight = 0;
  let minute = 0;
  let windowStart = started;
  let next = started;
  const interval = 1000 / (RATE / requestsPerOp);
  while (Date.now() < end) {
    if (Date.now() >= windowStart + 60_000) {
      const at = windowStart;
      windowStart += 60_000;
      void report(`minute ${++minute}`, at);
    }
    if (Date.now() < next) {
      await sleep(Math.min(next - Date.now(), 50));
      continue;
    }
    next += interval;
    if (inflight >= MAX_INFLIGHT) continue; // an op skipped: the server is behind
    inflight++;
    op().finally(() => inflight--);
  }
  for (let i = 0; i < 600 && inflight > 0; i++) await sleep(100);
  await report(`minute ${++minute}`, windowStart);
} finally {
  isolate.close();
  await dev.stop();
  await mail.close();
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(0);
