//! The Rust example in `docs/integrating.md` of another service verifying our
//! access tokens with `jwt-compact`, run against tokens and a JWK Set this
//! crate produces. Keep the two in step: the code between the markers is the
//! document's.

mod common;

use allmine_auth::domain::token::{SigningAlgorithm, Subject, TokenKeys, TokenUse};
use chrono::Utc;
use common::issuer_with;

// --- docs/integrating.md example start
// jwt-compact with the features `ed25519-dalek` and `p256` (for ES256).
use jwt_compact::{
    alg::{Ed25519, Es256},
    jwk::JsonWebKey,
    AlgorithmExt, TimeOptions, Token, UntrustedToken,
};
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
    if header.token_type.as_deref() != Some("at+jwt") {
        return Err("not one of our access tokens".into());
    }
    let kid = header.key_id.as_deref().ok_or("no kid")?;
    // An unknown kid: fetch the key set again (a new key may be signing), once.
    let jwk = keys
        .keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or("unknown key")?;
    // The allow-list: EdDSA or ES256 (the service signs with one, both during
    // a switch), each only with a key of its own type (`try_from` refuses an
    // EC key for EdDSA and an OKP key for ES256).
    let token: Token<AccessClaims> = match token.algorithm() {
        "EdDSA" => {
            let key = ed25519_dalek::VerifyingKey::try_from(&jwk.key).map_err(|e| e.to_string())?;
            Ed25519.validator(&key).validate(&token)
        }
        "ES256" => {
            let key = p256::ecdsa::VerifyingKey::try_from(&jwk.key).map_err(|e| e.to_string())?;
            Es256.validator(&key).validate(&token)
        }
        _ => return Err("not one of our access tokens".into()),
    }
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
    issuer_with(SigningAlgorithm::EdDsa)
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
fn the_documented_example_accepts_es256_access_tokens() {
    let keys = issuer_with(SigningAlgorithm::Es256);
    let claims = verify_access_token(&signed(&keys, TokenUse::Access), &served_key_set(&keys))
        .expect("an ES256 access token verifies");
    assert_eq!(claims.sub, "u1");
}

#[test]
fn the_documented_example_refuses_an_alg_its_key_does_not_have() {
    let ed = issuer();
    let ec = issuer_with(SigningAlgorithm::Es256);
    // The EdDSA token relabelled ES256, its kid pointing at the EC key: the
    // EC key set has the kid, but the key never checks a foreign algorithm.
    let token = signed(&ed, TokenUse::Access);
    let header = format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{}"}}"#, ec.kid());
    use base64ct::{Base64UrlUnpadded, Encoding};
    let relabelled = format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(header.as_bytes()),
        token.split_once('.').unwrap().1
    );
    assert!(verify_access_token(&relabelled, &served_key_set(&ec)).is_err());
    let header = format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{}"}}"#, ec.kid());
    let relabelled = format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(header.as_bytes()),
        token.split_once('.').unwrap().1
    );
    let refused = verify_access_token(&relabelled, &served_key_set(&ec)).err();
    assert!(refused.unwrap().contains("key type"));
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
