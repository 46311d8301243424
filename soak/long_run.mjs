// The frame of a long run (the soak, the attack): a watchdog that fails the
// run once it is over its time bound, so a hang can never stall CI; its log
// prefix; an id for its addresses; a scratch directory for its state.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function longRun(name, budgetMs) {
  const watchdog = setTimeout(() => {
    console.error(`[${name}] FAILED: over its time bound (${Math.round(budgetMs / 1000)}s)`);
    process.exit(1);
  }, budgetMs);
  watchdog.unref();
  return {
    log: (...args) => console.log(`[${name}]`, ...args),
    runId: Date.now().toString(36),
    state: mkdtempSync(join(tmpdir(), `allmine-${name}-`)),
  };
}
