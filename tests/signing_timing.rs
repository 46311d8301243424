//! Native timings of signing and verifying one access token, per algorithm:
//! `cargo test --release --test signing_timing -- --ignored --nocapture`.
//! Ignored by default (timings mean nothing in a debug build or a busy CI).
//! The figures in docs/performance.md ("Signing algorithms") come from here.

use std::time::Instant;

use allmine_auth::domain::token::{
    Issuance, KeyMaterial, SigningAlgorithm, Subject, TokenKeys, TokenUse,
};
use chrono::Utc;

const ROUNDS: u32 = 2000;

fn keys(algorithm: SigningAlgorithm) -> TokenKeys {
    TokenKeys::new(
        KeyMaterial {
            algorithm,
            signing_key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            ..KeyMaterial::default()
        },
        Issuance {
            issuer: "https://auth.allmine.app".into(),
            audience: "allmine".into(),
            client_id: "allmine-app".into(),
            scope: "allmine".into(),
        },
    )
    .unwrap()
}

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
