//! Access and refresh tokens: EdDSA (Ed25519) JWTs signed with `jwt-compact`.
//!
//! Access tokens are RFC 9068 JWT access tokens (`typ: at+jwt`), so any service
//! can check them with a stock JWT library against the published JWK Set.
//! Refresh tokens carry a `typ` of their own, so such a library asking for
//! `at+jwt` refuses them even though the same key signed both.

use base64ct::{Base64UrlUnpadded, Encoding};
use chrono::{DateTime, Duration, Utc};
use ed25519_compact::{KeyPair, PublicKey, Seed};
use jwt_compact::alg::Ed25519;
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, Header, TimeOptions, UntrustedToken};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const ACCESS_TTL_SECONDS: i64 = 3600;
pub const REFRESH_TTL_SECONDS: i64 = 2_592_000;
/// Clock skew tolerated between this service and resource servers.
pub const LEEWAY_SECONDS: i64 = 30;
/// The one signing algorithm, in the JOSE header and the discovery document.
pub const ALGORITHM: &str = "EdDSA";
/// How long gateways and libraries may cache the JWK Set and the discovery
/// document. Ten minutes is the default cache of common JWKS clients (`jose`'s
/// `createRemoteJWKSet`), costs a gateway six fetches an hour, and keeps a
/// planned rotation short: see [`NEXT_KEY_LEAD_SECONDS`]. It is also how long a
/// key removed in an emergency may still be trusted by a cache.
pub const KEY_SET_MAX_AGE_SECONDS: i64 = 600;
/// The rotation rule: a next key is published at least this long before it
/// signs. Twice the max-age, because a copy can pass through two caches (a
/// shared one, then the verifier's own), each keeping it for up to the max-age.
pub const NEXT_KEY_LEAD_SECONDS: i64 = 2 * KEY_SET_MAX_AGE_SECONDS;

/// Which of the two tokens a JWT is; a refresh token is never accepted as access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenUse {
    Access,
    Refresh,
}

impl TokenUse {
    /// The JOSE header `typ`. `at+jwt` is RFC 9068's; `rt+jwt` is ours, so the
    /// two kinds differ before any claim is read.
    pub fn jose_type(self) -> &'static str {
        match self {
            TokenUse::Access => "at+jwt",
            TokenUse::Refresh => "rt+jwt",
        }
    }

    fn ttl_seconds(self) -> i64 {
        match self {
            TokenUse::Access => ACCESS_TTL_SECONDS,
            TokenUse::Refresh => REFRESH_TTL_SECONDS,
        }
    }

    /// Whether a header's `typ` names this kind. Media types are compared
    /// case-insensitively and may carry the `application/` prefix (RFC 7515
    /// §4.1.9, RFC 9068 §4).
    fn matches_type(self, typ: Option<&str>) -> bool {
        let Some(typ) = typ else {
            return false;
        };
        let typ = typ.to_ascii_lowercase();
        let expected = self.jose_type();
        typ == expected || typ.strip_prefix("application/") == Some(expected)
    }
}

/// The claims of both tokens: RFC 9068's (`iss`, `exp`, `aud`, `sub`,
/// `client_id`, `iat`, `jti`) and ours. `iat` and `exp` live in `jwt_compact::Claims`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The app the user signed in to (`TOKEN_CLIENT_ID`).
    pub client_id: String,
    /// Unique per token, so a refresh token can be retired by id.
    pub jti: String,
    /// The login (session) the token descends from.
    pub sid: String,
    pub token_use: TokenUse,
    pub roles: Vec<String>,
}

/// What every token says about where it comes from and whom it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuance {
    /// `iss`, and the discovery document's `issuer` (`JWT_ISSUER`).
    pub issuer: String,
    /// `aud` (`JWT_AUDIENCE`).
    pub audience: String,
    /// `client_id` (`TOKEN_CLIENT_ID`).
    pub client_id: String,
}

/// The configured key material, as base64url text.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyMaterial<'a> {
    /// `JWT_PRIVATE_KEY`: the 32-byte Ed25519 seed that signs.
    pub signing_seed: &'a str,
    /// `JWT_NEXT_PUBLIC_KEY`: the key that will sign next, published ahead so
    /// every cached key set holds it by the time it signs.
    pub next_public: Option<&'a str>,
    /// `JWT_PREVIOUS_PUBLIC_KEYS`: retired keys, published until the last
    /// tokens they signed have expired.
    pub previous_public: &'a [&'a str],
}

/// Who the token is about; the rest of the claims are filled in by the signer.
#[derive(Debug, Clone)]
pub struct Subject<'a> {
    pub user_id: &'a str,
    pub session_id: &'a str,
    pub roles: &'a [String],
}

/// A public key as published in the JWKS (RFC 7517, RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    pub kid: String,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
}

/// The JWK Set document (RFC 7517 §5), exactly as JWT libraries read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

/// Signs tokens with the current key and verifies them against every published key.
/// Built once per isolate: deriving the key pair and thumbprints is not per-request work.
pub struct TokenKeys {
    signing: KeyPair,
    kid: String,
    /// Published and accepted, in this order: the signing key, the next key,
    /// the previous keys; each key once.
    verifying: Vec<(String, PublicKey)>,
    pub issuance: Issuance,
}

impl TokenKeys {
    pub fn new(keys: KeyMaterial<'_>, issuance: Issuance) -> Result<Self, KeyError> {
        let seed =
            decode_32(keys.signing_seed).map_err(|e| KeyError(format!("JWT_PRIVATE_KEY: {e}")))?;
        let signing = KeyPair::from_seed(Seed::new(seed));
        let kid = thumbprint(&signing.pk);
        let mut verifying = vec![(kid.clone(), signing.pk)];
        let published = keys
            .next_public
            .map(|k| ("JWT_NEXT_PUBLIC_KEY", k))
            .into_iter()
            .chain(
                keys.previous_public
                    .iter()
                    .map(|k| ("JWT_PREVIOUS_PUBLIC_KEYS", *k)),
            );
        for (setting, raw) in published {
            let pk =
                PublicKey::new(decode_32(raw).map_err(|e| KeyError(format!("{setting}: {e}")))?);
            let kid = thumbprint(&pk);
            // A key named twice is published once: the rotation steps leave the
            // new key in JWT_NEXT_PUBLIC_KEY when it starts signing, and two
            // entries with one `kid` would make JWKS clients refuse the set.
            if !verifying.iter().any(|(k, _)| *k == kid) {
                verifying.push((kid, pk));
            }
        }
        Ok(Self {
            signing,
            kid,
            verifying,
            issuance,
        })
    }

    /// The algorithms the published keys sign with: what the metadata names.
    /// The one place it is read, so choosing the algorithm changes only this.
    pub fn algorithms(&self) -> Vec<&'static str> {
        vec![ALGORITHM]
    }

    /// The key id of the signing key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Every published key. The next key is among them, and is accepted too:
    /// while a rotation deploys, an isolate still on the old settings may be
    /// shown a token the new key signed.
    pub fn jwk_set(&self) -> JwkSet {
        let keys = self
            .verifying
            .iter()
            .map(|(kid, pk)| Jwk {
                kty: "OKP",
                crv: "Ed25519",
                x: Base64UrlUnpadded::encode_string(&pk[..]),
                kid: kid.clone(),
                alg: ALGORITHM,
                use_: "sig",
            })
            .collect();
        JwkSet { keys }
    }

    pub fn sign(
        &self,
        subject: &Subject<'_>,
        token_use: TokenUse,
        jti: String,
        now: DateTime<Utc>,
    ) -> Result<String, KeyError> {
        let custom = TokenClaims {
            iss: self.issuance.issuer.clone(),
            aud: self.issuance.audience.clone(),
            sub: subject.user_id.to_owned(),
            client_id: self.issuance.client_id.clone(),
            jti,
            sid: subject.session_id.to_owned(),
            token_use,
            roles: subject.roles.to_vec(),
        };
        let mut claims = Claims::new(custom);
        claims.issued_at = Some(now);
        claims.expiration = Some(now + Duration::seconds(token_use.ttl_seconds()));
        let header = Header::empty()
            .with_key_id(self.kid.clone())
            .with_token_type(token_use.jose_type());
        Ed25519
            .token(&header, &claims, &self.signing.sk)
            .map_err(|e| KeyError(e.to_string()))
    }

    /// Checks algorithm, type, key id, signature, expiry, issuer, audience and use.
    pub fn verify(
        &self,
        token: &str,
        expected_use: TokenUse,
        now: DateTime<Utc>,
    ) -> Result<TokenClaims, &'static str> {
        let untrusted = UntrustedToken::new(token).map_err(|_| "malformed token")?;
        // Allow-list of one: a token naming any other algorithm (`none`, `HS256`
        // with our public key as secret, …) is refused before any key is touched.
        if untrusted.algorithm() != ALGORITHM {
            return Err("unsupported token algorithm");
        }
        let header = untrusted.header();
        if !expected_use.matches_type(header.token_type.as_deref()) {
            return Err("wrong token type");
        }
        let kid = header.key_id.as_deref().ok_or("token has no key id")?;
        let (_, key) = self
            .verifying
            .iter()
            .find(|(k, _)| k == kid)
            .ok_or("token signed by an unknown key")?;
        let token = Ed25519
            .validator::<TokenClaims>(key)
            .validate(&untrusted)
            .map_err(|_| "invalid token signature")?;
        let options = TimeOptions::new(Duration::seconds(LEEWAY_SECONDS), move || now);
        let claims = token.claims();
        claims
            .validate_expiration(&options)
            .map_err(|_| "token expired")?;
        let custom = &claims.custom;
        if custom.iss != self.issuance.issuer || custom.aud != self.issuance.audience {
            return Err("token issued for another service");
        }
        // `typ` and `token_use` must agree. Both are signed, so a disagreement
        // means an issuing bug: refused all the same.
        if custom.token_use != expected_use {
            return Err("wrong kind of token");
        }
        Ok(custom.clone())
    }
}

fn decode_32(b64url: &str) -> Result<[u8; 32], String> {
    let bytes = Base64UrlUnpadded::decode_vec(b64url.trim().trim_end_matches('='))
        .map_err(|_| "must be base64url".to_string())?;
    bytes
        .try_into()
        .map_err(|_| "must decode to exactly 32 bytes".to_string())
}

/// RFC 7638 thumbprint: a key id that any party can recompute from the key itself.
fn thumbprint(pk: &PublicKey) -> String {
    let jwk = JsonWebKey::from(pk);
    Base64UrlUnpadded::encode_string(&jwk.thumbprint::<Sha256>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SEED: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const OTHER_SEED: &str = "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4";

    fn issuance() -> Issuance {
        Issuance {
            issuer: "https://auth.test".into(),
            audience: "allmine".into(),
            client_id: "allmine-app".into(),
        }
    }

    fn keys_with(material: KeyMaterial<'_>) -> TokenKeys {
        TokenKeys::new(material, issuance()).unwrap()
    }

    fn keys_of(seed: &str) -> TokenKeys {
        keys_with(KeyMaterial {
            signing_seed: seed,
            ..KeyMaterial::default()
        })
    }

    fn keys() -> TokenKeys {
        keys_of(SEED)
    }

    fn public_of(seed: &str) -> String {
        keys_of(seed).jwk_set().keys[0].x.clone()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()
    }

    fn sign(keys: &TokenKeys, token_use: TokenUse, at: DateTime<Utc>) -> String {
        let roles = vec!["user".to_string()];
        let subject = Subject {
            user_id: "u1",
            session_id: "s1",
            roles: &roles,
        };
        keys.sign(&subject, token_use, "j1".into(), at).unwrap()
    }

    /// A token our key signs with the claims of `token_use` but a header of the
    /// test's choosing: what a buggy or hostile issuer could produce.
    fn sign_with_type(token_use: TokenUse, typ: Option<&str>) -> String {
        let keys = keys();
        let genuine = UntrustedToken::new(&sign(&keys, token_use, now()))
            .unwrap()
            .deserialize_claims_unchecked::<TokenClaims>()
            .unwrap();
        let mut header = Header::empty().with_key_id(keys.kid());
        header.token_type = typ.map(str::to_owned);
        let pair = KeyPair::from_seed(Seed::new(decode_32(SEED).unwrap()));
        Ed25519.token(&header, &genuine, &pair.sk).unwrap()
    }

    fn header_and_payload(token: &str) -> (serde_json::Value, serde_json::Value) {
        let part = |i: usize| {
            let bytes = Base64UrlUnpadded::decode_vec(token.split('.').nth(i).unwrap()).unwrap();
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
        };
        (part(0), part(1))
    }

    #[test]
    fn signed_access_token_verifies_with_its_claims() {
        let keys = keys();
        let token = sign(&keys, TokenUse::Access, now());
        let claims = keys.verify(&token, TokenUse::Access, now()).unwrap();
        assert_eq!(claims.sub, "u1");
        assert_eq!(claims.sid, "s1");
        assert_eq!(claims.iss, "https://auth.test");
        assert_eq!(claims.aud, "allmine");
        assert_eq!(claims.client_id, "allmine-app");
        assert_eq!(claims.roles, vec!["user"]);
    }

    #[test]
    fn access_tokens_are_rfc_9068_jwt_access_tokens() {
        let keys = keys();
        let (header, payload) = header_and_payload(&sign(&keys, TokenUse::Access, now()));
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["kid"], keys.kid());
        for claim in ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"] {
            assert!(payload.get(claim).is_some(), "{claim} missing: {payload}");
        }
        assert_eq!(
            payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(),
            3600
        );
    }

    #[test]
    fn refresh_tokens_carry_their_own_type() {
        let (header, payload) = header_and_payload(&sign(&keys(), TokenUse::Refresh, now()));
        assert_eq!(header["typ"], "rt+jwt");
        assert_eq!(payload["token_use"], "refresh");
    }

    #[test]
    fn expiry_is_enforced_with_leeway() {
        let keys = keys();
        let token = sign(&keys, TokenUse::Access, now());
        let inside = now() + Duration::seconds(ACCESS_TTL_SECONDS + LEEWAY_SECONDS - 1);
        assert!(keys.verify(&token, TokenUse::Access, inside).is_ok());
        let after = now() + Duration::seconds(ACCESS_TTL_SECONDS + LEEWAY_SECONDS + 1);
        assert_eq!(
            keys.verify(&token, TokenUse::Access, after),
            Err("token expired")
        );
    }

    #[test]
    fn each_path_refuses_the_other_kind_by_its_type() {
        let keys = keys();
        let refresh = sign(&keys, TokenUse::Refresh, now());
        assert_eq!(
            keys.verify(&refresh, TokenUse::Access, now()),
            Err("wrong token type")
        );
        assert!(keys.verify(&refresh, TokenUse::Refresh, now()).is_ok());
        let access = sign(&keys, TokenUse::Access, now());
        assert_eq!(
            keys.verify(&access, TokenUse::Refresh, now()),
            Err("wrong token type")
        );
    }

    #[test]
    fn a_signed_token_without_the_right_type_is_refused() {
        let keys = keys();
        for typ in [None, Some("JWT"), Some("rt+jwt"), Some("at+jwt+x")] {
            let token = sign_with_type(TokenUse::Access, typ);
            assert_eq!(
                keys.verify(&token, TokenUse::Access, now()),
                Err("wrong token type"),
                "{typ:?}"
            );
        }
        // The media-type spellings RFC 9068 allows.
        for typ in ["application/at+jwt", "AT+JWT"] {
            let token = sign_with_type(TokenUse::Access, Some(typ));
            assert!(
                keys.verify(&token, TokenUse::Access, now()).is_ok(),
                "{typ}"
            );
        }
    }

    #[test]
    fn type_and_use_must_agree() {
        // Signed, typed as access, but the claims of a refresh token.
        let token = sign_with_type(TokenUse::Refresh, Some("at+jwt"));
        assert_eq!(
            keys().verify(&token, TokenUse::Access, now()),
            Err("wrong kind of token")
        );
    }

    #[test]
    fn foreign_issuer_audience_and_key_are_refused() {
        let token = sign(&keys(), TokenUse::Access, now());
        let other_aud = TokenKeys::new(
            KeyMaterial {
                signing_seed: SEED,
                ..KeyMaterial::default()
            },
            Issuance {
                audience: "other".into(),
                ..issuance()
            },
        )
        .unwrap();
        assert_eq!(
            other_aud.verify(&token, TokenUse::Access, now()),
            Err("token issued for another service")
        );
        assert_eq!(
            keys_of(OTHER_SEED).verify(&token, TokenUse::Access, now()),
            Err("token signed by an unknown key")
        );
    }

    #[test]
    fn alg_none_and_tampered_tokens_are_refused() {
        let keys = keys();
        let token = sign(&keys, TokenUse::Access, now());
        let parts: Vec<&str> = token.split('.').collect();
        let none_header = Base64UrlUnpadded::encode_string(
            format!(r#"{{"alg":"none","typ":"at+jwt","kid":"{}"}}"#, keys.kid()).as_bytes(),
        );
        let none_token = format!("{none_header}.{}.", parts[1]);
        // The allow-list itself refuses it, before any key or signature check.
        assert_eq!(
            keys.verify(&none_token, TokenUse::Access, now()),
            Err("unsupported token algorithm")
        );
        let hs_header = Base64UrlUnpadded::encode_string(
            format!(r#"{{"alg":"HS256","kid":"{}"}}"#, keys.kid()).as_bytes(),
        );
        let hs_token = format!("{hs_header}.{}.{}", parts[1], parts[2]);
        assert_eq!(
            keys.verify(&hs_token, TokenUse::Access, now()),
            Err("unsupported token algorithm")
        );

        let claims = Base64UrlUnpadded::decode_vec(parts[1]).unwrap();
        let forged = String::from_utf8(claims)
            .unwrap()
            .replace("\"u1\"", "\"admin\"");
        let forged_token = format!(
            "{}.{}.{}",
            parts[0],
            Base64UrlUnpadded::encode_string(forged.as_bytes()),
            parts[2]
        );
        assert_eq!(
            keys.verify(&forged_token, TokenUse::Access, now()),
            Err("invalid token signature")
        );
        assert!(keys.verify("not.a.jwt", TokenUse::Access, now()).is_err());
    }

    #[test]
    fn previous_keys_are_published_and_accepted() {
        let old = keys_of(OTHER_SEED);
        let token = sign(&old, TokenUse::Access, now());
        let old_public = public_of(OTHER_SEED);
        let rotated = keys_with(KeyMaterial {
            signing_seed: SEED,
            previous_public: &[&old_public],
            ..KeyMaterial::default()
        });
        let kids: Vec<String> = rotated.jwk_set().keys.into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, vec![rotated.kid().to_string(), old.kid().to_string()]);
        assert!(rotated.verify(&token, TokenUse::Access, now()).is_ok());
        // New tokens are signed by the new key.
        let fresh = sign(&rotated, TokenUse::Access, now());
        assert_eq!(header_and_payload(&fresh).0["kid"], rotated.kid());
    }

    #[test]
    fn the_next_key_is_published_after_the_signing_key_and_accepted() {
        let next_public = public_of(OTHER_SEED);
        let current = keys_with(KeyMaterial {
            signing_seed: SEED,
            next_public: Some(&next_public),
            ..KeyMaterial::default()
        });
        let set = current.jwk_set();
        assert_eq!(set.keys.len(), 2);
        assert_eq!(set.keys[0].kid, current.kid());
        assert_eq!(set.keys[1].x, next_public);
        // A token the next key signs (an isolate already switched) verifies here.
        let token = sign(&keys_of(OTHER_SEED), TokenUse::Access, now());
        assert!(current.verify(&token, TokenUse::Access, now()).is_ok());
        // It still signs with its own key.
        assert_eq!(current.kid(), keys().kid());
    }

    #[test]
    fn a_key_named_twice_is_published_once() {
        let own_public = public_of(SEED);
        let other_public = public_of(OTHER_SEED);
        let keys = keys_with(KeyMaterial {
            signing_seed: SEED,
            next_public: Some(&own_public),
            previous_public: &[&other_public, &own_public, &other_public],
        });
        assert_eq!(keys.jwk_set().keys.len(), 2);
    }

    #[test]
    fn malformed_keys_are_refused_by_setting_name() {
        let error = |material| TokenKeys::new(material, issuance()).err().unwrap().0;
        let seed_only = |seed| KeyMaterial {
            signing_seed: seed,
            ..KeyMaterial::default()
        };
        assert!(error(seed_only("short")).starts_with("JWT_PRIVATE_KEY"));
        assert!(error(seed_only("!!!")).starts_with("JWT_PRIVATE_KEY"));
        let bad_next = KeyMaterial {
            next_public: Some("nope"),
            ..seed_only(SEED)
        };
        assert!(error(bad_next).starts_with("JWT_NEXT_PUBLIC_KEY"));
        let bad_previous = KeyMaterial {
            previous_public: &["nope"],
            ..seed_only(SEED)
        };
        assert!(error(bad_previous).starts_with("JWT_PREVIOUS_PUBLIC_KEYS"));
    }
}
