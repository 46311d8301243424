//! Native tests of the storage SQL: statements and batches run against SQLite
//! (which D1 is) with the schema of `migrations/`, the way D1 runs them: a
//! batch in one transaction, rolled back whole on an error.

use rusqlite::types::ValueRef;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value as Json};

use super::batch::{Batch, Results, StatementResult};
use super::statement::Value;
use super::units::login::Attempt;
use crate::domain::email::EmailAddress;
use crate::domain::error::AppError;
use crate::domain::limits::{BudgetPolicy, EmailLimits, Keys};
use crate::domain::otp::{OtpPolicy, Path};

/// The storage tests' clock (ms): their codes are issued and expire around it.
pub const NOW: i64 = 1_800_000_000_000;
/// [`NOW`] as the tables' timestamps hold it.
pub const AT: &str = "2027-01-15T08:00:00.000Z";

/// The address the storage tests sign in as, with its limits' keys and the
/// default rules: what a parsed request hands the units that check a code.
pub struct Owner {
    pub email: EmailAddress,
    pub keys: Keys,
    pub policy: OtpPolicy,
    pub limits: EmailLimits,
}

impl Owner {
    pub fn new() -> Self {
        Self {
            email: EmailAddress::parse("owner@example.com").unwrap(),
            keys: Keys::new("owner@example.com", "net-1"),
            policy: OtpPolicy::default(),
            limits: EmailLimits::default(),
        }
    }

    /// An attempt of this address without a login id, at [`NOW`], that locks
    /// the address when its failure budget is spent.
    pub fn attempt(&self) -> Attempt<'_> {
        Attempt {
            email: &self.email,
            keys: &self.keys,
            policy: &self.policy,
            limits: &self.limits,
            budget: BudgetPolicy::Lock,
            path: Path::Anonymous,
            now_ms: NOW,
        }
    }
}

pub struct Sqlite {
    conn: rusqlite::Connection,
}

/// One statement's rows (as JSON objects, the shape D1 returns) and changes.
pub struct Outcome {
    rows: Vec<Json>,
    changes: usize,
}

impl StatementResult for Outcome {
    fn rows<T: DeserializeOwned>(&self) -> Result<Vec<T>, AppError> {
        self.rows
            .iter()
            .map(|row| serde_json::from_value(row.clone()).map_err(AppError::internal))
            .collect()
    }

    fn changes(&self) -> Result<usize, AppError> {
        Ok(self.changes)
    }
}

impl Sqlite {
    pub fn empty() -> Self {
        Self {
            conn: rusqlite::Connection::open_in_memory().expect("in-memory SQLite"),
        }
    }

    /// A database with every migration applied, in order.
    pub fn migrated() -> Self {
        let db = Self::empty();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("migrations/")
            .map(|e| e.expect("migration").path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        files.sort();
        for file in files {
            let sql = std::fs::read_to_string(&file).expect("migration text");
            db.conn
                .execute_batch(&sql)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
        db
    }

    /// Runs a batch in one transaction, as D1 does.
    pub fn run(&self, batch: &Batch) -> Result<Results<Outcome>, AppError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(AppError::internal)?;
        let mut each = Vec::new();
        for (sql, values) in batch.statements() {
            each.push(self.execute(sql, values)?);
        }
        tx.commit().map_err(AppError::internal)?;
        Ok(Results::new(each))
    }

    /// Runs raw SQL (a test's own setup or inspection) and returns its rows.
    pub fn query(&self, sql: &str) -> Vec<Json> {
        self.execute(sql, &[]).expect("query").rows
    }

    fn execute(&self, sql: &str, values: &[Value]) -> Result<Outcome, AppError> {
        let mut statement = self.conn.prepare(sql).map_err(AppError::internal)?;
        let names: Vec<String> = statement
            .column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let params = values.iter().map(|v| match v {
            Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
            Value::Int(n) => rusqlite::types::Value::Integer(*n),
            Value::Null => rusqlite::types::Value::Null,
        });
        let mut rows = statement
            .query(rusqlite::params_from_iter(params))
            .map_err(AppError::internal)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(AppError::internal)? {
            let mut object = Map::new();
            for (i, name) in names.iter().enumerate() {
                let value = match row.get_ref(i).map_err(AppError::internal)? {
                    ValueRef::Null => Json::Null,
                    ValueRef::Integer(n) => Json::from(n),
                    ValueRef::Real(f) => Number::from_f64(f).map_or(Json::Null, Json::Number),
                    ValueRef::Text(t) => Json::String(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(_) => return Err(AppError::internal("blob column")),
                };
                object.insert(name.clone(), value);
            }
            out.push(Json::Object(object));
        }
        drop(rows);
        Ok(Outcome {
            rows: out,
            changes: usize::try_from(self.conn.changes()).unwrap_or(usize::MAX),
        })
    }
}
