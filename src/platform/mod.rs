//! The Workers platform, below the edge and the storage: bindings and the
//! per-isolate configuration, one idiom for platform errors, the JSON log
//! line, and (test builds only) fault injection. `http`, `storage` and `jobs`
//! all stand on this; `domain` never sees it.

pub mod bindings;
#[cfg(feature = "fault-injection")]
pub mod faults;
pub mod log;
pub mod outbound;
pub mod trips;

use std::fmt::Display;

use crate::domain::error::AppError;

/// `.context("what")` on any platform result: the failure becomes an internal
/// error that names the operation it interrupted (for the log, never the caller).
pub trait Context<T> {
    fn context(self, what: &'static str) -> Result<T, AppError>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn context(self, what: &'static str) -> Result<T, AppError> {
        self.map_err(|err| AppError::Internal(format!("{what}: {err}")))
    }
}

/// Test builds inject failures here; release builds compile it to nothing.
#[inline]
pub fn fault(_what: &'static str) -> Result<(), AppError> {
    #[cfg(feature = "fault-injection")]
    faults::check(_what)?;
    Ok(())
}
