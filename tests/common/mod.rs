//! What the integration tests share: a token issuer like a deployment's.

use allmine_auth::domain::token::{Issuance, KeyMaterial, SigningAlgorithm, TokenKeys};

/// Keys that sign with `algorithm` (a fixed test key), for the issuer and
/// audience a deployment would name.
pub fn issuer_with(algorithm: SigningAlgorithm) -> TokenKeys {
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
