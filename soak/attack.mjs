// The attack soak: legitimate users signing in beside an attacker, against one
// `wrangler dev` (local KV and D1) as production runs it: REQUEST_LOG=failures,
// Turnstile configured (a local siteverify stand-in), mail to the Resend
// stand-in, the limits of wrangler.toml. docs/security.md says how to read it.
//
//   npm run soak:attack                   a minute of attack (CI), 20 s windows
//   SOAK_MINUTES=5 npm run soak:attack    five, one line a minute
//
// Phases: start wrangler dev; add the row-counting triggers (d1_writes.mjs);
// one calibration sign-in, step by step, to learn the rows a legitimate step
// writes; the legitimate users alone for SOAK_BASELINE_SECONDS (20); then
// both populations for SOAK_MINUTES (1). Each window prints, for the users:
// sign-ins that succeeded, challenges solved, request p50/p99; for the
// attacker: requests, refusals by Error-Code, D1 calls per refused request
// (its log lines), rows written per attacker request and per refused request.
// At the end: the growth of every table, and the checks. Exit code 1 when a
// legitimate user was refused, or when D1 rows written had not levelled off:
// in the last window, the attacker's refused requests wrote more than
// SOAK_MAX_ROWS_PER_REFUSAL rows each.
//
// Env: SOAK_MINUTES, SOAK_WINDOW_SECONDS (20 below two minutes, else 60),
// SOAK_BASELINE_SECONDS, SOAK_LEGIT_RATE (sign-ins started a second, 0.5),
// SOAK_LEGIT_USERS (sized from the rate and the limits), SOAK_TYPING_MS (2000 on
// average between the mail and the verify), SOAK_ATTACK_RATE (attacker requests
// a second before repeats, 30), SOAK_ATTACK_NETWORKS (IPv4, 16),
// SOAK_FLOOD_ADDRESSES (10), SOAK_MAX_ROWS_PER_REFUSAL (0.05),
// SOAK_REPORT (the figures as JSON to this file), SOAK_KEEP_STATE (keep the
// local state of a failed run), SOAK_SELFTEST_WRITE_PER_REFUSAL=1 (the soak
// itself writes a row for each refused attacker request, to see the levelling
// check fail).
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DevServer, WITHOUT_INSPECTOR } from "../harness/devserver.mjs";
import { freePort } from "../harness/ports.mjs";
import { startResendStub } from "../harness/resend_stub.mjs";
import { startTurnstileStub } from "../harness/turnstile_stub.mjs";
import { builtWorkerOptions, ROOT } from "../harness/worker_options.mjs";
import { Attacker } from "./attacker.mjs";
import { D1Writes, minus, rowsByTable, total } from "./d1_writes.mjs";
import { Legit } from "./legit.mjs";
import { longRun } from "./long_run.mjs";
import { Metrics } from "./metrics.mjs";
import { Pacer } from "./pace.mjs";
import { RequestLog } from "./request_log.mjs";
import { SEND, VERIFY, World } from "./traffic.mjs";

const env = process.env;
const settings = builtWorkerOptions().bindings; // wrangler.toml's local vars: production's limits
const LIMITS = {
  cooldownSeconds: Number(settings.OTP_RESEND_COOLDOWN_SECONDS),
  sendsPerHour: Number(settings.OTP_SENDS_PER_HOUR),
  addressSendsPerHour: Number(settings.OTP_ADDRESS_SENDS_PER_HOUR),
};
const CODE_LENGTH = Number(settings.OTP_LENGTH);
const MAX_ATTEMPTS = Number(settings.OTP_MAX_ATTEMPTS);

const ATTACK_SECONDS = Math.round(Number(env.SOAK_MINUTES ?? 1) * 60);
const WINDOW_SECONDS = Number(env.SOAK_WINDOW_SECONDS ?? (ATTACK_SECONDS < 120 ? 20 : 60));
const BASELINE_SECONDS = Number(env.SOAK_BASELINE_SECONDS ?? 20);
const LEGIT_RATE = Number(env.SOAK_LEGIT_RATE ?? 0.5);
// Enough users that each signs in about once every 35 s (past the cooldown of
// the network it last used) and at most its address's hourly sends in the run.
const LEGIT_USERS = Number(
  env.SOAK_LEGIT_USERS ??
    Math.max(
      Math.ceil(LEGIT_RATE * (LIMITS.cooldownSeconds + 5)),
      Math.ceil((LEGIT_RATE * (BASELINE_SECONDS + ATTACK_SECONDS + 30)) / (LIMITS.addressSendsPerHour - 1)),
    ),
);
const TYPING_MS = Number(env.SOAK_TYPING_MS ?? 2000);
const ATTACK_RATE = Number(env.SOAK_ATTACK_RATE ?? 30);
const ATTACK_NETWORKS = Number(env.SOAK_ATTACK_NETWORKS ?? 16);
const FLOOD_ADDRESSES = Number(env.SOAK_FLOOD_ADDRESSES ?? 10);
// Levelled off: in the last window, the attacker's refused requests wrote at
// most this many rows each (its admitted sends, mailing a code as a user's do,
// are taken out at a legitimate send's rows, and its wrong codes the service
// counted at a counted wrong code's: those are bounded per address a day, the
// next check).
const MAX_ROWS_PER_REFUSAL = Number(env.SOAK_MAX_ROWS_PER_REFUSAL ?? 0.05);
// Each address takes at most its daily budget of counted wrong codes (weighted
// by the codes a guess meets, so fewer guesses when two are live).
const DAILY_FAILURE_BUDGET = Number(settings.LOGIN_DAILY_FAILURE_BUDGET);
const SELFTEST_WRITE_PER_REFUSAL = env.SOAK_SELFTEST_WRITE_PER_REFUSAL === "1";
const DEV_PROXY_LOSS_BOUND = 1000; // as the soak (run.mjs): wrangler dev's own lost requests
const START_TIMEOUT_MS = 300_000;
const DRAIN_MS = 30_000;
const STEPS = ["send", "verify", "refresh", "logout"];

const budgetMs = START_TIMEOUT_MS + (BASELINE_SECONDS + ATTACK_SECONDS) * 1000 + DRAIN_MS + 180_000;
const { log, runId, state } = longRun("attack", budgetMs);
const mail = await startResendStub({ keep: 50_000, hangMs: 15_000 });
const turnstile = await startTurnstileStub();
const port = await freePort();
const dev = new DevServer({
  root: ROOT,
  port,
  persistTo: state,
  logFile: join(state, "dev.log"),
  vars: {
    REQUEST_LOG: "failures",
    EMAIL_PROVIDER: "resend",
    EMAIL_API_URL: mail.url,
    EMAIL_API_KEY: "re_test_key",
    ...turnstile.vars,
  },
  env: WITHOUT_INSPECTOR,
});
dev.stopOnExit();
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    console.error(`[attack] ${signal}: stopping wrangler dev`);
    process.exit(130); // the exit hook stops the dev server
  });
}
const writes = new D1Writes(dev.base);
const world = (metrics) =>
  new World({ base: dev.base, mail, metrics, maxAttempts: MAX_ATTEMPTS, codeLength: CODE_LENGTH, runId });
const legitMetrics = new Metrics();
const attackMetrics = new Metrics();
const legitWorld = world(legitMetrics);
const attackWorld = world(attackMetrics);
const legit = new Legit({ world: legitWorld, mail, limits: LIMITS, users: LEGIT_USERS, runId, typingMs: TYPING_MS });
const attacker = new Attacker({
  world: attackWorld, mail, legit, runId, networks: ATTACK_NETWORKS, floodAddresses: FLOOD_ADDRESSES, codeLength: CODE_LENGTH,
});
const checks = [];
const series = [];
let requestLog;
let lastCounts;
let profile; // rows a legitimate step writes, per table
let rowsPerWrongCode; // rows one wrong code the service counts writes

function check(name, ok, detail = "") {
  checks.push({ name, ok, detail });
  console.log(`[attack] ${ok ? "ok  " : "FAIL"} ${name}${detail ? ` (${detail})` : ""}`);
}

const pct = (n, d) => (d ? `${((100 * n) / d).toFixed(1)} %` : "n/a");
const fmtMap = (m, sep = " · ") =>
  [...m].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(sep) || "none";

/**
 * One calibration sign-in, step by step, each step's rows counted once the
 * database is quiet: what a legitimate send, verify, refresh and logout write.
 */
async function calibrate() {
  const steps = {};
  let before = await writes.settled();
  const calib = new Legit({
    world: legitWorld, mail, limits: LIMITS, users: 1, runId, typingMs: 0, first: LEGIT_USERS,
    afterStep: async (step) => {
      const after = await writes.settled();
      steps[step] = rowsByTable(minus(after, before));
      before = after;
    },
  });
  await calib.startOne();
  if (calib.total.ok !== 1) throw new Error(`the calibration sign-in failed: ${fmtMap(calib.total.refused)}`);
  return steps;
}

/** The rows one wrong code the service counts writes (a code pending, one guess). */
async function calibrateWrongCode() {
  const email = `calibration-wrong-${runId}@example.com`;
  const ip = "192.0.2.250";
  const sent = await legitWorld.call("POST", SEND, { body: { email }, ip });
  if (sent.status !== 200) throw new Error(`the wrong-code calibration's send answered ${sent.status}`);
  const code = mail.codeFor(email);
  const before = await writes.settled();
  const wrong = (code[0] === "0" ? "1" : "0") + code.slice(1);
  const res = await legitWorld.call("POST", VERIFY, { body: { email, code: wrong }, ip });
  if (res.status !== 400) throw new Error(`the wrong-code calibration's guess answered ${res.status}`);
  return total(rowsByTable(minus(await writes.settled(), before)));
}

/** The rows the legitimate steps answered in a window wrote, per table, by the calibration. */
function legitRows(ops) {
  const out = {};
  for (const step of STEPS) {
    for (const [t, n] of Object.entries(profile[step])) out[t] = (out[t] ?? 0) + n * ops[step];
  }
  return out;
}

/** Cuts a window: prints and records its figures. */
async function report(label, { attack }) {
  if (SELFTEST_WRITE_PER_REFUSAL) {
    // Self-test of the levelling check only: a service that writes a row for
    // every refusal, simulated by writing them into audit_events from here.
    const refused = [...attacker.window.statuses].filter(([k]) => Number(k.split(" ")[0]) >= 400).reduce((n, [, c]) => n + c, 0);
    for (let i = 0; i < refused; i += 500) {
      const n = Math.min(500, refused - i);
      await writes.query(
        `INSERT INTO audit_events (at, event) SELECT datetime('now'), 'soak_selftest' FROM (WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ${n}) SELECT i FROM k)`,
      );
    }
  }
  const counts = await writes.counts();
  const written = rowsByTable(minus(counts, lastCounts));
  lastCounts = counts;
  const l = legit.cut();
  const lm = legitMetrics.cut();
  const a = attacker.cut();
  const am = attackMetrics.cut();
  let d1 = 0;
  let logged = 0;
  for (const line of requestLog.read()) {
    if (!attacker.refusedIds.delete(line.requestId)) continue;
    logged++;
    d1 += line.trips?.d1 ?? 0;
  }
  const legitShare = legitRows(l.ops);
  const rows = total(written);
  const attackRows = rows - total(legitShare);
  const refusedByAttacker = [...a.statuses].filter(([k]) => Number(k.split(" ")[0]) >= 400).reduce((n, [, c]) => n + c, 0);
  // What the attacker's admitted sends wrote, as a legitimate send does; the rest is the refusals'.
  const admittedRows = a.admitted * total(profile.send);
  const refusalRows = attackRows - admittedRows;
  // What the counted wrong codes wrote (bounded per address a day); the rest
  // is what refusals wrote beyond any allowance.
  const countedWrongRows = a.countedWrong * rowsPerWrongCode;
  const unboundedRows = refusalRows - countedWrongRows;
  const attackByTable = Object.fromEntries(Object.entries(written).map(([t, n]) => [t, n - (legitShare[t] ?? 0)]));
  const w = {
    label,
    attack,
    seconds: lm.seconds,
    legit: { ended: l.ended, ok: l.ok, unknown: l.unknown, challenges: l.challenges, refused: Object.fromEntries(l.refused), ops: l.ops },
    legitLatency: { requests: lm.requests, p50: lm.p50, p99: lm.p99 },
    attacker: {
      requests: a.requests, repeats: a.repeats, refused: refusedByAttacker, admitted: a.admitted, logins: a.logins,
      noAnswer: a.noAnswer, unknown: a.unknown, statuses: Object.fromEntries(a.statuses), byKind: a.byKind,
      rps: am.rps, p50: am.p50, p99: am.p99,
    },
    d1: { calls: d1, logged, callsPerRefused: logged ? d1 / logged : null },
    rows: {
      total: rows, legit: total(legitShare), attacker: attackRows, perAttackRequest: a.requests ? attackRows / a.requests : null,
      admittedSends: admittedRows, refusals: refusalRows, perRefusal: refusedByAttacker ? refusalRows / refusedByAttacker : null,
      countedWrong: a.countedWrong, countedWrongRows, unbounded: unboundedRows,
      unboundedPerRefusal: refusedByAttacker ? unboundedRows / refusedByAttacker : null,
      byTable: written, legitByTable: legitShare, attackByTable,
    },
  };
  series.push(w);
  const lines = [
    `[attack] ${label} (${w.seconds}s): legit ${l.ok}/${l.ended - l.unknown} sign-ins ok (${pct(l.ok, l.ended - l.unknown)})` +
      `${l.unknown ? `, ${l.unknown} unknown (lost by wrangler dev's proxy)` : ""}, ${l.challenges} challenge(s) solved; ` +
      `requests p50 ${lm.p50} ms, p99 ${lm.p99} ms (${lm.requests})`,
  ];
  if (l.refused.size) lines.push(`         legit refused: ${fmtMap(l.refused)}`);
  if (attack) {
    lines.push(
      `         attacker ${a.requests} requests (${am.rps}/s, ${a.repeats} repeats of refusals), p50 ${am.p50} ms p99 ${am.p99} ms: ${fmtMap(a.statuses)}`,
      `         D1 calls per refused attacker request ${w.d1.callsPerRefused?.toFixed(2) ?? "n/a"} (${logged} log lines); ` +
        `${a.admitted} attacker sends admitted (answered 200, not logged)`,
    );
  }
  const tables = (byTable) => Object.entries(byTable).filter(([, n]) => n).map(([t, n]) => `${t} ${n}`).join(" · ") || "none";
  if (attack) {
    lines.push(
      `         D1 rows written ${rows} = legit ${total(legitShare)} (its steps, as calibrated) + attacker ${attackRows} ` +
        `= ${w.rows.perAttackRequest?.toFixed(3) ?? "n/a"} per attacker request`,
      `         the attacker's: ${a.admitted} admitted sends × ${total(profile.send)} = ${admittedRows}, refusals ${refusalRows} ` +
        `= ${w.rows.perRefusal?.toFixed(3) ?? "n/a"} per refused request; by table ${tables(attackByTable)}`,
      `         of which ${a.countedWrong} counted wrong codes × ${rowsPerWrongCode} = ${countedWrongRows} (bounded per address a day); ` +
        `beyond that ${unboundedRows} = ${w.rows.unboundedPerRefusal?.toFixed(3) ?? "n/a"} per refused request`,
    );
  } else {
    lines.push(`         D1 rows written ${rows} (${tables(written)}) = legit ${total(legitShare)} (its steps, as calibrated) + ${attackRows} unexplained`);
  }
  console.log(lines.join("\n"));
  return w;
}

/** Rows and bytes per table, before and after, one line each. */
function growth(before, after) {
  const lines = [];
  for (const [t, b] of Object.entries(after.tables)) {
    const a = before.tables[t] ?? { rows: 0, bytes: 0 };
    lines.push(
      `         ${t.padEnd(14)} rows ${String(a.rows).padStart(7)} → ${String(b.rows).padStart(7)} (+${b.rows - a.rows})  ` +
        `bytes ${String(a.bytes).padStart(9)} → ${String(b.bytes).padStart(9)} (+${b.bytes - a.bytes})`,
    );
  }
  lines.push(`         the database file ${before.dbBytes} → ${after.dbBytes} bytes`);
  return lines.join("\n");
}

let failed = false;
const result = {};
try {
  log(`wrangler dev on ${dev.base}, state in ${state}`);
  const t0 = Date.now();
  await dev.start(START_TIMEOUT_MS);
  result.startMs = Date.now() - t0;
  log(`wrangler dev serving after ${result.startMs} ms (REQUEST_LOG=failures, Turnstile at the stand-in)`);
  await writes.open();
  lastCounts = await writes.counts();
  profile = await calibrate();
  result.profile = profile;
  rowsPerWrongCode = await calibrateWrongCode();
  result.rowsPerWrongCode = rowsPerWrongCode;
  log(`rows a counted wrong code writes: ${rowsPerWrongCode}`);
  log(`rows a legitimate step writes: ${STEPS.map((s) => `${s} ${total(profile[s])} (${Object.entries(profile[s]).filter(([, n]) => n).map(([t, n]) => `${t} ${n}`).join(", ")})`).join("; ")}`);
  lastCounts = await writes.counts();
  requestLog = new RequestLog(dev.logFile);

  const legitPacer = new Pacer(64);
  const attackPacer = new Pacer(128);
  log(`${LEGIT_USERS} users (${legit.users[0].networks.length} networks each), ${LEGIT_RATE} sign-ins started a second; ` +
    `baseline ${BASELINE_SECONDS}s without the attack`);
  legitMetrics.reset();
  await legitPacer.run(BASELINE_SECONDS, LEGIT_RATE, () => legit.startOne());
  result.baseline = await report("baseline, no attack", { attack: false });
  const before = await writes.sizes();
  legitMetrics.reset(); // from here on, the totals are those under attack
  attackMetrics.reset();

  log(`attack: ${ATTACK_RATE} requests a second (and a repeat of each refusal) from ${ATTACK_NETWORKS} IPv4 networks and the /64s of one /48, ` +
    `${FLOOD_ADDRESSES} flooded addresses and one user's, for ${ATTACK_SECONDS}s in ${WINDOW_SECONDS}s windows`);
  const windows = [];
  for (let at = 0, k = 1; at < ATTACK_SECONDS; at += WINDOW_SECONDS, k++) {
    const seconds = Math.min(WINDOW_SECONDS, ATTACK_SECONDS - at);
    await Promise.all([
      legitPacer.run(seconds, LEGIT_RATE, () => legit.startOne()),
      attackPacer.run(seconds, ATTACK_RATE, () => attacker.startOne()),
    ]);
    const last = at + seconds >= ATTACK_SECONDS;
    if (last) {
      const drained = (await Promise.all([legitPacer.drain(DRAIN_MS), attackPacer.drain(DRAIN_MS)])).every(Boolean);
      check("all requests finished after the load stopped", drained);
    }
    const label = WINDOW_SECONDS === 60 ? `minute ${k}` : `${at}–${at + seconds} s`;
    windows.push(await report(label, { attack: true }));
  }
  const after = await writes.sizes();
  result.windows = windows;
  result.tables = { before, after };

  // ---- the whole run ----------------------------------------------------
  const lt = legit.total;
  const underAttack = legitMetrics.total.summary();
  const at = attacker.total;
  console.log(
    `[attack] whole run: legit ${lt.ok}/${lt.ended - lt.unknown} sign-ins ok (${pct(lt.ok, lt.ended - lt.unknown)}), ` +
      `${lt.challenges} challenge(s) solved, ${lt.ambiguousMail} sign-in(s) with a stranger's mail beside theirs; ` +
      `request p50/p99 without the attack ${result.baseline.legitLatency.p50}/${result.baseline.legitLatency.p99} ms, ` +
      `under attack ${underAttack.p50}/${underAttack.p99} ms` +
      (legit.noUserFree ? `; no user free to start a sign-in ${legit.noUserFree} time(s)` : ""),
  );
  const d1Calls = windows.reduce((n, w) => n + w.d1.calls, 0);
  const d1Logged = windows.reduce((n, w) => n + w.d1.logged, 0);
  result.d1CallsPerRefused = d1Logged ? d1Calls / d1Logged : null;
  console.log(
    `[attack] attacker: ${at.requests} requests, ${at.repeats} repeats; by kind ${JSON.stringify(at.byKind)}; ` +
      `D1 calls per refused request ${result.d1CallsPerRefused?.toFixed(2) ?? "n/a"}; ` +
      `rows per attacker request by window: ${windows.map((w) => w.rows.perAttackRequest?.toFixed(3)).join(", ")}; ` +
      `per refused request: ${windows.map((w) => w.rows.perRefusal?.toFixed(3)).join(", ")}`,
  );
  console.log(`[attack] table growth under attack (the attack's start → its end):\n${growth(before, after)}`);

  // ---- checks -----------------------------------------------------------
  const refused = new Map();
  for (const w of series) for (const [c, n] of Object.entries(w.legit.refused)) refused.set(c, (refused.get(c) ?? 0) + n);
  const ended = series.reduce((n, w) => n + w.legit.ended - w.legit.unknown, 0);
  const ok = series.reduce((n, w) => n + w.legit.ok, 0);
  check("every legitimate user who kept to the rules signed in (challenges solved when asked)",
    refused.size === 0 && ok > 0,
    `${ok}/${ended} sign-ins, ${series.reduce((n, w) => n + w.legit.challenges, 0)} challenge(s) solved` +
      (refused.size ? `; refused: ${fmtMap(refused)}` : ""));
  const lastWindow = windows.at(-1);
  const rho = lastWindow.rows.unboundedPerRefusal ?? 0;
  check(`D1 rows written levelled off: beyond counted wrong codes, at most ${MAX_ROWS_PER_REFUSAL} rows per refused attacker request in the last window`,
    rho <= MAX_ROWS_PER_REFUSAL,
    `${lastWindow.rows.unbounded} rows over ${lastWindow.attacker.refused} refusals = ${rho.toFixed(3)}; by window ` +
      windows.map((w) => w.rows.unboundedPerRefusal?.toFixed(3)).join(", "));
  const mostWrong = Math.max(0, ...attacker.countedWrongByAddress.values());
  check(`counted wrong codes stay within each address's daily budget (${DAILY_FAILURE_BUDGET})`,
    mostWrong <= DAILY_FAILURE_BUDGET,
    `at most ${mostWrong} on one address, ${[...attacker.countedWrongByAddress.values()].reduce((a, b) => a + b, 0)} ` +
      `over ${attacker.countedWrongByAddress.size} addresses`);
  check("the attacker never signed in", at.logins === 0, `${at.logins} verifies answered 200`);
  check("every attacker request answered", at.noAnswer === 0, `${at.noAnswer} without an answer`);
  for (const [who, w] of [["legit", legitWorld], ["attacker", attackWorld]]) {
    check(`every ${who} refusal answered in the envelope`, w.refused === w.refusedEnveloped, `${w.refusedEnveloped}/${w.refused}`);
    for (const [kind, f] of w.failures) check(`${who} client saw: ${kind}`, false, `${f.count}× e.g. ${f.examples.join(" | ")}`);
  }
  const lost = legitWorld.counts.lostByDevProxy + attackWorld.counts.lostByDevProxy;
  const started = legitWorld.started + attackWorld.started;
  check(`wrangler dev's proxy lost at most 1 request in ${DEV_PROXY_LOSS_BOUND}`, lost * DEV_PROXY_LOSS_BOUND <= started,
    `${lost} of ${started}, outcomes counted as unknown`);
  const health = await fetch(`${dev.base}/health`, { signal: AbortSignal.timeout(30_000) })
    .then(async (res) => (await res.arrayBuffer(), res.status))
    .catch((err) => `no answer (${err.cause?.code ?? err.name})`);
  check("healthy at the end", health === 200, `${health}`);
  const reloads = dev.watcherReloads();
  check("no file change made wrangler dev restart the worker mid-run", reloads === 0,
    reloads ? `${reloads} rebuild(s): a watched file (wrangler.toml watch_dir) changed during the soak` : "");
  result.legit = { ...lt, refused: Object.fromEntries(lt.refused), underAttack: { p50: underAttack.p50, p99: underAttack.p99 } };
  result.attacker = { ...at, statuses: Object.fromEntries(at.statuses) };
  result.turnstileCalls = turnstile.calls.length;
  failed = checks.some((c) => !c.ok);
  if (failed) {
    const notes = dev.notes();
    if (notes.length) log(`wrangler said while serving (${notes.length} lines, the first 30):\n${notes.slice(0, 30).join("\n")}`);
  }
} catch (err) {
  failed = true;
  console.error(`[attack] FAILED: ${err.stack ?? err}`);
  console.error(dev.log().split("\n").slice(-40).join("\n"));
} finally {
  await dev.stop();
  await mail.close();
  await turnstile.close();
  if (env.SOAK_REPORT) writeFileSync(env.SOAK_REPORT, JSON.stringify({ ...result, series, checks }, null, 1));
  if (!failed || !env.SOAK_KEEP_STATE) rmSync(state, { recursive: true, force: true });
  else log(`state kept in ${state}`);
}
log(failed ? `FAILED: ${checks.filter((c) => !c.ok).length} check(s)` : `passed: ${checks.length} checks`);
process.exit(failed ? 1 : 0);
