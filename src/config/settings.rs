//! Reading settings by name, collecting every problem instead of stopping at
//! the first: an operator fixes a deployment in one pass, and `/health` shows
//! the whole list. Problems name settings, never their values (some are secrets).

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// The lookup the edge (or a test) passes, and the problems found so far.
pub(super) struct Settings<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl<'a> Settings<'a> {
    pub(super) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            lookup,
            problems: Vec::new(),
        }
    }

    /// The value as set, blank included.
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    pub(super) fn get_or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.into())
    }

    /// The value unless unset or blank: a secret left empty counts as absent.
    pub(super) fn filled(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    /// A comma-separated list, entries trimmed, empty ones dropped (a trailing
    /// comma is not an entry).
    pub(super) fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub(super) fn require(&mut self, name: &str) -> Option<String> {
        let value = self.filled(name);
        if value.is_none() {
            self.not_set(name);
        }
        value
    }

    /// A whole number within `range`, or `default` when unset (or wrong, which
    /// is reported, so the default never runs).
    pub(super) fn number<T>(&mut self, name: &str, default: T, range: RangeInclusive<T>) -> T
    where
        T: FromStr + PartialOrd + Display + Copy,
    {
        let Some(raw) = self.get(name) else {
            return default;
        };
        match raw.trim().parse::<T>() {
            Ok(value) if range.contains(&value) => value,
            _ => {
                self.problem(format!(
                    "{name} must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ));
                default
            }
        }
    }

    /// One of a few words (`expected` names them); `None` when unset, or when
    /// unknown, which is reported.
    pub(super) fn word<T>(
        &mut self,
        name: &str,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let value = parse(&self.get(name)?);
        if value.is_none() {
            self.problem(format!("{name} must be {expected}"));
        }
        value
    }

    /// A word that has no default: set but blank is a wrong word, not a missing one.
    pub(super) fn require_word<T>(
        &mut self,
        name: &str,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        if self.get(name).is_none() {
            self.not_set(name);
            return None;
        }
        self.word(name, expected, parse)
    }

    /// A domain parser's verdict: its refusal becomes a problem.
    pub(super) fn check<T>(&mut self, parsed: Result<T, String>) -> Option<T> {
        parsed.map_err(|problem| self.problem(problem)).ok()
    }

    pub(super) fn problem(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }

    fn not_set(&mut self, name: &str) {
        self.problem(format!("{name} is not set"));
    }

    /// The value read, if every setting was right; all the problems otherwise.
    pub(super) fn finish<T>(self, value: Option<T>) -> Result<T, Vec<String>> {
        match value {
            Some(value) if self.problems.is_empty() => Ok(value),
            _ => Err(self.problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{base, deployed, load};

    #[test]
    fn every_problem_is_reported_by_name() {
        let mut vars = base();
        vars.remove("JWT_PRIVATE_KEY");
        vars.insert("OTP_LENGTH", "3".into());
        vars.insert("OTP_TTL_SECONDS", "30".into());
        vars.insert("OTP_HASH_KEY", "short".into());
        let problems = load(&vars).err().unwrap();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("OTP_LENGTH")));
        assert!(problems.iter().any(|p| p.starts_with("OTP_TTL_SECONDS")));
        assert!(problems.iter().any(|p| p.starts_with("JWT_PRIVATE_KEY")));
        assert!(problems.iter().any(|p| p.starts_with("OTP_HASH_KEY")));
    }

    /// The problems are shown by `/health`: they name settings, never the
    /// secrets' values.
    #[test]
    fn problems_never_repeat_a_secret() {
        let mut vars = deployed("production");
        let secrets = [
            "not-a-valid-ed25519-seed",
            "too-short-hash-key",
            "re_secret",
        ];
        vars.insert("JWT_PRIVATE_KEY", secrets[0].into());
        vars.insert("OTP_HASH_KEY", secrets[1].into());
        vars.insert("EMAIL_API_KEY", secrets[2].into());
        vars.insert("OTP_LENGTH", "4".into());
        let problems = load(&vars).err().unwrap();
        assert_eq!(problems.len(), 3, "{problems:?}");
        for problem in &problems {
            for secret in secrets {
                assert!(!problem.contains(secret), "{problem}");
            }
        }
    }
}
