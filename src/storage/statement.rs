//! A statement as plain data: its SQL and the values bound to it, with the
//! type of the rows it returns. Nothing here knows of D1, so the SQL of every
//! table and unit of work can be run against SQLite in native tests; the D1
//! handle (`d1`) binds the values only when it runs the statement.

use std::fmt;
use std::marker::PhantomData;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    /// D1 binds JavaScript numbers: integers are exact up to 2^53.
    Int(i64),
    Null,
}

pub(crate) fn int(n: i64) -> Value {
    Value::Int(n)
}

pub(crate) fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// Text, or SQL NULL when absent.
pub(crate) fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, text)
}

/// A placeholder bound by `Params::bind`; it prints as `?N`, so SQL composed
/// from several fragments never numbers its parameters by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param(usize);

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "?{}", self.0)
    }
}

/// The values of one statement, numbered in the order they are bound.
#[derive(Debug, Default)]
pub struct Params {
    values: Vec<Value>,
}

impl Params {
    /// Binds `value` and returns its placeholder.
    pub fn bind(&mut self, value: Value) -> Param {
        self.values.push(value);
        Param(self.values.len())
    }

    /// Binds each value, in order.
    pub fn bind_all<const N: usize>(&mut self, values: [Value; N]) -> [Param; N] {
        values.map(|v| self.bind(v))
    }
}

/// One SQL statement and its values; `R` is the type of the rows it returns
/// (`Written` for a write whose rows nobody reads).
#[derive(Debug)]
pub struct Statement<R> {
    pub(crate) sql: String,
    pub(crate) values: Vec<Value>,
    rows: PhantomData<fn() -> R>,
}

/// The rows of a statement that nobody reads; only whether it returned any
/// (a conditional write's `RETURNING`) or how many rows it changed.
#[derive(Debug, serde::Deserialize)]
pub struct Written {}

impl<R> Statement<R> {
    /// A statement whose SQL numbers its own placeholders (`?1` ...), for
    /// SQL written in one piece.
    pub fn new(sql: impl Into<String>, values: Vec<Value>) -> Self {
        Self {
            sql: sql.into(),
            values,
            rows: PhantomData,
        }
    }

    /// A statement composed from fragments: `build` binds each value as it
    /// writes it (`Params::bind`) and returns the SQL.
    pub fn compose(build: impl FnOnce(&mut Params) -> String) -> Self {
        let mut params = Params::default();
        let sql = build(&mut params);
        Self::new(sql, params.values)
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn values(&self) -> &[Value] {
        &self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composed_placeholders_follow_the_order_of_binding() {
        let statement: Statement<Written> = Statement::compose(|p| {
            let [a, b] = p.bind_all([text("x"), int(2)]);
            let c = p.bind(Value::Null);
            format!("SELECT {a}, {b}, {c}, {a}")
        });
        assert_eq!(statement.sql(), "SELECT ?1, ?2, ?3, ?1");
        assert_eq!(statement.values(), &[text("x"), int(2), Value::Null]);
    }

    #[test]
    fn opt_text_is_null_when_absent() {
        assert_eq!(opt_text(None), Value::Null);
        assert_eq!(opt_text(Some("a")), text("a"));
    }
}
