// Our isolate's own memory under `wrangler dev`, to tell it from workerd's:
// the wasm linear memory (GET /__faults/memory, test builds only) and the
// isolate's V8 heap (Runtime.getHeapUsage after HeapProfiler.collectGarbage,
// through the inspector).
//
// Two ways in, because workerd's inspector serves one session per isolate:
//
// - wrangler's inspector proxy (`--inspector-port`, the default here). It holds
//   the runtime's session and keeps every event of it (a few per request:
//   Network.*, console calls) in a buffer until a DevTools client connects, then
//   replays the whole buffer to it. A client that connects after minutes of
//   load waits for that replay (hundreds of MB; it never got an answer in 30 s,
//   and the proxy's workerd grew by 600 MB meanwhile). So the probe connects
//   right after start-up, before any traffic, stays connected and discards the
//   events it is sent.
// - workerd's own inspector (`SOAK_ISOLATES=1`), which lists every isolate of
//   the runtime process: ours and the local D1, KV, assets and entry workers.
//   Connecting to our isolate there ends wrangler's session (and the first
//   such connection is closed as well, so it is tried twice); console output
//   still reaches wrangler's terminal, which reads workerd's stdout.
//
// HeapProfiler.collectGarbage is answered only when the isolate next runs (an
// idle isolate never answers), so each sample also sends a request to it.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import WebSocket from "ws";

const MB = 1024 * 1024;
const ANSWER = Buffer.from('{"id":');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes) => (bytes == null ? null : Math.round((bytes / MB) * 10) / 10);

/** An inspector session on `url`; every call times out; events are dropped. */
async function session(url, timeoutMs = 5000) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
    ws.once("close", () => reject(new Error("closed while opening")));
    setTimeout(() => reject(new Error(`${url} did not open`)), timeoutMs).unref();
  });
  let id = 0;
  const pending = new Map();
  ws.on("message", (raw) => {
    // The proxy forwards every event of the runtime's session; only answers matter.
    if (!raw.subarray(0, 6).equals(ANSWER)) return;
    const msg = JSON.parse(raw);
    pending.get(msg.id)?.(msg);
    pending.delete(msg.id);
  });
  ws.on("error", () => {});
  ws.on("close", () => {
    for (const answer of pending.values()) answer({ error: { message: "inspector closed" } });
    pending.clear();
  });
  const send = (method, params = {}, ms = timeoutMs) =>
    new Promise((resolve, reject) => {
      if (ws.readyState !== WebSocket.OPEN) return reject(new Error("inspector closed"));
      const n = 1e6 + ++id;
      const timer = setTimeout(() => {
        pending.delete(n);
        reject(new Error(`${method}: no answer in ${ms} ms`));
      }, ms);
      pending.set(n, (msg) => {
        clearTimeout(timer);
        msg.error ? reject(new Error(`${method}: ${msg.error.message}`)) : resolve(msg.result);
      });
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  return { send, open: () => ws.readyState === WebSocket.OPEN, close: () => ws.close() };
}

/** pid and command line of the workerd processes among `pids`. */
function workerdProcesses(pids) {
  return pids.flatMap((pid) => {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      return cmd.includes("workerd") ? [{ pid, cmd }] : [];
    } catch {
      return [];
    }
  });
}

/** The TCP ports `pid` listens on (from /proc). */
function listeningPorts(pid) {
  const inodes = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A" && inodes.has(f[9])) ports.push(parseInt(f[1].split(":")[1], 16));
    }
  }
  return ports;
}

/** workerd's own inspector in the runtime process (started with --inspector-addr): its targets. */
async function runtimeTargets(pids) {
  const runtime = workerdProcesses(pids).find((p) => p.cmd.includes("--inspector-addr"));
  if (!runtime) throw new Error("no workerd with an inspector");
  for (const port of listeningPorts(runtime.pid)) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/json`, { signal: AbortSignal.timeout(2000) });
      const targets = await res.json();
      if (Array.isArray(targets) && targets[0]?.webSocketDebuggerUrl) {
        return targets.map((t) => ({ id: t.id, url: t.webSocketDebuggerUrl.replace("localhost", "127.0.0.1") }));
      }
    } catch {
      // another of its ports
    }
  }
  throw new Error(`workerd ${runtime.pid} lists no inspector targets`);
}

export class IsolateMemory {
  /**
   * @param {object} o
   * @param {string} o.base           the worker's URL
   * @param {number} [o.inspectorPort]  wrangler's inspector proxy (`--inspector-port`); without it, no JS heap figure
   * @param {() => number[]} o.pids   the dev server's processes now
   * @param {boolean} [o.isolates]    workerd's own inspector: every isolate of the runtime
   */
  constructor({ base, inspectorPort, pids, isolates = false }) {
    Object.assign(this, { base, inspectorPort, pids, isolates });
    this.proxy = null;
    this.note = null; // why a figure is missing, once
  }

  /** Connects to wrangler's proxy now, before traffic (see above). A failure is noted, not thrown. */
  async attach() {
    this.proxy?.close();
    this.proxy = null;
    if (this.isolates) return;
    if (!this.inspectorPort) {
      this.note = "inspector: off (wrangler dev without its inspector proxy; SOAK_INSPECTOR=1 weighs the JS heap)";
      return;
    }
    try {
      const targets = await (await fetch(`http://127.0.0.1:${this.inspectorPort}/json`, { signal: AbortSignal.timeout(5000) })).json();
      this.proxy = await session(targets[0].webSocketDebuggerUrl.replace("localhost", "127.0.0.1"));
    } catch (err) {
      this.note = `inspector: ${err.message}`;
    }
  }

  close() {
    this.proxy?.close();
    this.proxy = null;
  }

  /** GET /__faults/memory: the wasm linear memory in bytes, or null (a build without it). */
  async wasmBytes() {
    try {
      const res = await fetch(`${this.base}/__faults/memory`, { signal: AbortSignal.timeout(5000) });
      const body = await res.json();
      return res.status === 200 ? body.data.wasmMemoryBytes : null;
    } catch {
      return null;
    }
  }

  /** Garbage-collects and weighs one isolate's heap; `wake` makes it run. */
  async heap(inspector, wake) {
    let collected = false;
    const gc = inspector.send("HeapProfiler.collectGarbage", {}, 8000).then(() => (collected = true), () => {});
    const wasm = await wake();
    // The collection runs when the isolate next runs after the command reached
    // it: under load at once; at rest, after one of these requests.
    for (let i = 0; i < 20 && !collected; i++) {
      await Promise.race([gc, sleep(400)]);
      if (!collected) await wake();
    }
    await gc;
    const h = await inspector.send("Runtime.getHeapUsage");
    return { wasm, collected, usedMb: mb(h.usedSize), totalMb: mb(h.totalSize) };
  }

  /**
   * One sample: { wasmMb, heapMb, heapTotalMb, collected, isolates? }; a figure
   * that cannot be had is null (and `note` says why).
   */
  async sample() {
    const wake = () => this.wasmBytes();
    const out = { wasmMb: null, heapMb: null, heapTotalMb: null, collected: false };
    try {
      if (!this.isolates) {
        if (!this.proxy?.open()) throw new Error(this.note?.replace(/^inspector: /, "") ?? "not connected");
        const h = await this.heap(this.proxy, wake);
        Object.assign(out, { wasmMb: mb(h.wasm), heapMb: h.usedMb, heapTotalMb: h.totalMb, collected: h.collected });
      } else {
        const all = [];
        for (const target of await runtimeTargets(this.pids())) {
          const ours = target.id.startsWith("core:user:");
          let h = null;
          for (let attempt = 0; attempt < (ours ? 2 : 1) && !h; attempt++) {
            let inspector;
            try {
              inspector = await session(target.url);
              h = ours ? await this.heap(inspector, wake) : await inspector.send("Runtime.getHeapUsage").then(
                (u) => ({ usedMb: mb(u.usedSize), totalMb: mb(u.totalSize) }));
            } catch {
              // the first connection to our isolate ends wrangler's session and is closed too
            } finally {
              inspector?.close();
            }
          }
          if (!h) continue;
          all.push({ id: target.id, usedMb: h.usedMb, totalMb: h.totalMb });
          if (ours) Object.assign(out, { wasmMb: mb(h.wasm), heapMb: h.usedMb, heapTotalMb: h.totalMb, collected: h.collected });
        }
        const sum = (k) => Math.round(all.reduce((a, i) => a + i[k], 0) * 10) / 10;
        out.isolates = { count: all.length, usedMb: sum("usedMb"), totalMb: sum("totalMb"), each: all };
      }
    } catch (err) {
      this.note = `inspector: ${err.message}`;
      out.wasmMb = mb(await this.wasmBytes());
    }
    if (out.wasmMb === null && !this.note) this.note = "wasm: no /__faults/memory (a build without fault-injection)";
    return out;
  }
}

/** A sample as a few words for the soak's per-minute line. */
export function formatMemory(m) {
  const wasm = m.wasmMb === null ? "wasm n/a" : `wasm ${m.wasmMb} MB`;
  const heap = m.heapMb === null ? "JS heap n/a"
    : `JS heap ${m.heapMb} MB${m.collected ? " after GC" : " (no GC)"} of ${m.heapTotalMb} MB`;
  const all = m.isolates ? `; all ${m.isolates.count} isolates' JS heaps ${m.isolates.usedMb} of ${m.isolates.totalMb} MB` : "";
  return `our isolate: ${wasm}, ${heap}${all}`;
}
