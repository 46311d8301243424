// V8 CPU profiles of a worker's isolate, taken through wrangler dev's
// inspector (Chrome DevTools protocol), and what they say per request.
//
// The profile samples the isolate's own thread while it runs: our JS (the
// entry module and worker-build's shim), our wasm, the JS built-ins and
// workerd's API calls they make (Headers, KV and D1 call set-up, console.log),
// and the isolate's garbage collection. The local KV and D1 simulators run in
// other isolates and in SQLite, outside these samples ("(program)" and
// "(idle)" here), so a profile's non-idle time is the worker's own CPU.
import WebSocket from "ws";

/** Connects to the first target of an inspector at `port`. */
export async function connectInspector(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`, { signal: AbortSignal.timeout(10_000) })).json();
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${port}`);
  const ws = new WebSocket(url.replace("localhost", "127.0.0.1"));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
    setTimeout(() => reject(new Error(`inspector on port ${port} did not open`)), 10_000);
  });
  let id = 0;
  const pending = new Map();
  ws.on("message", (raw) => {
    const msg = JSON.parse(raw);
    if (msg.id && pending.has(msg.id)) {
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      msg.error ? reject(new Error(`${msg.error.message}`)) : resolve(msg.result);
    }
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const n = ++id;
      pending.set(n, { resolve, reject });
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  return { send, close: () => ws.close() };
}

/** Runs `during()` with the profiler on; returns the profile. */
export async function profiled(inspector, during, intervalUs = 200) {
  await inspector.send("Profiler.enable");
  await inspector.send("Profiler.setSamplingInterval", { interval: intervalUs });
  await inspector.send("Profiler.start");
  let result;
  try {
    result = await during();
  } finally {
    var { profile } = await inspector.send("Profiler.stop");
    await inspector.send("Profiler.disable");
  }
  return { profile, result };
}

const META = new Set(["(root)", "(program)", "(idle)", "(garbage collector)"]);

/** What a node's self time is: wasm, JS of a module, a built-in or API call, or the VM's own. */
export function category(frame) {
  if (META.has(frame.functionName)) return frame.functionName;
  if (frame.url.startsWith("wasm://")) return "wasm";
  if (frame.url) return "js";
  return "builtins and API calls";
}

/**
 * Self time per category and per function (ms), over the profile. `own` is
 * everything the isolate did for the requests: JS, wasm, built-ins and
 * workerd API calls, garbage collection; not "(idle)" or "(program)".
 *
 * Each sample stands for the profile's median gap between samples. A
 * sample's own gap is no measure of it: V8 samples the isolate only while it
 * is entered, so the gap before a sample often spans time spent elsewhere
 * (the simulators, I/O, other processes on a busy machine).
 */
export function summarise(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const gaps = profile.timeDeltas.slice(1).sort((a, b) => a - b);
  const sampleMs = (gaps[Math.floor(gaps.length / 2)] ?? 0) / 1000;
  const counts = new Map();
  for (const id of profile.samples) counts.set(id, (counts.get(id) ?? 0) + 1);
  const categories = {};
  const functions = new Map();
  for (const [id, n] of counts) {
    const frame = byId.get(id).callFrame;
    const cat = category(frame);
    const ms = n * sampleMs;
    categories[cat] = (categories[cat] ?? 0) + ms;
    const file = frame.url.startsWith("wasm://") ? "wasm" : frame.url.split("/").at(-1);
    const key = `${frame.functionName || "(anonymous)"} ${file ? `[${file}]` : ""}`.trim();
    functions.set(key, (functions.get(key) ?? 0) + ms);
  }
  const ownMs = Object.entries(categories)
    .filter(([c]) => c !== "(idle)" && c !== "(program)" && c !== "(root)")
    .reduce((sum, [, ms]) => sum + ms, 0);
  const top = [...functions].sort((a, b) => b[1] - a[1]);
  return { ownMs, sampleMs, categories, top };
}

// Where the isolate's own time goes, by what the code was doing: each sample
// goes to the first of these its stack shows, from the leaf up (wasm frames
// have names when the worker is built with WASM_NAMES=1, as the bench does).
const WORK = [
  ["JSON log line (console.log)", /platform::log::|formatLog|console/],
  // ed25519-dalek: its curve arithmetic and SHA-512 (`sha2::`, so before HMAC).
  ["EdDSA (ed25519-dalek)", /ed25519|curve25519|sha512|Sha512/],
  ["HMAC / SHA-256", /hmac|sha2::|Sha256|CodeHasher|audit_tag|address_tag|network_tag/],
  ["D1 calls (client side)", /d1-api|D1PreparedStatement|D1Database|D1Result|storage::Db::/],
  ["KV calls", /kv::|KvStore|GetOptionsBuilder|PutOptionsBuilder/],
  ["rate-limit binding", /RateLimiter|rate_limited|limit_ip|limit_global/],
  // `allmine_auth::mail::`, not `send_otp_email::`.
  ["mail call (fetch, with its timeout)", /\bmail::|resend::|Select<A,B>|new_with_init|worker::fetch|AbortController|setTimeout/],
  ["request: headers, body", /gen_Request::Request>>::from|Headers::get|http::body|ByteStream|Request::bytes|cors::Cors::for_request/],
  ["JSON (serde)", /serde_json|serde_wasm_bindgen|serde_core|serde::/],
  ["response: envelope, headers", /respond::|Response|Headers::set|Headers::append|cors::/],
  ["config and keys", /config::|bindings::config|Config::from_lookup|TokenKeys::from/],
  ["dates (chrono)", /chrono/],
];
const GLUE = /js_sys::|wasm_bindgen|queueMicrotask|wasm-to-js|js-to-wasm|_wbg_|^(?:[a-zA-Z]{1,2}|ce|se|oe|ie)@.*entry\.js/;

/** Own time per kind of work (ms), over the profile. */
export function attribute(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const gaps = profile.timeDeltas.slice(1).sort((a, b) => a - b);
  const sampleMs = (gaps[Math.floor(gaps.length / 2)] ?? 0) / 1000;
  const label = new Map();
  const labelOf = (id) => {
    if (label.has(id)) return label.get(id);
    const leaf = byId.get(id).callFrame;
    let found = null;
    if (["(idle)", "(program)", "(root)"].includes(leaf.functionName)) found = null;
    else if (leaf.functionName === "(garbage collector)") found = "garbage collection";
    else {
      const frames = [];
      for (let x = id; x !== undefined; x = parent.get(x)) {
        const f = byId.get(x).callFrame;
        frames.push(`${f.functionName}@${f.url}`);
      }
      for (const frame of frames) {
        const hit = WORK.find(([, re]) => re.test(frame));
        if (hit) {
          found = hit[0];
          break;
        }
      }
      if (!found) {
        const leafName = `${leaf.functionName}@${leaf.url}`;
        const underWasm = frames.some((f) => f.includes("@wasm://"));
        if (GLUE.test(leafName) || (underWasm && !leaf.url.startsWith("wasm://"))) {
          found = "wasm-bindgen imports and futures glue";
        } else if (leaf.url.startsWith("wasm://")) found = "other wasm (routing, handlers, domain)";
        else if (/entry\.js|index\.js/.test(leaf.url)) found = "module JS outside wasm (entry wrapper, shim, dev middleware)";
        else found = "other built-ins and API calls";
      }
    }
    label.set(id, found);
    return found;
  };
  const work = {};
  for (const id of profile.samples) {
    const l = labelOf(id);
    if (l) work[l] = (work[l] ?? 0) + sampleMs;
  }
  return work;
}
