//! A unit of work is one D1 batch: one transaction, one round trip. Pushing a
//! statement returns a typed `Slot`, and the batch's results are read through
//! it, so adding a statement never renumbers the reads of the others.

use std::marker::PhantomData;

use serde::de::{DeserializeOwned, IgnoredAny};

use super::statement::{Statement, Value};
use crate::domain::error::AppError;

/// Where one statement's result will be in the batch's results; `R` is the
/// type of its rows.
pub struct Slot<R> {
    index: usize,
    rows: PhantomData<fn() -> R>,
}

impl<R> Clone for Slot<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for Slot<R> {}

/// Statements to run in one transaction, in the order pushed.
#[derive(Debug, Default)]
pub struct Batch {
    statements: Vec<(String, Vec<Value>)>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push<R>(&mut self, statement: Statement<R>) -> Slot<R> {
        self.statements.push((statement.sql, statement.values));
        Slot {
            index: self.statements.len() - 1,
            rows: PhantomData,
        }
    }

    /// For a statement whose SQL reads `changes()`, which is the count of the
    /// statement run just before it: pushed right after `previous`, or refused.
    pub fn push_after<R, P>(
        &mut self,
        previous: Slot<P>,
        statement: Statement<R>,
    ) -> Result<Slot<R>, AppError> {
        if previous.index + 1 != self.statements.len() {
            return Err(AppError::internal(
                "a statement that reads changes() must follow the statement it reads",
            ));
        }
        Ok(self.push(statement))
    }

    pub fn len(&self) -> usize {
        self.statements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The statements' SQL and values, in order.
    pub fn statements(&self) -> impl Iterator<Item = (&str, &[Value])> {
        self.statements
            .iter()
            .map(|(sql, values)| (sql.as_str(), values.as_slice()))
    }
}

/// What the database reports of one statement it ran.
pub trait StatementResult {
    fn rows<T: DeserializeOwned>(&self) -> Result<Vec<T>, AppError>;
    /// The rows the statement changed.
    fn changes(&self) -> Result<usize, AppError>;
}

/// The results of a batch, read through the slots its statements were pushed to.
pub struct Results<S> {
    each: Vec<S>,
}

impl<S: StatementResult> Results<S> {
    pub fn new(each: Vec<S>) -> Self {
        Self { each }
    }

    fn get<R>(&self, slot: Slot<R>) -> Result<&S, AppError> {
        self.each
            .get(slot.index)
            .ok_or_else(|| AppError::internal(format!("batch has no result {}", slot.index)))
    }

    pub fn rows<R: DeserializeOwned>(&self, slot: Slot<R>) -> Result<Vec<R>, AppError> {
        self.get(slot)?.rows()
    }

    pub fn first<R: DeserializeOwned>(&self, slot: Slot<R>) -> Result<Option<R>, AppError> {
        Ok(self.rows(slot)?.into_iter().next())
    }

    /// How many rows the statement returned, whatever their type (a
    /// conditional write's `RETURNING`: did it apply, and to how many).
    pub fn count<R>(&self, slot: Slot<R>) -> Result<usize, AppError> {
        Ok(self.get(slot)?.rows::<IgnoredAny>()?.len())
    }

    /// Whether the statement returned any row.
    pub fn returned<R>(&self, slot: Slot<R>) -> Result<bool, AppError> {
        Ok(self.count(slot)? > 0)
    }

    pub fn changes<R>(&self, slot: Slot<R>) -> Result<usize, AppError> {
        self.get(slot)?.changes()
    }
}

#[cfg(test)]
mod tests {
    use super::super::statement::{int, Written};
    use super::super::testing::Sqlite;
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct N {
        n: i64,
    }

    #[test]
    fn each_result_is_read_through_its_own_slot() {
        let db = Sqlite::empty();
        let mut batch = Batch::new();
        let two: Slot<N> = batch.push(Statement::new("SELECT ?1 AS n", vec![int(2)]));
        let none: Slot<N> = batch.push(Statement::new("SELECT 1 AS n WHERE 0", vec![]));
        let three: Slot<N> = batch.push(Statement::new("SELECT ?1 + 1 AS n", vec![int(2)]));
        let results = db.run(&batch).unwrap();
        assert_eq!(results.first(three).unwrap(), Some(N { n: 3 }));
        assert_eq!(results.rows(two).unwrap(), vec![N { n: 2 }]);
        assert!(!results.returned(none).unwrap());
        assert_eq!(results.count(two).unwrap(), 1);
    }

    #[test]
    fn a_statement_reading_changes_must_follow_the_one_it_reads() {
        let mut batch = Batch::new();
        let first: Slot<Written> = batch.push(Statement::new("SELECT 1", vec![]));
        batch.push::<Written>(Statement::new("SELECT 2", vec![]));
        assert!(batch
            .push_after::<Written, _>(first, Statement::new("SELECT changes()", vec![]))
            .is_err());
        let last: Slot<Written> = batch.push(Statement::new("SELECT 3", vec![]));
        assert!(batch
            .push_after::<Written, _>(last, Statement::new("SELECT changes()", vec![]))
            .is_ok());
        assert_eq!(batch.len(), 4);
    }

    #[test]
    fn changes_count_the_rows_a_write_changed() {
        let db = Sqlite::empty();
        let mut batch = Batch::new();
        batch.push::<Written>(Statement::new("CREATE TABLE t (n INTEGER)", vec![]));
        let insert: Slot<Written> = batch.push(Statement::new(
            "INSERT INTO t (n) VALUES (1), (2), (3)",
            vec![],
        ));
        let delete: Slot<Written> =
            batch.push(Statement::new("DELETE FROM t WHERE n > ?1", vec![int(1)]));
        let results = db.run(&batch).unwrap();
        assert_eq!(results.changes(insert).unwrap(), 3);
        assert_eq!(results.changes(delete).unwrap(), 2);
    }

    #[test]
    fn a_slot_past_the_results_is_an_error_not_a_panic() {
        let mut batch = Batch::new();
        let slot: Slot<N> = batch.push(Statement::new("SELECT 1 AS n", vec![]));
        let results: Results<crate::storage::testing::Outcome> = Results::new(vec![]);
        assert!(results.rows(slot).is_err());
    }
}
