//! The authorization server's metadata: RFC 8414's document at
//! `/.well-known/oauth-authorization-server`, and the same members plus the
//! two OpenID Connect Discovery 1.0 §3 requires at
//! `/.well-known/openid-configuration`.
//!
//! Every member says something true of this service and nothing more. It is
//! an OAuth authorization server for our own apps: a token endpoint taking a
//! password-less extension grant (the email code) and `refresh_token`, public
//! clients only. It has no authorization endpoint (so no response types) and
//! issues no ID tokens; `id_token_signing_alg_values_supported` appears only
//! in the OpenID document, because §3 requires it there, and names the
//! algorithm the access tokens are signed with (what a verifier configured
//! through OpenID discovery reads to pick the algorithms it accepts).

use serde::Serialize;

/// Where the JWK Set is served, relative to the issuer.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// Where the OpenID Connect Discovery document is served.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// Where the RFC 8414 document is served. Only at the root: an issuer with a
/// path would put it elsewhere (RFC 8414 §3.1), so such an issuer is refused
/// (`config::tokens`).
pub const AUTHORIZATION_SERVER_PATH: &str = "/.well-known/oauth-authorization-server";
/// The RFC 6749 token endpoint, relative to the issuer.
pub const TOKEN_PATH: &str = "/oauth/token";
/// The grant of `verify-otp-email`: an email address and the code mailed to it,
/// exchanged for tokens. A URN of our own, as RFC 6749 §4.5 asks of extension
/// grants; `refresh_token` is the standard grant of `refresh-token`.
pub const EMAIL_OTP_GRANT_TYPE: &str = "urn:allmine:params:oauth:grant-type:email-otp";
/// RFC 6749 §6.
pub const REFRESH_TOKEN_GRANT_TYPE: &str = "refresh_token";

/// RFC 8414 §2's members that are true of this service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizationServer {
    /// Equal to the tokens' `iss`.
    pub issuer: String,
    pub jwks_uri: String,
    pub token_endpoint: String,
    /// The two grants the token endpoint takes.
    pub grant_types_supported: [&'static str; 2],
    /// Public clients: a client authenticates with nothing, and any
    /// authentication it attempts is refused (`invalid_client`).
    pub token_endpoint_auth_methods_supported: [&'static str; 1],
    /// RFC 8414 requires the member; with no authorization endpoint there is
    /// no response type to name.
    pub response_types_supported: [&'static str; 0],
}

/// The OpenID Connect Discovery document: the RFC 8414 members, then the two
/// §3 requires beyond them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenIdConfiguration {
    #[serde(flatten)]
    pub server: AuthorizationServer,
    /// `sub` is the same user id for every client.
    pub subject_types_supported: [&'static str; 1],
    /// Required by §3 though no ID token is issued: the access tokens' algorithms.
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
}

impl AuthorizationServer {
    pub fn for_issuer(issuer: &str) -> Self {
        let base = issuer.trim_end_matches('/');
        Self {
            issuer: issuer.to_owned(),
            jwks_uri: format!("{base}{JWKS_PATH}"),
            token_endpoint: format!("{base}{TOKEN_PATH}"),
            grant_types_supported: [EMAIL_OTP_GRANT_TYPE, REFRESH_TOKEN_GRANT_TYPE],
            token_endpoint_auth_methods_supported: ["none"],
            response_types_supported: [],
        }
    }
}

impl OpenIdConfiguration {
    /// `algorithms`: what the tokens are signed with (`TokenKeys::algorithms`).
    pub fn for_issuer(issuer: &str, algorithms: Vec<&'static str>) -> Self {
        Self {
            server: AuthorizationServer::for_issuer(issuer),
            subject_types_supported: ["public"],
            id_token_signing_alg_values_supported: algorithms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_8414_document_names_the_endpoints_beside_the_issuer() {
        let doc = serde_json::to_value(AuthorizationServer::for_issuer("https://auth.allmine.app"))
            .unwrap();
        assert_eq!(
            doc,
            serde_json::json!({
                "issuer": "https://auth.allmine.app",
                "jwks_uri": "https://auth.allmine.app/.well-known/jwks.json",
                "token_endpoint": "https://auth.allmine.app/oauth/token",
                "grant_types_supported": [
                    "urn:allmine:params:oauth:grant-type:email-otp",
                    "refresh_token"
                ],
                "token_endpoint_auth_methods_supported": ["none"],
                "response_types_supported": [],
            })
        );
    }

    #[test]
    fn the_openid_document_adds_only_what_discovery_requires() {
        let doc = serde_json::to_value(OpenIdConfiguration::for_issuer(
            "https://auth.allmine.app",
            vec!["EdDSA"],
        ))
        .unwrap();
        let mut expected =
            serde_json::to_value(AuthorizationServer::for_issuer("https://auth.allmine.app"))
                .unwrap();
        expected["subject_types_supported"] = serde_json::json!(["public"]);
        expected["id_token_signing_alg_values_supported"] = serde_json::json!(["EdDSA"]);
        assert_eq!(doc, expected);
    }

    #[test]
    fn the_issuer_is_kept_as_configured_and_the_uris_have_one_slash() {
        let doc = AuthorizationServer::for_issuer("https://auth.allmine.app/");
        assert_eq!(doc.issuer, "https://auth.allmine.app/");
        assert_eq!(
            doc.jwks_uri,
            "https://auth.allmine.app/.well-known/jwks.json"
        );
        assert_eq!(doc.token_endpoint, "https://auth.allmine.app/oauth/token");
    }
}
