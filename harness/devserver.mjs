// `npm run dev` (wrangler dev, local KV and D1) as a child the soak can start,
// stop with SIGTERM mid-load and start again on the same persisted state, and
// whose workerd processes it can weigh (resident memory from /proc).
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync } from "node:fs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/**
 * The line wrangler 4.86's file watcher prints once at start: it names the
 * folders of `[build] watch_dir` in wrangler.toml, so it is read from there
 * (a folder added to the watch list changes the line).
 */
export const STARTUP_REBUILD = `The file ${watchedFolders().join(",")} changed, restarting build`;

function watchedFolders() {
  const toml = readFileSync(new URL("../wrangler.toml", import.meta.url), "utf8");
  const list = /^watch_dir\s*=\s*\[([^\]]*)\]/m.exec(toml);
  if (!list) throw new Error("wrangler.toml has no [build] watch_dir list");
  return [...list[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]);
}

/**
 * wrangler's ProxyWorker (the process on the dev port) forwards each request to
 * the runtime process over a pooled local connection. When that fetch fails
 * with a network error on a request other than GET or HEAD, it answers this
 * plain-text 503 *whatever the cause*: it means to check whether the runtime
 * was swapped, but compares the request's full URL with the runtime's bare
 * origin, which never match on a path other than `/`. The cause we found
 * (`investigations/dev-proxy-race.mjs` reproduces it) is a keep-alive race between
 * wrangler's two workerd processes: the runtime closes a connection idle for
 * about five seconds just as the proxy reuses it ("Network connection lost").
 * The request may or may not have reached the worker: its outcome is unknown.
 */
export function isDevProxyLoss(status, headers, text) {
  return status === 503 && headers.get("retry-after") === "0" && text.startsWith("Your worker restarted mid-request");
}

/**
 * Environment for `npm run dev` without wrangler dev's inspector proxy. That
 * proxy handles every event of the worker's inspector session (five a request
 * on /health: its console line, four Network events of a binding's
 * subrequest) and reports each to wrangler's process over HTTP; under load it
 * costs more than the worker (capacity 85 req/s with it, 211 without, and its
 * latency drifts: docs/reliability.md). wrangler leaves it out, as it does in
 * VS Code's JavaScript Debug Terminal, when VSCODE_INSPECTOR_OPTIONS is set.
 */
export const WITHOUT_INSPECTOR = { VSCODE_INSPECTOR_OPTIONS: "allmine-soak" };

/**
 * Waits until `base`/health answers 200: true, or false at `deadline`. `gaveUp()`
 * may return an error (the server exited, say), thrown at once.
 */
export async function waitForHealth(base, deadline, gaveUp = () => null) {
  while (Date.now() < deadline) {
    const reason = gaveUp();
    if (reason) throw reason;
    try {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return true;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  return false;
}

/** pid, comm, ppid and process group of every process, from /proc. */
function processTable() {
  const table = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const [state, ppid, pgrp] = stat.slice(close + 2).split(" ");
      table.push({ pid: Number(name), comm, state, ppid: Number(ppid), pgrp: Number(pgrp) });
    } catch {
      // the process ended while we looked
    }
  }
  return table;
}

/** The workerd processes in `pgid`'s group (a dev server's runtime). */
export function workerdPids(pgid) {
  return groupProcesses(pgid).filter((p) => p.comm.startsWith("workerd")).map((p) => p.pid);
}

/** The CPU time (user + system) `pids` have used so far, in ms, from /proc. */
export function cpuTimeMs(pids) {
  const CLK_TCK = 100; // /proc/<pid>/stat counts in clock ticks (USER_HZ)
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]); // utime + stime
  }
  return (ticks * 1000) / CLK_TCK;
}

/** The processes in `pgid`'s group and all their descendants: { pid, comm, state, ppid, pgrp }. */
export function groupProcesses(pgid) {
  const table = processTable();
  const members = new Set(table.filter((p) => p.pgrp === pgid).map((p) => p.pid));
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of table) {
      if (!members.has(p.pid) && members.has(p.ppid)) {
        members.add(p.pid);
        grew = true;
      }
    }
  }
  return table.filter((p) => members.has(p.pid));
}

function vmRssKb(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
    return line ? Number(line.split(/\s+/)[1]) : 0;
  } catch {
    return 0;
  }
}

export class DevServer {
  /**
   * @param {object} o
   * @param {string} o.root      the project
   * @param {number} o.port
   * @param {string} o.persistTo local KV and D1 (DEV_PERSIST_TO)
   * @param {string} o.logFile   the dev console, appended to across restarts
   * @param {Record<string,string>} o.vars  `--var NAME:VALUE` overrides
   * @param {Record<string,string>} [o.env]  extra environment (e.g. WORKER_FEATURES)
   * @param {number} [o.inspectorPort]  wrangler's inspector proxy (`--inspector-port`)
   * @param {string[]} [o.args]  more arguments for `npm run dev --`
   */
  constructor({ root, port, persistTo, logFile, vars, env = {}, inspectorPort, args = [] }) {
    Object.assign(this, { root, port, persistTo, logFile, vars, env, inspectorPort, args });
    this.base = `http://127.0.0.1:${port}`;
    this.child = null;
  }

  /**
   * Starts `npm run dev` and waits for /health. wrangler 4.86 rebuilds once when
   * its file watcher starts; if that lands while the first build is still running
   * (a cold or feature-switching cargo build), it kills that build and exits.
   * That start-up race is the dev tool's, not the service's: one retry, on a
   * warm build.
   */
  async start(timeoutMs) {
    try {
      await this.startOnce(timeoutMs);
    } catch (err) {
      if (!err.exitedDuringStart) throw err;
      console.log(`[dev server] ${err.message}; starting it once more`);
      await this.stop();
      await this.startOnce(timeoutMs);
    }
  }

  async startOnce(timeoutMs) {
    this.logStart = existsSync(this.logFile) ? statSync(this.logFile).size : 0;
    const args = ["run", "dev", "--"];
    for (const [name, value] of Object.entries(this.vars)) args.push("--var", `${name}:${value}`);
    if (this.inspectorPort) args.push("--inspector-port", String(this.inspectorPort));
    args.push(...this.args);
    const out = openSync(this.logFile, "a");
    const child = spawn("npm", args, {
      cwd: this.root,
      env: { ...process.env, ...this.env, PORT: String(this.port), DEV_PERSIST_TO: this.persistTo },
      detached: true, // its own process group, so a stop reaches wrangler and workerd too
      stdio: ["ignore", out, out],
    });
    closeSync(out);
    this.child = child;
    this.pgid = child.pid;
    let exited = false;
    child.on("exit", () => (exited = true));
    const deadline = Date.now() + timeoutMs;
    const healthy = async () => {
      const gaveUp = () =>
        exited && Object.assign(new Error(`wrangler dev exited during start-up; see ${this.logFile}`), { exitedDuringStart: true });
      if (!(await waitForHealth(this.base, deadline, gaveUp))) {
        throw new Error(`wrangler dev did not answer /health within ${timeoutMs / 1000}s; see ${this.logFile}`);
      }
    };
    await healthy();
    // wrangler 4.86's file watcher announces itself with one rebuild soon after
    // start ("The file src,worker,web,api changed, restarting build..."). When
    // that lands after the server is ready it restarts the runtime, and requests
    // in flight get wrangler's own plain-text 503. Wait for it (and for the
    // server it reloads) before any traffic; give up waiting after 30 s.
    const waitedSince = Date.now();
    for (;;) {
      const log = this.logSince();
      const at = log.lastIndexOf(STARTUP_REBUILD);
      if (at >= 0) {
        const after = log.slice(at);
        if (after.includes("Ready on http") || after.includes("Local server updated and ready")) break;
      } else if (Date.now() - waitedSince > 30_000) {
        break;
      }
      if (exited || Date.now() > deadline) break;
      await sleep(250);
    }
    await healthy();
  }

  /** The dev console since this start. */
  logSince() {
    try {
      return readFileSync(this.logFile).subarray(this.logStart).toString("utf8");
    } catch {
      return "";
    }
  }

  /** SIGTERM to the whole process group; SIGKILL whatever is left after `graceMs`. */
  async stop(graceMs = 15_000) {
    if (!this.child) return { forced: false, ms: 0 };
    const started = Date.now();
    const pgid = this.pgid;
    const left = () => groupProcesses(pgid).filter((p) => p.state !== "Z");
    try {
      process.kill(-pgid, "SIGTERM");
    } catch {
      // already gone
    }
    let forced = false;
    while (left().length > 0) {
      if (Date.now() - started > graceMs) {
        forced = true;
        for (const p of left()) {
          try {
            process.kill(p.pid, "SIGKILL");
          } catch {
            // gone
          }
        }
        await sleep(200);
        break;
      }
      await sleep(100);
    }
    this.child = null;
    return { forced, ms: Date.now() - started };
  }

  /** The dev server's processes now. */
  pids() {
    return this.child ? groupProcesses(this.pgid).map((p) => p.pid) : [];
  }

  /**
   * Resident memory of the workerd processes started by this dev server:
   * wrangler's proxy (it listens on the dev port; its inspector proxy too) and
   * the runtime (the worker, the local KV, D1 and assets workers), in that order.
   */
  workerdMemory() {
    if (!this.child) return { processes: 0, rssMb: 0, each: [], roles: [] };
    const mb = (kb) => Math.round(kb / 102.4) / 10;
    const role = (pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`=127.0.0.1:${this.port}\0`) ? "proxy" : "runtime";
      } catch {
        return "runtime";
      }
    };
    const procs = groupProcesses(this.pgid)
      .filter((p) => p.comm.startsWith("workerd"))
      .map((p) => ({ role: role(p.pid), mb: mb(vmRssKb(p.pid)) }))
      .sort((a, b) => (a.role === b.role ? 0 : a.role === "proxy" ? -1 : 1));
    const each = procs.map((p) => p.mb);
    return {
      processes: each.length,
      rssMb: Math.round(each.reduce((a, b) => a + b, 0) * 10) / 10,
      each,
      roles: procs.map((p) => p.role),
    };
  }

  /**
   * Rebuilds by wrangler dev's file watcher for a file that changed (under
   * the watched folders) while it served, in the whole log (every start): each
   * restarts the runtime, and requests in flight get wrangler's own plain-text
   * 503 ("Your worker restarted mid-request"), not the service's answer. (The
   * rebuild wrangler does once at every start is waited out by `start` and not
   * counted.)
   */
  watcherReloads() {
    return this.log()
      .split("\n")
      .filter((l) => l.includes("changed, restarting build") && !l.includes(STARTUP_REBUILD)).length;
  }

  /** What wrangler itself said while serving (not request lines, not the worker's JSON), for a failed run. */
  notes() {
    let serving = false;
    const notes = [];
    for (const line of this.log().split("\n")) {
      if (line.includes("bash scripts/dev.sh")) serving = false;
      else if (line.includes("Ready on http")) serving = true;
      else if (serving && line.trim() && !line.startsWith("{") && !line.includes("[wrangler:info] ") && !line.includes("injected fault")) {
        notes.push(line.slice(0, 200));
      }
    }
    return notes;
  }

  /** The whole dev console, every start. */
  log() {
    try {
      return readFileSync(this.logFile, "utf8");
    } catch {
      return "";
    }
  }

  stopOnExit() {
    process.on("exit", () => {
      if (!this.child) return;
      try {
        process.kill(-this.pgid, "SIGKILL");
      } catch {
        // gone
      }
    });
  }
}

export const procAvailable = existsSync("/proc/self/status");
