// An open loop: work started at a set rate whether or not earlier work has
// finished (as independent clients do), with a cap on how much runs at once.

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Pacer {
  /** `maxInflight`: a start that would exceed it is skipped (counted in `skipped`). */
  constructor(maxInflight) {
    this.maxInflight = maxInflight;
    this.inflight = new Set();
    this.skipped = 0;
    this.stopped = false;
  }

  /**
   * Calls `startOne()` `rate` times a second for `seconds` (or until `stop()`).
   * `startOne` returns a promise, or undefined when it had nothing to start.
   * Returns when the time is up; work in flight carries on (`drain`).
   */
  async run(seconds, rate, startOne) {
    const until = performance.now() + seconds * 1000;
    let credit = 0;
    let last = performance.now();
    while (!this.stopped && performance.now() < until) {
      await sleep(10);
      const now = performance.now();
      credit = Math.min(credit + (rate * (now - last)) / 1000, Math.max(1, rate * 0.25));
      last = now;
      while (credit >= 1) {
        credit -= 1;
        if (this.inflight.size >= this.maxInflight) {
          this.skipped++;
          continue;
        }
        const work = startOne();
        if (!work) continue;
        this.inflight.add(work);
        const done = () => this.inflight.delete(work);
        work.then(done, done); // startOne catches its own failures

      }
    }
  }

  stop() {
    this.stopped = true;
  }

  /** Waits for the work in flight, at most `timeoutMs`; true if it all finished. */
  async drain(timeoutMs) {
    const until = Date.now() + timeoutMs;
    while (this.inflight.size > 0 && Date.now() < until) await sleep(50);
    return this.inflight.size === 0;
  }
}
