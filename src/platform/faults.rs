//! Fault injection, compiled only into test builds (`--features fault-injection`,
//! enabled by `scripts/test.sh`): the production bundle has neither this module
//! nor its routes. A share of D1 calls, KV calls, mail calls and queue sends
//! fail, as set by `POST /__faults` with `{"d1": 0.2, "kv": 0.1, "mail": 0.5,
//! "queue": 1}` (shares from 0 to 1; `{}` stops every fault). Rates live in the isolate, like the config.

use std::cell::RefCell;

use crate::domain::error::AppError;

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Rates {
    pub d1: f64,
    pub kv: f64,
    pub mail: f64,
    /// Sends to the EVENTS queue (the outbox publisher).
    pub queue: f64,
}

thread_local! {
    static RATES: RefCell<Rates> = RefCell::new(Rates::default());
}

pub fn set(rates: Rates) {
    RATES.with(|r| *r.borrow_mut() = rates);
}

pub fn get() -> Rates {
    RATES.with(|r| *r.borrow())
}

/// Fails this call with the configured probability for its kind.
pub fn check(what: &'static str) -> Result<(), AppError> {
    let rates = get();
    let rate = match what {
        "d1" => rates.d1,
        "kv" => rates.kv,
        "mail" => rates.mail,
        "queue" => rates.queue,
        _ => 0.0,
    };
    if rate <= 0.0 {
        return Ok(());
    }
    let mut byte = [0u8; 2];
    getrandom::fill(&mut byte).map_err(|e| AppError::internal(format!("getrandom: {e}")))?;
    let draw = f64::from(u16::from_le_bytes(byte)) / 65_536.0;
    if draw >= rate {
        return Ok(());
    }
    Err(match what {
        "mail" => AppError::Unavailable {
            what: "email provider",
            cause: "injected fault".into(),
        },
        _ => AppError::Internal(format!("{what}: injected fault")),
    })
}
