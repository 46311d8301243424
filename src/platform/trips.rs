//! Storage round trips of one request, counted where they happen (D1, KV,
//! mail, the rate limiter) and reported in the request's log line, so the
//! benchmark and the latency model count the same thing. `sequential` is the
//! number of waits on the critical path: calls that overlap (run side by
//! side with `join!`) count once.

use std::cell::Cell;
use std::rc::Rc;

use serde::Serialize;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub kv: u32,
    pub d1: u32,
    pub mail: u32,
    pub limiter: u32,
    pub sequential: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Kv,
    D1,
    Mail,
    Limiter,
}

/// Shared by every storage handle of one request.
#[derive(Debug, Clone, Default)]
pub struct Trips {
    counts: Rc<Cell<Counts>>,
    in_flight: Rc<Cell<u32>>,
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
        }
        if self.in_flight.get() == 0 {
            counts.sequential += 1;
        }
        self.counts.set(counts);
        self.in_flight.set(self.in_flight.get() + 1);
        InFlight {
            in_flight: self.in_flight.clone(),
        }
    }

    pub fn counts(&self) -> Counts {
        self.counts.get()
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
        assert_eq!(
            trips.counts(),
            Counts {
                kv: 1,
                d1: 1,
                mail: 0,
                limiter: 1,
                sequential: 2
            }
        );
    }
}
