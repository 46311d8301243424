//! Storage behind narrow functions: KV for pending codes, D1 for the ledger,
//! users, sessions, limits and the audit trail. Each function takes domain
//! values and returns a domain outcome; it owns its statements and its batch.
//! SQL lives only here.

pub mod audit_log;
pub mod deletion;
pub mod health;
pub mod limit_store;
pub mod login;
pub mod otp_store;
pub mod outbox;
pub mod retention;
pub mod session_repo;
pub mod user_columns;
pub mod user_repo;

use serde::de::DeserializeOwned;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1DatabaseSession, D1PreparedStatement, D1Result, KvStore};

use crate::domain::error::AppError;
use crate::platform::trips::{Kind, Trips};
use crate::platform::{fault, Context};

/// A D1 handle: the database itself (the primary), or a D1 session, which may
/// read from a nearby replica and carries a bookmark for read-your-writes.
/// Every call is counted as a round trip of the request (`platform::trips`).
pub struct Db {
    handle: Handle,
    trips: Trips,
}

enum Handle {
    Primary(D1Database),
    Session(D1DatabaseSession),
}

/// The KV namespace of pending codes, with the request's round-trip count.
pub struct Kv {
    store: KvStore,
    trips: Trips,
}

impl Kv {
    pub fn new(store: KvStore, trips: Trips) -> Self {
        Self { store, trips }
    }
}

impl Db {
    pub fn primary(database: D1Database, trips: Trips) -> Self {
        Self {
            handle: Handle::Primary(database),
            trips,
        }
    }

    /// A D1 session (read replication): starts at `bookmark` when the client
    /// sent one (read-your-writes), else on any replica, or on the primary with
    /// `"first-primary"`. A bookmark D1 does not accept is dropped, not fatal.
    pub fn session(database: D1Database, start: Option<&str>, trips: Trips) -> Self {
        let session = database
            .with_session(start)
            .or_else(|_| database.with_session(Some("first-unconstrained")));
        match session {
            Ok(session) => Self {
                handle: Handle::Session(session),
                trips,
            },
            Err(_) => Self::primary(database, trips),
        }
    }

    /// The latest bookmark of a session, to hand back to the client.
    pub fn bookmark(&self) -> Option<String> {
        match &self.handle {
            Handle::Session(session) => session.get_bookmark().ok().flatten(),
            Handle::Primary(_) => None,
        }
    }

    fn prepare(&self, sql: impl Into<String>) -> D1PreparedStatement {
        match &self.handle {
            Handle::Primary(db) => db.prepare(sql),
            Handle::Session(session) => session.prepare(sql),
        }
    }

    /// One statement with its values bound.
    fn statement(
        &self,
        sql: impl Into<String>,
        values: &[JsValue],
    ) -> Result<D1PreparedStatement, AppError> {
        self.prepare(sql).bind(values).context("bind")
    }

    /// Statements in one transaction and one round trip.
    async fn batch(
        &self,
        statements: Vec<D1PreparedStatement>,
        what: &'static str,
    ) -> Result<Vec<D1Result>, AppError> {
        fault("d1")?;
        let _trip = self.trips.start(Kind::D1);
        let result = match &self.handle {
            Handle::Primary(db) => db.batch(statements).await,
            Handle::Session(session) => session.batch(statements).await,
        };
        let results = result.context(what)?;
        for result in &results {
            self.spent(result);
        }
        Ok(results)
    }

    /// Runs one statement and returns its rows.
    async fn rows<T: DeserializeOwned>(
        &self,
        statement: D1PreparedStatement,
        what: &'static str,
    ) -> Result<Vec<T>, AppError> {
        fault("d1")?;
        let _trip = self.trips.start(Kind::D1);
        let result = statement.all().await.context(what)?;
        self.spent(&result);
        result.results().context(what)
    }

    /// Runs one statement that returns nothing worth reading.
    async fn run(
        &self,
        statement: D1PreparedStatement,
        what: &'static str,
    ) -> Result<(), AppError> {
        fault("d1")?;
        let _trip = self.trips.start(Kind::D1);
        let result = statement.run().await.context(what)?;
        self.spent(&result);
        Ok(())
    }
}

impl Db {
    /// Test builds add up what D1 reports it spent (the capacity figures);
    /// release builds skip reading the result's metadata.
    #[inline]
    fn spent(&self, _result: &D1Result) {
        #[cfg(feature = "fault-injection")]
        if let Ok(Some(meta)) = _result.meta() {
            self.trips.d1_spent(
                meta.duration.unwrap_or(0.0),
                u32::try_from(meta.rows_written.unwrap_or(0)).unwrap_or(u32::MAX),
            );
        }
    }
}

/// The rows statement `index` of a batch changed.
fn changes(results: &[D1Result], index: usize) -> Result<usize, AppError> {
    results
        .get(index)
        .ok_or_else(|| AppError::internal(format!("batch has no result {index}")))?
        .meta()
        .context("batch meta")?
        .and_then(|meta| meta.changes)
        .ok_or_else(|| AppError::internal("D1 reported no change count"))
}

/// The rows of statement `index` of a batch.
fn batch_rows<T: DeserializeOwned>(results: &[D1Result], index: usize) -> Result<Vec<T>, AppError> {
    results
        .get(index)
        .ok_or_else(|| AppError::internal(format!("batch has no result {index}")))?
        .results::<T>()
        .context("batch result")
}

/// D1 binds JavaScript values; integers travel as numbers (exact up to 2^53).
fn int(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

fn text(s: &str) -> JsValue {
    JsValue::from_str(s)
}

/// Text, or SQL NULL when absent.
fn opt_text(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, text)
}
