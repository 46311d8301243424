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
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${port}`);
  const ws = new WebSocket(url.replace("localhost", "127.0.0.1"));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
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
