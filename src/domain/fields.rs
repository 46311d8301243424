//! Reading a JSON object body field by field. Problems are collected, so one
//! answer lists every bad field rather than the first.

use serde_json::{Map, Value};

use super::error::AppError;

/// A field of a partial update: left alone, cleared with `null`, or set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patch<T> {
    Absent,
    Clear,
    Set(T),
}

/// Parses one JSON value; the message follows the field name ("must be …").
pub type Parser<'a, T> = &'a dyn Fn(&Value) -> Result<T, String>;

pub struct Fields {
    object: Map<String, Value>,
    problems: Vec<String>,
}

impl Fields {
    pub fn parse(body: &[u8]) -> Result<Self, AppError> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => Ok(Self {
                object,
                problems: Vec::new(),
            }),
            Ok(_) => Err(AppError::validation("body must be a JSON object")),
            Err(_) => Err(AppError::validation("body must be valid JSON")),
        }
    }

    pub fn required<T>(&mut self, name: &str, parse: Parser<'_, T>) -> Option<T> {
        match self.object.get(name) {
            None | Some(Value::Null) => {
                self.problems.push(format!("{name} is required"));
                None
            }
            Some(value) => run(&mut self.problems, name, parse, value),
        }
    }

    /// `Some(None)` when absent or null, `None` when present but invalid.
    pub fn optional<T>(&mut self, name: &str, parse: Parser<'_, T>) -> Option<Option<T>> {
        match self.object.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(value) => run(&mut self.problems, name, parse, value).map(Some),
        }
    }

    /// `None` when present but invalid.
    pub fn patch<T>(&mut self, name: &str, parse: Parser<'_, T>) -> Option<Patch<T>> {
        match self.object.get(name) {
            None => Some(Patch::Absent),
            Some(Value::Null) => Some(Patch::Clear),
            Some(value) => run(&mut self.problems, name, parse, value).map(Patch::Set),
        }
    }

    /// Refuses every field not in `allowed` (for updates, where a typo or a
    /// protected field must not pass silently).
    pub fn only(&mut self, allowed: &[&str]) {
        let refused: Vec<String> = self
            .object
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .map(|k| format!("{k} cannot be changed here"))
            .collect();
        self.problems.extend(refused);
    }

    pub fn problem(&mut self, message: impl Into<String>) {
        self.problems.push(message.into());
    }

    /// The parsed values, or every problem found. A field is `None` only after
    /// it recorded a problem, so the `Internal` arm is unreachable by construction.
    pub fn finish<T>(self, parsed: Option<T>) -> Result<T, AppError> {
        match parsed {
            Some(value) if self.problems.is_empty() => Ok(value),
            _ if !self.problems.is_empty() => Err(AppError::Validation(self.problems)),
            _ => Err(AppError::internal(
                "a request field failed without a message",
            )),
        }
    }
}

fn run<T>(
    problems: &mut Vec<String>,
    name: &str,
    parse: Parser<'_, T>,
    value: &Value,
) -> Option<T> {
    parse(value)
        .map_err(|why| problems.push(format!("{name} {why}")))
        .ok()
}

/// A string of at most `max` characters, trimmed; empty is refused.
pub fn text(max: usize) -> impl Fn(&Value) -> Result<String, String> {
    move |value| match value {
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() {
                Err("must not be empty".into())
            } else if s.chars().count() > max {
                Err(format!("must be at most {max} characters"))
            } else if s.chars().any(|c| c.is_control() && c != '\n') {
                Err("must not contain control characters".into())
            } else {
                Ok(s.to_owned())
            }
        }
        _ => Err("must be a string".into()),
    }
}

/// A string passed to `parse` untouched (for values with their own grammar).
pub fn raw_string<T>(
    parse: impl Fn(&str) -> Result<T, String>,
) -> impl Fn(&Value) -> Result<T, String> {
    move |value| match value {
        Value::String(s) => parse(s),
        _ => Err("must be a string".into()),
    }
}

pub fn boolean(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| "must be true or false".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_tells_absent_null_and_value_apart() {
        let mut f = Fields::parse(br#"{"a":null,"b":"x"}"#).unwrap();
        let t = text(5);
        assert_eq!(f.patch("a", &t), Some(Patch::Clear));
        assert_eq!(f.patch("b", &t), Some(Patch::Set("x".into())));
        assert_eq!(f.patch("c", &t), Some(Patch::Absent));
        assert!(f.finish(Some(())).is_ok());
    }

    #[test]
    fn only_refuses_other_fields() {
        let mut f = Fields::parse(br#"{"bio":"x","roles":["admin"]}"#).unwrap();
        f.only(&["bio"]);
        assert_eq!(
            f.finish(Some(())),
            Err(AppError::Validation(vec![
                "roles cannot be changed here".into()
            ]))
        );
    }

    #[test]
    fn text_trims_and_limits() {
        let t = text(3);
        assert_eq!(t(&Value::from(" ab ")), Ok("ab".into()));
        assert!(t(&Value::from("abcd")).is_err());
        assert!(t(&Value::from("  ")).is_err());
        assert!(t(&Value::from("a\u{0}")).is_err());
        assert!(t(&Value::from(1)).is_err());
    }
}
