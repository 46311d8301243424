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
        match serde_json::from_slice::<TopLevel>(body) {
            Ok(TopLevel::Object(object)) => Ok(Self {
                object,
                problems: Vec::new(),
            }),
            Ok(TopLevel::Other) => Err(AppError::validation("body must be a JSON object")),
            Err(e) if e.to_string().starts_with(DUPLICATE) => {
                Err(AppError::validation("body must not repeat a field"))
            }
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

    /// Whether the field is absent or null.
    pub fn absent(&self, name: &str) -> bool {
        matches!(self.object.get(name), None | Some(Value::Null))
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

const DUPLICATE: &str = "duplicate field";

/// A body's top level. Objects are read key by key so that a repeated key is an
/// error: parsers disagree on which copy wins, and a proxy and this service
/// must never read two different requests out of one body.
enum TopLevel {
    Object(Map<String, Value>),
    Other,
}

impl<'de> serde::Deserialize<'de> for TopLevel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = TopLevel;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<TopLevel, A::Error> {
                let mut object = Map::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    if object.contains_key(&key) {
                        return Err(serde::de::Error::custom(format!("{DUPLICATE} {key}")));
                    }
                    object.insert(key, value);
                }
                Ok(TopLevel::Object(object))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<TopLevel, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(TopLevel::Other)
            }

            fn visit_bool<E>(self, _: bool) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
            fn visit_unit<E>(self) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
        }

        deserializer.deserialize_any(Visitor)
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
            } else if let Some(c) = s.chars().find(|&c| is_invisible(c)) {
                Err(invisible_message(c))
            } else {
                Ok(s.to_owned())
            }
        }
        _ => Err("must be a string".into()),
    }
}

/// Characters that change how text around them is shown without showing
/// themselves: bidirectional controls (which can make `gpj.exe` read as
/// `exe.jpg`, or reorder a name shown next to someone else's) and zero-width
/// characters (which make two different names look the same).
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}'   // embeddings and overrides
        | '\u{2066}'..='\u{2069}' // isolates
        | '\u{200E}' | '\u{200F}' | '\u{061C}' // direction marks
        | '\u{200B}'..='\u{200D}' // zero-width space, non-joiner, joiner
        | '\u{2060}' | '\u{FEFF}' // word joiner, byte-order mark
    )
}

/// The refusal of an invisible character, naming it by code point.
pub fn invisible_message(c: char) -> String {
    format!(
        "must not contain invisible or text-direction characters (found U+{:04X})",
        u32::from(c)
    )
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
    fn repeated_fields_are_refused() {
        let err = Fields::parse(br#"{"email":"a@b.co","email":"c@d.co"}"#).err();
        assert_eq!(
            err,
            Some(AppError::validation("body must not repeat a field"))
        );
        assert!(Fields::parse(br#"{"a":{"b":1,"c":2},"d":[1,1]}"#).is_ok());
        for other in [&b"[1,2]"[..], b"null", b"1", b"\"x\"", b"true"] {
            assert_eq!(
                Fields::parse(other).err(),
                Some(AppError::validation("body must be a JSON object"))
            );
        }
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
    fn text_refuses_bidi_controls_and_zero_width_characters() {
        let t = text(100);
        let refused = [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{200B}', '\u{200C}',
            '\u{200D}', '\u{2060}', '\u{FEFF}',
        ];
        for c in refused {
            // Inside, and at either end (trimming must not be what removes it).
            for s in [format!("ab{c}cd"), format!("{c}abcd"), format!("abcd{c}")] {
                assert_eq!(
                    t(&Value::from(s.as_str())),
                    Err(format!(
                        "must not contain invisible or text-direction characters (found U+{:04X})",
                        u32::from(c)
                    )),
                    "{s:?}"
                );
            }
        }
        // Their neighbours, and ordinary right-to-left and accented text, pass.
        for ok in [
            "\u{2029}x",
            "\u{2070}",
            "\u{202F}x",
            "مرحبا",
            "שלום",
            "Çağrı",
            "日本語",
            "a\nb",
        ] {
            assert!(t(&Value::from(ok)).is_ok(), "{ok:?}");
        }
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
