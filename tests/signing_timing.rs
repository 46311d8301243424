//! Native timings of signing and verifying one access token, per algorithm:
//! `cargo test --release --test signing_timing -- --ignored --nocapture`.
//! Ignored by default (timings mean nothing in a debug build or a busy CI).
//! The figures in docs/performance.md ("Signing algorithms") come from here.

use std::time::Instant;

mod common;

use allmine_auth::domain::token::{SigningAlgorithm, Subject, TokenUse};
use chrono::Utc;
use common::issuer_with as keys;

const ROUNDS: u32 = 2000;

#[test]
#[ignore = "a timing, run on demand with --release"]
fn sign_and_verify_timings() {
    let roles = vec!["user".to_string()];
    let subject = Subject {
        user_id: "0190f6a8-7c5e-7d2a-9b1e-3f4a5b6c7d8e",
        session_id: "0190f6a8-7c5e-7d2a-9b1e-3f4a5b6c7d8f",
        roles: &roles,
    };
    let now = Utc::now();
    for algorithm in SigningAlgorithm::ALL {
        let keys = keys(algorithm);
        let started = Instant::now();
        let mut token = String::new();
        for i in 0..ROUNDS {
            token = keys
                .sign(&subject, TokenUse::Access, format!("j{i}"), now)
                .unwrap();
        }
        let sign = started.elapsed() / ROUNDS;
        let started = Instant::now();
        for _ in 0..ROUNDS {
            keys.verify(&token, TokenUse::Access, now).unwrap();
        }
        let verify = started.elapsed() / ROUNDS;
        println!(
            "{:<6} sign {:>7.1} µs  verify {:>7.1} µs  token {} bytes",
            algorithm.jose_name(),
            sign.as_secs_f64() * 1e6,
            verify.as_secs_f64() * 1e6,
            token.len()
        );
    }
}
