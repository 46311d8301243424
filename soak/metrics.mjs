// Latency and status counts per endpoint, per reporting window and in total.

export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

const round = (ms) => (ms === null ? null : Math.round(ms * 10) / 10);

class Window {
  constructor() {
    this.started = performance.now();
    this.endpoints = new Map();
    this.requests = 0;
  }

  record(key, status, ms) {
    let e = this.endpoints.get(key);
    if (!e) this.endpoints.set(key, (e = { latencies: [], statuses: {} }));
    e.latencies.push(ms);
    e.statuses[status] = (e.statuses[status] ?? 0) + 1;
    this.requests++;
  }

  summary() {
    const seconds = (performance.now() - this.started) / 1000;
    const endpoints = {};
    const all = [];
    for (const [key, e] of [...this.endpoints].sort(([a], [b]) => a.localeCompare(b))) {
      const sorted = e.latencies.slice().sort((a, b) => a - b);
      all.push(...e.latencies);
      endpoints[key] = {
        n: sorted.length,
        p50: round(percentile(sorted, 0.5)),
        p99: round(percentile(sorted, 0.99)),
        statuses: e.statuses,
      };
    }
    all.sort((a, b) => a - b);
    return {
      seconds: Math.round(seconds * 10) / 10,
      requests: this.requests,
      rps: Math.round((this.requests / Math.max(seconds, 0.001)) * 10) / 10,
      p50: round(percentile(all, 0.5)),
      p99: round(percentile(all, 0.99)),
      endpoints,
    };
  }
}

export class Metrics {
  constructor() {
    this.window = new Window();
    this.total = new Window();
  }

  /** Forgets everything so far (start-up is not part of any figure). */
  reset() {
    this.window = new Window();
    this.total = new Window();
  }

  record(key, status, ms) {
    this.window.record(key, status, ms);
    this.total.record(key, status, ms);
  }

  /** The current window's summary; a new window starts. */
  cut() {
    const s = this.window.summary();
    this.window = new Window();
    return s;
  }
}

/** A window's summary as a few readable lines. */
export function formatWindow(label, s, extra = "") {
  const lines = [
    `[soak] ${label}: ${s.requests} requests in ${s.seconds}s = ${s.rps} req/s, ` +
      `p50 ${s.p50} ms, p99 ${s.p99} ms${extra}`,
  ];
  const width = Math.max(...Object.keys(s.endpoints).map((k) => k.length), 8);
  for (const [key, e] of Object.entries(s.endpoints)) {
    const statuses = Object.entries(e.statuses).map(([st, n]) => `${st}:${n}`).join(" ");
    lines.push(
      `         ${key.padEnd(width)} ${String(e.n).padStart(6)}  p50 ${String(e.p50).padStart(6)}  ` +
        `p99 ${String(e.p99).padStart(7)}  ${statuses}`,
    );
  }
  return lines.join("\n");
}
