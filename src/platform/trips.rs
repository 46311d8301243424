//! Storage round trips of one request, counted where they happen (D1, KV,
//! mail, the rate limiter) and reported in the request's log line, so the
//! benchmark and the latency model count the same thing. `sequential` is the
//! number of waits on the critical path: calls that overlap (run side by
//! side with `join!`) count once.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde::Serialize;

#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
pub struct Counts {
    pub kv: u32,
    pub d1: u32,
    pub mail: u32,
    pub limiter: u32,
    pub challenge: u32,
    pub sequential: u32,
    /// Test builds only (the capacity figures): what D1 reports it spent on
    /// this request's statements, in milliseconds, and the rows they wrote.
    #[cfg(feature = "fault-injection")]
    pub d1_ms: f64,
    #[cfg(feature = "fault-injection")]
    pub d1_rows_written: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Kv,
    D1,
    Mail,
    Limiter,
    Challenge,
}

/// Shared by every storage handle of one request.
#[derive(Debug, Clone, Default)]
pub struct Trips {
    counts: Rc<Cell<Counts>>,
    in_flight: Rc<Cell<u32>>,
    /// The critical path as the latency model reads it (`waits` in the log line): waits in order,
    /// separated by `>`, each naming what ran side by side (`kv+limiter>d1`).
    path: Rc<RefCell<String>>,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Kv => "kv",
            Self::D1 => "d1",
            Self::Mail => "mail",
            Self::Limiter => "limiter",
            Self::Challenge => "challenge",
        }
    }
}

/// Ends its call's trip when dropped (also when the call fails or is abandoned).
pub struct InFlight {
    in_flight: Rc<Cell<u32>>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.in_flight.set(self.in_flight.get().saturating_sub(1));
    }
}

impl Trips {
    /// Marks the start of a call; hold the guard until it has answered.
    pub fn start(&self, kind: Kind) -> InFlight {
        let mut counts = self.counts.get();
        match kind {
            Kind::Kv => counts.kv += 1,
            Kind::D1 => counts.d1 += 1,
            Kind::Mail => counts.mail += 1,
            Kind::Limiter => counts.limiter += 1,
            Kind::Challenge => counts.challenge += 1,
        }
        let mut path = self.path.borrow_mut();
        if self.in_flight.get() == 0 {
            counts.sequential += 1;
            if !path.is_empty() {
                path.push('>');
            }
        } else {
            path.push('+');
        }
        path.push_str(kind.name());
        self.counts.set(counts);
        self.in_flight.set(self.in_flight.get() + 1);
        InFlight {
            in_flight: self.in_flight.clone(),
        }
    }

    /// Adds D1's own account of a statement (test builds measure capacity with it).
    #[cfg(feature = "fault-injection")]
    pub fn d1_spent(&self, duration_ms: f64, rows_written: u32) {
        let mut counts = self.counts.get();
        counts.d1_ms += duration_ms;
        counts.d1_rows_written += rows_written;
        self.counts.set(counts);
    }

    pub fn counts(&self) -> Counts {
        self.counts.get()
    }

    pub fn path(&self) -> String {
        self.path.borrow().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_calls_are_one_sequential_trip() {
        let trips = Trips::default();
        let kv = trips.start(Kind::Kv);
        let limiter = trips.start(Kind::Limiter);
        drop(kv);
        drop(limiter);
        let d1 = trips.start(Kind::D1);
        drop(d1);
        assert_eq!(trips.path(), "kv+limiter>d1");
        let counts = trips.counts();
        assert_eq!(
            (
                counts.kv,
                counts.d1,
                counts.limiter,
                counts.mail,
                counts.sequential
            ),
            (1, 1, 1, 0, 2)
        );
    }
}
