//! Token validation on arbitrary input: must never panic and never accept a
//! token this key did not sign.
#![no_main]

use allmine_auth::domain::token::{Issuance, KeyMaterial, TokenKeys, TokenUse};
use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;

const SEED: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let keys = TokenKeys::new(
        KeyMaterial {
            signing_key: SEED,
            ..KeyMaterial::default()
        },
        Issuance {
            issuer: "iss".into(),
            audience: "aud".into(),
            client_id: "client".into(),
            scope: "allmine".into(),
        },
    )
    .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    for token_use in [TokenUse::Access, TokenUse::Refresh] {
        // Random input cannot carry a valid Ed25519 signature by this key.
        assert!(keys.verify(token, token_use, now).is_err());
    }
});
