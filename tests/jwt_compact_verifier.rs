//! The Rust example in `docs/integrating.md` of another service verifying our
//! access tokens with `jwt-compact`, run against tokens and a JWK Set this
//! crate produces. Keep the two in step: the code between the markers is the
//! document's.

use allmine_auth::domain::token::{Issuance, KeyMaterial, Subject, TokenKeys, TokenUse};
use chrono::Utc;

// --- docs/integrating.md example start
use ed25519_compact::PublicKey;
use jwt_compact::{alg::Ed25519, jwk::JsonWebKey, AlgorithmExt, TimeOptions, UntrustedToken};
use serde::Deserialize;

/// `GET https://auth.allmine.app/.well-known/jwks.json`, cached (it says for how long).
#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: String,
    #[serde(flatten)]
    key: JsonWebKey<'static>,
}

#[derive(Clone, Deserialize)]
struct AccessClaims {
    iss: String,
    aud: String,
    sub: String,
    client_id: String,
    sid: String,
    roles: Vec<String>,
}

fn verify_access_token(token: &str, keys: &JwkSet) -> Result<AccessClaims, String> {
    const ISSUER: &str = "https://auth.allmine.app";
    let token = UntrustedToken::new(token).map_err(|e| e.to_string())?;
    let header = token.header();
    if token.algorithm() != "EdDSA" || header.token_type.as_deref() != Some("at+jwt") {
        return Err("not one of our access tokens".into());
    }
    let kid = header.key_id.as_deref().ok_or("no kid")?;
    // An unknown kid: fetch the key set again (a new key may be signing), once.
    let jwk = keys
        .keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or("unknown key")?;
    let key = PublicKey::try_from(&jwk.key).map_err(|e| e.to_string())?;
    let token = Ed25519
        .validator::<AccessClaims>(&key)
        .validate(&token)
        .map_err(|e| e.to_string())?;
    let claims = token.claims();
    claims
        .validate_expiration(&TimeOptions::new(
            chrono::Duration::seconds(30),
            chrono::Utc::now,
        ))
        .map_err(|e| e.to_string())?;
    if claims.custom.iss != ISSUER || claims.custom.aud != "allmine" {
        return Err("token for another service".into());
    }
    Ok(claims.custom.clone())
}
// --- docs/integrating.md example end

fn issuer() -> TokenKeys {
    TokenKeys::new(
        KeyMaterial {
            signing_seed: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            ..KeyMaterial::default()
        },
        Issuance {
            issuer: "https://auth.allmine.app".into(),
            audience: "allmine".into(),
            client_id: "allmine-app".into(),
        },
    )
    .unwrap()
}

fn signed(keys: &TokenKeys, token_use: TokenUse) -> String {
    let roles = vec!["user".to_string()];
    let subject = Subject {
        user_id: "u1",
        session_id: "s1",
        roles: &roles,
    };
    keys.sign(&subject, token_use, "j1".into(), Utc::now())
        .unwrap()
}

/// The key set exactly as the worker serves it.
fn served_key_set(keys: &TokenKeys) -> JwkSet {
    serde_json::from_str(&serde_json::to_string(&keys.jwk_set()).unwrap()).unwrap()
}

#[test]
fn the_documented_example_accepts_access_tokens() {
    let keys = issuer();
    let claims = verify_access_token(&signed(&keys, TokenUse::Access), &served_key_set(&keys))
        .expect("an access token verifies");
    assert_eq!(claims.sub, "u1");
    assert_eq!(claims.sid, "s1");
    assert_eq!(claims.client_id, "allmine-app");
    assert_eq!(claims.roles, vec!["user"]);
}

#[test]
fn the_documented_example_refuses_refresh_tokens() {
    let keys = issuer();
    assert_eq!(
        verify_access_token(&signed(&keys, TokenUse::Refresh), &served_key_set(&keys)).err(),
        Some("not one of our access tokens".to_string())
    );
}

#[test]
fn the_integration_guide_shows_this_example() {
    const START: &str = "// --- docs/integrating.md example start\n";
    const END: &str = "// --- docs/integrating.md example end";
    let source = include_str!("jwt_compact_verifier.rs");
    let start = source.find(START).unwrap() + START.len();
    let end = source.find(END).unwrap();
    let example = &source[start..end];
    assert!(
        include_str!("../docs/integrating.md").contains(example),
        "docs/integrating.md's jwt-compact example differs from tests/jwt_compact_verifier.rs"
    );
}
