// Reading what wrangler prints, for the deploy check and `npm run setup`:
// every remote fact they act on comes through these parsers, so the tests
// replay recorded wrangler output (tests/e2e/fixtures/deploy/wrangler/,
// recorded by its record.mjs) instead of reaching Cloudflare.
import { spawnSync } from "node:child_process";

/** Runs `wrangler` from PATH (deploy.sh and setup put node_modules/.bin
 * first; the tests, a fake), its messages passed through to the operator. */
export function wrangler(args) {
  const run = spawnSync("wrangler", args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (run.status !== 0) {
    throw new Error(`wrangler ${args.join(" ")} failed (see its message above). Logged in? (npx wrangler login)`);
  }
  return run.stdout;
}

/** The queue names in `wrangler queues list` output: a box-drawn table with
 * an id and a name column, after wrangler's banner. A page with no queues
 * prints the banner alone, so no table is an empty list. */
export function parseQueueList(text) {
  const rows = text
    .split("\n")
    .filter((line) => line.startsWith("│"))
    .map((line) => line.split("│").slice(1, -1).map((cell) => cell.trim()));
  if (rows.length === 0) return [];
  const column = rows[0].indexOf("name");
  if (column < 0 || !rows[0].includes("id")) {
    throw new Error("expected wrangler's table of queues (id, name, ...)");
  }
  return rows.slice(1).map((row) => row[column]);
}

/** Every queue in the account: `queues list` page by page, until a page is
 * empty or brings nothing new (a service that ignored the page would
 * otherwise loop). */
export function listQueues(run = wrangler, maxPages = 50) {
  const names = new Set();
  for (let page = 1; page <= maxPages; page++) {
    const found = parseQueueList(run(["queues", "list", "--page", String(page)]));
    const before = names.size;
    for (const name of found) names.add(name);
    if (found.length === 0 || names.size === before) break;
  }
  return [...names];
}

/** The JSON array `kv namespace list` and `d1 list --json` print (the
 * latter possibly after other lines): `what` names it in the error. */
export function parseJsonList(text, what) {
  const start = text.startsWith("[") ? 0 : text.indexOf("\n[") + 1;
  let list;
  try {
    list = start === 0 && !text.startsWith("[") ? undefined : JSON.parse(text.slice(start));
  } catch {
    list = undefined;
  }
  if (!Array.isArray(list)) throw new Error(`no JSON list of ${what} in wrangler's output`);
  return list;
}

/** `[{id, title}]` from `wrangler kv namespace list`. */
export function parseKvList(text) {
  const list = parseJsonList(text, "KV namespaces");
  if (!list.every((ns) => typeof ns?.id === "string" && typeof ns?.title === "string")) {
    throw new Error("expected wrangler's KV namespaces: [{\"id\": ..., \"title\": ...}]");
  }
  return list.map(({ id, title }) => ({ id, title }));
}

/** `[{uuid, name}]` from `wrangler d1 list --json`. */
export function parseD1List(text) {
  const list = parseJsonList(text, "D1 databases");
  if (!list.every((db) => typeof db?.uuid === "string" && typeof db?.name === "string")) {
    throw new Error("expected wrangler's D1 databases: [{\"uuid\": ..., \"name\": ...}]");
  }
  return list.map(({ uuid, name }) => ({ uuid, name }));
}

/** The queues an environment's worker needs: those it sends to, consumes,
 * and dead-letters into. */
export function queuesOf(config) {
  const queues = config.queues ?? {};
  return [
    ...new Set([
      ...(queues.producers ?? []).map((p) => p.queue),
      ...(queues.consumers ?? []).flatMap((c) => [c.queue, c.dead_letter_queue]),
    ].filter(Boolean)),
  ];
}
