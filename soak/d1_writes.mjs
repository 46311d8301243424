// The rows written to the local D1 of a running `wrangler dev`, counted exactly,
// and the size of each table.
//
// D1's own figure (`rows_written` in each statement's meta) reaches only the
// worker, and a request's log line misses what runs after the response and
// every answer REQUEST_LOG=failures leaves out. So the soak adds, to its own
// throw-away copy of the database (never a migration), one trigger per table
// and operation that counts each row inserted, updated (an upsert that hits an
// existing row is an update) or deleted into `soak_writes`. That is SQLite's
// count of rows changed; D1 also bills an index entry changed as a row.
//
// The database is read through the running server, never beside it: wrangler
// dev's local explorer API (`/cdn-cgi/explorer/api/d1/database/<id>/raw` on its
// port, on unless X_LOCAL_EXPLORER=false) runs each statement on the same local
// D1 the worker uses, in turn with the worker's. (A second process opening the
// same SQLite file, a Miniflare of our own or `wrangler d1 execute --local`,
// was tried: under load its reads made a worker's D1 call fail now and then
// with SQLITE_BUSY, a 500 to a client.) Each read is one HTTP call of a few
// milliseconds.
import { builtWorkerOptions } from "../harness/worker_options.mjs";

const OPS = ["insert", "update", "delete"];
const COUNTER = "soak_writes";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `{ table: { insert, update, delete } }` → rows written per table (all three). */
export function rowsByTable(counts) {
  return Object.fromEntries(Object.entries(counts).map(([t, c]) => [t, c.insert + c.update + c.delete]));
}

/** `b - a`, per table and operation. */
export function minus(b, a) {
  const out = {};
  for (const [t, c] of Object.entries(b)) {
    out[t] = Object.fromEntries(OPS.map((op) => [op, c[op] - (a[t]?.[op] ?? 0)]));
  }
  return out;
}

export const total = (byTable) => Object.values(byTable).reduce((n, v) => n + v, 0);

export class D1Writes {
  /** `base`: where `wrangler dev` serves. */
  constructor(base) {
    this.api = `${base}/cdn-cgi/explorer/api/d1/database`;
    this.tables = [];
  }

  /** Finds the database and installs the counting triggers (the migrations must have run). */
  async open() {
    const id = builtWorkerOptions().d1Databases.DB.id;
    const listed = await this.call("GET", "");
    if (!listed.some((db) => db.uuid === id)) {
      throw new Error(`wrangler dev's local explorer does not list the database ${id}: ${JSON.stringify(listed)}`);
    }
    this.path = `/${encodeURIComponent(id)}/raw`;
    const tables = await this.query(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' " +
        `AND name NOT LIKE '_cf_%' AND name NOT IN ('d1_migrations', '${COUNTER}') ORDER BY name`,
    );
    this.tables = tables.map((r) => r.name);
    if (this.tables.length === 0) throw new Error("the local D1 has no tables: were the migrations applied?");
    await this.query(`CREATE TABLE ${COUNTER} (tbl TEXT NOT NULL, op TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (tbl, op))`);
    for (const t of this.tables) {
      for (const op of OPS) {
        await this.query(`INSERT INTO ${COUNTER} (tbl, op, n) VALUES ('${t}', '${op}', 0)`);
        await this.query(
          `CREATE TRIGGER soak_${t}_${op} AFTER ${op.toUpperCase()} ON "${t}" ` +
            `BEGIN UPDATE ${COUNTER} SET n = n + 1 WHERE tbl = '${t}' AND op = '${op}'; END`,
        );
      }
    }
  }

  /** A call to the explorer API; its `result`. A read that got no answer in
   * 30 s is asked once more (wrangler dev under load has dropped one). */
  async call(method, path, body) {
    try {
      return await this.callOnce(method, path, body);
    } catch (err) {
      const read = /^\s*SELECT\b/i.test(body?.sql ?? "");
      if (err.name !== "TimeoutError" || !read) throw err;
      console.error(`[attack] the local explorer did not answer a read in 30 s; asking again`);
      return this.callOnce(method, path, body);
    }
  }

  async callOnce(method, path, body) {
    const res = await fetch(this.api + path, {
      method,
      // This wrangler dev's database only (not its peers' in the dev registry), and no usage event sent home.
      headers: { "x-miniflare-explorer-no-aggregate": "1", ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      // reported below
    }
    if (!res.ok || !json?.success) {
      throw new Error(`wrangler dev's local explorer: ${method} ${path || "/"} answered ${res.status}: ${text.slice(0, 300)}`);
    }
    return json.result;
  }

  /** The rows of one statement, as objects. */
  async query(sql) {
    const [result] = await this.call("POST", this.path, { sql });
    this.fileBytes = result.meta?.size_after ?? this.fileBytes; // the database file's size, as D1 reports it
    const { columns, rows } = result.results;
    return rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])));
  }

  /** Rows written so far: `{ table: { insert, update, delete } }`. */
  async counts() {
    const rows = await this.query(`SELECT tbl, op, n FROM ${COUNTER}`);
    const out = Object.fromEntries(this.tables.map((t) => [t, { insert: 0, update: 0, delete: 0 }]));
    for (const r of rows) out[r.tbl][r.op] = r.n;
    return out;
  }

  /**
   * The counts once nothing more is written for `quietMs` (what a request does
   * after its response, or a queue consumer, has landed), waiting at most `maxMs`.
   */
  async settled(quietMs = 300, maxMs = 3000) {
    const until = Date.now() + maxMs;
    let last = await this.counts();
    for (;;) {
      await sleep(quietMs);
      const now = await this.counts();
      if (JSON.stringify(now) === JSON.stringify(last) || Date.now() > until) return now;
      last = now;
    }
  }

  /**
   * Rows and bytes per table, and the database file's size. Bytes are those of
   * the values (each column's length as stored: text and blobs in bytes,
   * numbers as written out), without SQLite's pages, indexes and free space,
   * which `dbBytes` includes.
   */
  async sizes() {
    const tables = {};
    for (const t of this.tables) {
      const columns = await this.query(`SELECT name FROM pragma_table_info('${t}')`);
      const bytes = columns.map((c) => `coalesce(length(CAST("${c.name}" AS BLOB)), 0)`).join(" + ");
      const [size] = await this.query(`SELECT count(*) AS rows, coalesce(sum(${bytes}), 0) AS bytes FROM "${t}"`);
      tables[t] = size;
    }
    return { tables, dbBytes: this.fileBytes };
  }
}
