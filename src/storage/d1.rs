//! The D1 handle: where a statement's values are bound and a batch runs.

use serde::de::DeserializeOwned;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1DatabaseSession, D1PreparedStatement, D1Result};

use super::batch::{Batch, Results, StatementResult};
use super::statement::{Statement, Value};
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

    fn prepare(&self, sql: &str, values: &[Value]) -> Result<D1PreparedStatement, AppError> {
        let statement = match &self.handle {
            Handle::Primary(db) => db.prepare(sql),
            Handle::Session(session) => session.prepare(sql),
        };
        let values: Vec<JsValue> = values.iter().map(js).collect();
        statement.bind(&values).context("bind")
    }

    /// A batch's statements in one transaction and one round trip.
    pub(super) async fn batch(
        &self,
        batch: &Batch,
        what: &'static str,
    ) -> Result<Results<D1Result>, AppError> {
        let statements = batch
            .statements()
            .map(|(sql, values)| self.prepare(sql, values))
            .collect::<Result<Vec<_>, _>>()?;
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
        Ok(Results::new(results))
    }

    /// Runs one statement and returns its rows.
    pub(super) async fn rows<R: DeserializeOwned>(
        &self,
        statement: Statement<R>,
        what: &'static str,
    ) -> Result<Vec<R>, AppError> {
        let prepared = self.prepare(statement.sql(), statement.values())?;
        fault("d1")?;
        let _trip = self.trips.start(Kind::D1);
        let result = prepared.all().await.context(what)?;
        self.spent(&result);
        result.results().context(what)
    }

    /// Runs one statement whose rows nobody reads.
    pub(super) async fn run<R>(
        &self,
        statement: Statement<R>,
        what: &'static str,
    ) -> Result<(), AppError> {
        let prepared = self.prepare(statement.sql(), statement.values())?;
        fault("d1")?;
        let _trip = self.trips.start(Kind::D1);
        let result = prepared.run().await.context(what)?;
        self.spent(&result);
        Ok(())
    }

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

/// D1 binds JavaScript values; integers travel as numbers (exact up to 2^53).
fn js(value: &Value) -> JsValue {
    match value {
        Value::Text(s) => JsValue::from_str(s),
        Value::Int(n) => JsValue::from_f64(*n as f64),
        Value::Null => JsValue::NULL,
    }
}

impl StatementResult for D1Result {
    fn rows<T: DeserializeOwned>(&self) -> Result<Vec<T>, AppError> {
        self.results::<T>().context("batch result")
    }

    fn changes(&self) -> Result<usize, AppError> {
        self.meta()
            .context("batch meta")?
            .and_then(|meta| meta.changes)
            .ok_or_else(|| AppError::internal("D1 reported no change count"))
    }
}
