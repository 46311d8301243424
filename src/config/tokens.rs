//! The secrets behind codes and tokens: the hash key the purpose keys derive
//! from, and the signing key with the public keys a rotation publishes.

use super::settings::Settings;
use super::Environment;
use crate::domain::keys::PurposeKeys;
use crate::domain::token::{
    validate_scope, Issuance, KeyMaterial, SigningAlgorithm, TokenKeys, DEFAULT_ACCESS_SCOPE,
};

const MIN_HASH_KEY_LEN: usize = 32;

pub(super) fn purpose_keys(s: &mut Settings) -> PurposeKeys {
    let hash_key = s.require("OTP_HASH_KEY").unwrap_or_default();
    if !hash_key.is_empty() && hash_key.len() < MIN_HASH_KEY_LEN {
        s.problem(format!(
            "OTP_HASH_KEY must be at least {MIN_HASH_KEY_LEN} characters"
        ));
    }
    // Earlier secrets keep the deleted-account markers they wrote recognisable.
    let previous = s.list("OTP_HASH_KEY_PREVIOUS");
    let previous: Vec<&[u8]> = previous.iter().map(String::as_bytes).collect();
    PurposeKeys::derive(hash_key.as_bytes(), &previous)
}

pub(super) fn token_keys(s: &mut Settings, environment: Option<&Environment>) -> Option<TokenKeys> {
    let issuance = Issuance {
        issuer: s.get_or("JWT_ISSUER", "allmine-auth"),
        audience: s.get_or("JWT_AUDIENCE", "allmine"),
        client_id: s.get_or("TOKEN_CLIENT_ID", "allmine-app"),
        scope: s.get_or("JWT_ACCESS_SCOPE", DEFAULT_ACCESS_SCOPE),
    };
    if let Err(rule) = validate_scope(&issuance.scope) {
        s.problem(format!("JWT_ACCESS_SCOPE must be {rule}"));
    }
    // Verifiers find the keys at the issuer's URL (the discovery document
    // and the JWK Set); a deployed one fetched over plain HTTP could be fed
    // keys by anyone on the path.
    let deployed = environment.is_some_and(Environment::is_deployed);
    if deployed && !is_https_url(&issuance.issuer) {
        s.problem("JWT_ISSUER must be an https URL when deployed");
    }
    // The metadata and the JWK Set are served only at the root; an issuer
    // with a path would have verifiers look for them under it (RFC 8414 §3.1,
    // OpenID Discovery §4) and find nothing.
    if has_path(&issuance.issuer) {
        s.problem(
            "JWT_ISSUER must have no path (only the origin, e.g. https://auth.allmine.app): \
             the metadata and the JWK Set are served at the root's /.well-known/",
        );
    }
    let next = s.filled("JWT_NEXT_PUBLIC_KEY");
    let previous = s.list("JWT_PREVIOUS_PUBLIC_KEYS");
    let previous: Vec<&str> = previous.iter().map(String::as_str).collect();
    // Unset: EdDSA. Wrong: reported, and no key is asked for (which one
    // would be is unknown).
    let algorithm = match s.get("JWT_ALGORITHM") {
        None => SigningAlgorithm::default(),
        Some(_) => s.word("JWT_ALGORITHM", "EdDSA or ES256", |v| {
            SigningAlgorithm::from_jose_name(v.trim())
        })?,
    };
    // Each algorithm has its own secret, so switching is one deploy of
    // JWT_ALGORITHM once the new key is in place and published.
    let setting = algorithm.private_key_setting();
    let Some(signing_key) = s.filled(setting) else {
        s.problem(match algorithm {
            SigningAlgorithm::EdDsa => format!("{setting} is not set"),
            SigningAlgorithm::Es256 => format!("{setting} is not set (JWT_ALGORITHM is ES256)"),
        });
        return None;
    };
    let keys = KeyMaterial {
        algorithm,
        signing_key: &signing_key,
        next_public: next.as_deref(),
        previous_public: &previous,
    };
    s.check(TokenKeys::new(keys, issuance).map_err(|e| e.0))
}

/// An absolute https URL with a host and no query or fragment (OpenID
/// Discovery's rule for an issuer).
fn is_https_url(value: &str) -> bool {
    let Some(rest) = value.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or_default();
    !host.is_empty()
        && !host.contains('@')
        && !rest.contains(['?', '#'])
        && !rest.contains(char::is_whitespace)
}

/// An http(s) URL whose path is more than `/`.
fn has_path(value: &str) -> bool {
    let Some(rest) = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
    else {
        return false;
    };
    let path = rest.find('/').map_or("", |slash| &rest[slash..]);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    !path.is_empty() && path != "/"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{base, deployed, load};

    #[test]
    fn a_deployed_issuer_must_be_an_https_url() {
        let mut vars = base();
        vars.insert("JWT_ISSUER", "http://127.0.0.1:8787".into());
        assert!(load(&vars).is_ok(), "plain http is fine locally");
        let mut vars = deployed("development");
        for issuer in [
            "http://auth-dev.allmine.app",
            "auth-dev.allmine.app",
            "allmine-auth",
            "https://",
            "https://auth.allmine.app?x=1",
            "https://user@auth.allmine.app",
        ] {
            vars.insert("JWT_ISSUER", issuer.into());
            assert_eq!(
                load(&vars).err(),
                Some(vec![
                    "JWT_ISSUER must be an https URL when deployed".to_string()
                ]),
                "{issuer}"
            );
        }
        vars.insert("JWT_ISSUER", "https://auth-dev.allmine.app".into());
        assert!(load(&vars).is_ok());
    }

    #[test]
    fn an_issuer_with_a_path_is_refused_wherever_it_runs() {
        for issuer in [
            "https://auth.allmine.app/tenant",
            "https://auth.allmine.app/tenant/",
            "https://auth.allmine.app//",
        ] {
            let mut vars = deployed("development");
            vars.insert("JWT_ISSUER", issuer.into());
            let problems = load(&vars).err().unwrap_or_default();
            assert_eq!(problems.len(), 1, "{issuer}: {problems:?}");
            assert!(
                problems[0].starts_with("JWT_ISSUER must have no path"),
                "{problems:?}"
            );
        }
        let mut vars = base();
        vars.insert("JWT_ISSUER", "http://127.0.0.1:8787/auth".into());
        assert!(load(&vars).is_err(), "locally too");
        for issuer in ["https://auth.allmine.app", "https://auth.allmine.app/"] {
            let mut vars = deployed("development");
            vars.insert("JWT_ISSUER", issuer.into());
            assert!(load(&vars).is_ok(), "{issuer}");
        }
    }

    #[test]
    fn the_next_key_and_the_client_id_are_read() {
        let mut vars = base();
        vars.insert("TOKEN_CLIENT_ID", "allmine-web".into());
        // RFC 8037's example public key (not the signing key's).
        vars.insert(
            "JWT_NEXT_PUBLIC_KEY",
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into(),
        );
        let config = load(&vars).ok().unwrap();
        assert_eq!(config.tokens.issuance.client_id, "allmine-web");
        assert_eq!(config.tokens.jwk_set().keys.len(), 2);
        vars.insert("JWT_NEXT_PUBLIC_KEY", "not a key".into());
        let problems = load(&vars).err().unwrap();
        assert!(
            problems[0].starts_with("JWT_NEXT_PUBLIC_KEY"),
            "{problems:?}"
        );
    }

    #[test]
    fn the_algorithm_picks_its_own_secret() {
        let mut vars = base();
        assert_eq!(
            load(&vars).ok().unwrap().tokens.algorithm(),
            SigningAlgorithm::EdDsa
        );
        vars.insert("JWT_ALGORITHM", "ES256".into());
        assert_eq!(
            load(&vars).err().unwrap(),
            ["JWT_ES256_PRIVATE_KEY is not set (JWT_ALGORITHM is ES256)"]
        );
        // A P-256 scalar (the same bytes as base()'s seed, a valid one).
        vars.insert(
            "JWT_ES256_PRIVATE_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".into(),
        );
        vars.remove("JWT_PRIVATE_KEY");
        let config = load(&vars).ok().unwrap();
        assert_eq!(config.tokens.algorithm(), SigningAlgorithm::Es256);
        assert_eq!(config.tokens.jwk_set().keys[0].kty, "EC");
        for wrong in ["es256", "RS256", "HS256", "none", ""] {
            vars.insert("JWT_ALGORITHM", wrong.into());
            assert_eq!(
                load(&vars).err().unwrap(),
                ["JWT_ALGORITHM must be EdDSA or ES256"],
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn the_access_scope_is_validated() {
        let mut vars = base();
        assert_eq!(
            load(&vars).ok().unwrap().tokens.issuance.scope,
            DEFAULT_ACCESS_SCOPE
        );
        vars.insert("JWT_ACCESS_SCOPE", "allmine openid".into());
        assert_eq!(
            load(&vars).ok().unwrap().tokens.issuance.scope,
            "allmine openid"
        );
        for wrong in ["", "a  b", "a\"b"] {
            vars.insert("JWT_ACCESS_SCOPE", wrong.into());
            let problems = load(&vars).err().unwrap();
            assert!(
                problems[0].starts_with("JWT_ACCESS_SCOPE must be"),
                "{problems:?}"
            );
        }
    }
}
