//! The OpenID Provider metadata document (`/.well-known/openid-configuration`),
//! reduced to what key discovery needs. This service is not an OpenID provider:
//! it has no authorization endpoint and issues no ID tokens. Libraries and
//! gateways that locate keys through discovery (the usual way to configure
//! them) read `issuer` and `jwks_uri` here; the other members are the ones
//! OpenID Connect Discovery 1.0 §3 requires, answered truthfully.

use serde::Serialize;

/// Where the JWK Set is served, relative to the issuer.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// Where this document is served.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// The grant of `verify-otp-email`: an email address and the code mailed to it,
/// exchanged for tokens. A URN of our own, as RFC 6749 §4.5 asks of extension
/// grants; `refresh_token` is the standard grant of `refresh-token`.
pub const EMAIL_OTP_GRANT_TYPE: &str = "urn:allmine:params:oauth:grant-type:email-otp";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discovery {
    /// Equal to the tokens' `iss`.
    pub issuer: String,
    pub jwks_uri: String,
    /// The algorithms of the published keys, the signing one first: one, or
    /// both while a rotation moves from one algorithm to the other.
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    /// `sub` is the same user id for every client.
    pub subject_types_supported: [&'static str; 1],
    /// Tokens are handed out directly in the response.
    pub response_types_supported: [&'static str; 1],
    pub grant_types_supported: [&'static str; 2],
}

impl Discovery {
    /// `algorithms`: `TokenKeys::algorithms`.
    pub fn for_issuer(issuer: &str, algorithms: Vec<&'static str>) -> Self {
        Self {
            issuer: issuer.to_owned(),
            jwks_uri: format!("{}{JWKS_PATH}", issuer.trim_end_matches('/')),
            id_token_signing_alg_values_supported: algorithms,
            subject_types_supported: ["public"],
            response_types_supported: ["token"],
            grant_types_supported: [EMAIL_OTP_GRANT_TYPE, "refresh_token"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_issuer_and_the_key_set_beside_it() {
        let doc = serde_json::to_value(Discovery::for_issuer(
            "https://auth.allmine.app",
            vec!["EdDSA"],
        ))
        .unwrap();
        assert_eq!(
            doc,
            serde_json::json!({
                "issuer": "https://auth.allmine.app",
                "jwks_uri": "https://auth.allmine.app/.well-known/jwks.json",
                "id_token_signing_alg_values_supported": ["EdDSA"],
                "subject_types_supported": ["public"],
                "response_types_supported": ["token"],
                "grant_types_supported": [
                    "urn:allmine:params:oauth:grant-type:email-otp",
                    "refresh_token"
                ],
            })
        );
    }

    #[test]
    fn the_issuer_is_kept_as_configured_and_the_uri_has_one_slash() {
        let doc = Discovery::for_issuer("https://auth.allmine.app/", vec!["ES256", "EdDSA"]);
        assert_eq!(doc.issuer, "https://auth.allmine.app/");
        assert_eq!(
            doc.id_token_signing_alg_values_supported,
            ["ES256", "EdDSA"]
        );
        assert_eq!(
            doc.jwks_uri,
            "https://auth.allmine.app/.well-known/jwks.json"
        );
    }
}
