//! The D1 handle: where a statement's values are bound and a batch runs.
//!
//! The statements cross into JavaScript as one JSON string and the results
//! come back as one (`worker/d1.mjs`): a call across the Wasm boundary per
//! round trip, instead of several per statement and per field of each row.

use serde::de::DeserializeOwned;
use serde::ser::{Serialize, SerializeSeq, Serializer};
use serde::Deserialize;
use serde_json::value::RawValue;
use worker::js_sys::Promise;
use worker::wasm_bindgen::{self, prelude::wasm_bindgen, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{D1Database, D1DatabaseSession};

use super::batch::{Batch, Results, StatementResult};
use super::statement::{Statement, Value};
use crate::domain::error::AppError;
use crate::platform::trips::{Kind, Trips};
use crate::platform::{fault, Context};

#[wasm_bindgen(module = "/worker/d1.mjs")]
extern "C" {
    #[wasm_bindgen(js_name = d1Batch)]
    fn d1_batch(db: &JsValue, statements: &str) -> Promise;
    #[wasm_bindgen(js_name = d1All)]
    fn d1_all(db: &JsValue, statement: &str) -> Promise;
}

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

    fn js(&self) -> &JsValue {
        match &self.handle {
            Handle::Primary(db) => db.as_ref(),
            Handle::Session(session) => session.as_ref(),
        }
    }

    /// Runs `call` (one of `worker/d1.mjs`'s) and reads its JSON answer.
    async fn call<T: DeserializeOwned>(
        &self,
        call: impl FnOnce(&JsValue) -> Promise,
        what: &'static str,
    ) -> Result<T, AppError> {
        fault("d1")?;
        let _trip = self.trips.start(Kind::D1);
        let answer = JsFuture::from(call(self.js()))
            .await
            .map_err(worker::Error::from)
            .context(what)?;
        let json = answer
            .as_string()
            .ok_or_else(|| AppError::internal(format!("{what}: D1 answered no JSON")))?;
        serde_json::from_str(&json).context(what)
    }

    /// A batch's statements in one transaction and one round trip.
    pub(super) async fn batch(
        &self,
        batch: &Batch,
        what: &'static str,
    ) -> Result<Results<D1Rows>, AppError> {
        let statements = serde_json::to_string(&Statements(batch)).context(what)?;
        let results: Vec<D1Rows> = self.call(|db| d1_batch(db, &statements), what).await?;
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
        let result = self.one(&statement, what).await?;
        serde_json::from_str(result.results.get()).context(what)
    }

    /// Runs one statement whose rows nobody reads.
    pub(super) async fn run<R>(
        &self,
        statement: Statement<R>,
        what: &'static str,
    ) -> Result<(), AppError> {
        self.one(&statement, what).await.map(|_| ())
    }

    async fn one<R>(
        &self,
        statement: &Statement<R>,
        what: &'static str,
    ) -> Result<D1Rows, AppError> {
        let json =
            serde_json::to_string(&(statement.sql(), Values(statement.values()))).context(what)?;
        let result: D1Rows = self.call(|db| d1_all(db, &json), what).await?;
        self.spent(&result);
        Ok(result)
    }

    /// Test builds add up what D1 reports it spent (the capacity figures).
    #[inline]
    fn spent(&self, _result: &D1Rows) {
        #[cfg(feature = "fault-injection")]
        self.trips.d1_spent(
            _result.duration,
            u32::try_from(_result.rows_written).unwrap_or(u32::MAX),
        );
    }
}

/// The batch as `worker/d1.mjs` reads it: `[[sql, [value, …]], …]`.
struct Statements<'a>(&'a Batch);

impl Serialize for Statements<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for (sql, values) in self.0.statements() {
            seq.serialize_element(&(sql, Values(values)))?;
        }
        seq.end()
    }
}

/// A statement's values as JSON: text, numbers (D1 binds JavaScript numbers,
/// exact up to 2^53), null.
struct Values<'a>(&'a [Value]);

impl Serialize for Values<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for value in self.0 {
            match value {
                Value::Text(s) => seq.serialize_element(s)?,
                Value::Int(n) => seq.serialize_element(n)?,
                Value::Null => seq.serialize_element(&())?,
            }
        }
        seq.end()
    }
}

/// One statement's result as `worker/d1.mjs` reports it; its rows are kept
/// as raw JSON until a reader says what type they are.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct D1Rows {
    results: Box<RawValue>,
    changes: Option<usize>,
    #[cfg(feature = "fault-injection")]
    duration: f64,
    #[cfg(feature = "fault-injection")]
    rows_written: u64,
}

impl StatementResult for D1Rows {
    fn rows<T: DeserializeOwned>(&self) -> Result<Vec<T>, AppError> {
        serde_json::from_str(self.results.get()).context("batch result")
    }

    fn changes(&self) -> Result<usize, AppError> {
        self.changes
            .ok_or_else(|| AppError::internal("D1 reported no change count"))
    }
}
