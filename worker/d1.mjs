// The D1 client side of storage/d1.rs: one call from Wasm per round trip.
//
// workers-rs would prepare and bind each statement with several calls across
// the Wasm boundary, then walk every row of the results field by field
// (serde_wasm_bindgen), each step another call. Here the statements arrive as
// one JSON string, and the results leave as one: V8's JSON.stringify and
// serde_json on the Rust side do the rest (docs/performance.md#the-d1-client).
// Integers travel as JSON numbers, exact up to 2^53, as they do through D1.

function prepared(db, [sql, values]) {
  return db.prepare(sql).bind(...values);
}

// What Rust reads of a result: its rows, the rows it changed, and what D1
// reports it spent (test builds add that up: the capacity figures).
function summary(result) {
  const meta = result.meta ?? {};
  return {
    results: result.results ?? [],
    changes: meta.changes ?? null,
    duration: meta.duration ?? 0,
    rowsWritten: meta.rows_written ?? 0,
  };
}

/** `statements`: JSON `[[sql, [value, …]], …]`; one transaction, one round trip. */
export async function d1Batch(db, statements) {
  const results = await db.batch(JSON.parse(statements).map((s) => prepared(db, s)));
  return JSON.stringify(results.map(summary));
}

/** `statement`: JSON `[sql, [value, …]]`; runs it alone. */
export async function d1All(db, statement) {
  return JSON.stringify(summary(await prepared(db, JSON.parse(statement)).all()));
}
