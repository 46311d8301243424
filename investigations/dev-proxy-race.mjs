// Investigation, kept apart (it answered its question; nothing imports it).
// Question: where do the soak's plain-text 503s "Your worker restarted
//   mid-request" come from, when wrangler dev restarted nothing?
// Answer (README, "What the runs found", 2026-11-26): a keep-alive race inside
//   wrangler dev, not the service. Its proxy reuses a pooled connection to the
//   runtime just as the runtime closes it for being idle about five seconds;
//   the fetch fails ("Network connection lost") and, for any method but GET or
//   HEAD, wrangler answers that 503 whatever the cause. Gaps of 4,800–4,950 ms
//   lose POSTs, shorter and longer gaps none; the TypeScript reference loses
//   them the same way. The soak counts such answers as unknown outcomes
//   (isDevProxyLoss in harness/devserver.mjs) and bounds them (1 in 1000).
//
// Reproduces wrangler dev's plain-text 503 "Your worker restarted mid-request"
// with no restart at all: bursts of concurrent POSTs, each burst after an idle
// gap. The runtime process closes a local connection idle for about five
// seconds; when wrangler's proxy reuses one at that moment its fetch fails
// ("Network connection lost") and it answers that 503 (see isDevProxyLoss in
// harness/devserver.mjs). A gap just under five seconds hits the race; gaps
// well under or over it do not.
//
//   node investigations/dev-proxy-race.mjs ours        this worker (POST /health: a 405 envelope)
//   node investigations/dev-proxy-race.mjs reference   the TypeScript reference (POST /health: its 404)
//
// RACE_GAPS (ms, comma-separated), RACE_BURST (16 requests), RACE_ROUNDS (4 bursts per gap).
// Prints, per gap, how many answers were that 503. It stops what it started.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { API_KEY, startResendStub } from "../harness/resend_stub.mjs";
import { devServerFor } from "../harness/reference.mjs";
import { isDevProxyLoss } from "../harness/devserver.mjs";
import { freePort } from "../harness/ports.mjs";

const WHAT = process.argv[2];
const GAPS = (process.env.RACE_GAPS ?? "3000,4500,4800,4900,4950,5000,5500,8000").split(",").map(Number);
const BURST = Number(process.env.RACE_BURST ?? 16);
const ROUNDS = Number(process.env.RACE_ROUNDS ?? 4);
if (!["reference", "ours"].includes(WHAT)) {
  console.error("usage: node investigations/dev-proxy-race.mjs ours | reference");
  process.exit(2);
}
const log = (...a) => console.log(`[proxy race ${WHAT}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bound = GAPS.reduce((a, g) => a + ROUNDS * (g + 2000), 0) + 600_000;
setTimeout(() => {
  console.error("[proxy race] FAILED: over its time bound");
  process.exit(1);
}, bound).unref();

const scratch = mkdtempSync(join(tmpdir(), "allmine-proxy-race-"));
const mail = await startResendStub({ keep: 10 });
const port = await freePort();
const dev = devServerFor(WHAT, { scratch, port, mailUrl: mail.url, apiKey: API_KEY, log });
dev.stopOnExit();
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(130));

async function post() {
  try {
    const res = await fetch(`${dev.base}/health`, { method: "POST", body: "{}", signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    return isDevProxyLoss(res.status, res.headers, text) ? "lost" : String(res.status);
  } catch (err) {
    return `no answer (${err.cause?.code ?? err.name})`;
  }
}

try {
  await dev.start(300_000);
  const consoleBefore = dev.logSince().length;
  log(`wrangler dev on ${dev.base}; ${ROUNDS} bursts of ${BURST} POSTs per idle gap`);
  await Promise.all(Array.from({ length: BURST }, post)); // fills the proxy's connection pool
  for (const gap of GAPS) {
    const answers = {};
    for (let round = 0; round < ROUNDS; round++) {
      await sleep(gap);
      for (const a of await Promise.all(Array.from({ length: BURST }, post))) answers[a] = (answers[a] ?? 0) + 1;
    }
    const lost = answers.lost ?? 0;
    log(`gap ${gap} ms: ${lost} of ${ROUNDS * BURST} answered wrangler's "restarted mid-request" 503 ` +
      `(${Object.entries(answers).map(([k, n]) => `${k}:${n}`).join(" ")})`);
  }
  const noRestart = !dev.logSince().slice(consoleBefore).includes("Reloading local server");
  log(noRestart ? "wrangler dev did not reload the worker during the run" : "wrangler dev reloaded the worker during the run");
} finally {
  await dev.stop();
  await mail.close();
}
