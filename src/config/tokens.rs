//! The secrets behind codes and tokens: the hash key the purpose keys derive
//! from, and the signing key with the public keys a rotation publishes.

use super::settings::Settings;
use super::Environment;
use crate::domain::keys::PurposeKeys;
use crate::domain::token::{Issuance, KeyMaterial, TokenKeys};

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
    };
    // Verifiers find the keys at the issuer's URL (the discovery document
    // and the JWK Set); a deployed one fetched over plain HTTP could be fed
    // keys by anyone on the path.
    let deployed = environment.is_some_and(Environment::is_deployed);
    if deployed && !is_https_url(&issuance.issuer) {
        s.problem("JWT_ISSUER must be an https URL when deployed");
    }
    let next = s.filled("JWT_NEXT_PUBLIC_KEY");
    let previous = s.list("JWT_PREVIOUS_PUBLIC_KEYS");
    let previous: Vec<&str> = previous.iter().map(String::as_str).collect();
    let seed = s.require("JWT_PRIVATE_KEY")?;
    let keys = KeyMaterial {
        signing_seed: &seed,
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

#[cfg(test)]
mod tests {
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
}
