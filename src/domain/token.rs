//! Access and refresh tokens: EdDSA (Ed25519) JWTs signed with `jwt-compact`.

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

/// Which of the two tokens a JWT is; a refresh token is never accepted as access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenUse {
    Access,
    Refresh,
}

/// The claims of both tokens. `iat` and `exp` live in `jwt_compact::Claims`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// Unique per token, so a refresh token can be retired by id.
    pub jti: String,
    /// The login (session) the token descends from.
    pub sid: String,
    pub token_use: TokenUse,
    pub roles: Vec<String>,
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

/// Signs tokens with the current key and verifies them against every published key.
/// Built once per isolate: deriving the key pair and thumbprints is not per-request work.
pub struct TokenKeys {
    signing: KeyPair,
    kid: String,
    verifying: Vec<(String, PublicKey)>,
    pub issuer: String,
    pub audience: String,
}

impl TokenKeys {
    /// `seed_b64url` is the 32-byte Ed25519 seed (the `JWT_PRIVATE_KEY` secret);
    /// `previous_public_b64url` are public keys still accepted during a rotation.
    pub fn new(
        seed_b64url: &str,
        previous_public_b64url: &[&str],
        issuer: String,
        audience: String,
    ) -> Result<Self, KeyError> {
        let seed =
            decode_32(seed_b64url.trim()).map_err(|e| KeyError(format!("JWT_PRIVATE_KEY: {e}")))?;
        let signing = KeyPair::from_seed(Seed::new(seed));
        let kid = thumbprint(&signing.pk);
        let mut verifying = vec![(kid.clone(), signing.pk)];
        for raw in previous_public_b64url {
            let bytes = decode_32(raw.trim())
                .map_err(|e| KeyError(format!("JWT_PREVIOUS_PUBLIC_KEYS: {e}")))?;
            let pk = PublicKey::new(bytes);
            verifying.push((thumbprint(&pk), pk));
        }
        Ok(Self {
            signing,
            kid,
            verifying,
            issuer,
            audience,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn jwks(&self) -> Vec<Jwk> {
        self.verifying
            .iter()
            .map(|(kid, pk)| Jwk {
                kty: "OKP",
                crv: "Ed25519",
                x: Base64UrlUnpadded::encode_string(&pk[..]),
                kid: kid.clone(),
                alg: "EdDSA",
                use_: "sig",
            })
            .collect()
    }

    pub fn sign(
        &self,
        subject: &Subject<'_>,
        token_use: TokenUse,
        jti: String,
        now: DateTime<Utc>,
    ) -> Result<String, KeyError> {
        let ttl = match token_use {
            TokenUse::Access => ACCESS_TTL_SECONDS,
            TokenUse::Refresh => REFRESH_TTL_SECONDS,
        };
        let custom = TokenClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject.user_id.to_owned(),
            jti,
            sid: subject.session_id.to_owned(),
            token_use,
            roles: subject.roles.to_vec(),
        };
        let mut claims = Claims::new(custom);
        claims.issued_at = Some(now);
        claims.expiration = Some(now + Duration::seconds(ttl));
        let header = Header::empty()
            .with_key_id(self.kid.clone())
            .with_token_type("JWT");
        Ed25519
            .token(&header, &claims, &self.signing.sk)
            .map_err(|e| KeyError(e.to_string()))
    }

    /// Checks signature, algorithm, key id, issuer, audience, expiry and use.
    pub fn verify(
        &self,
        token: &str,
        expected_use: TokenUse,
        now: DateTime<Utc>,
    ) -> Result<TokenClaims, &'static str> {
        let untrusted = UntrustedToken::new(token).map_err(|_| "malformed token")?;
        // Allow-list of one: a token naming any other algorithm (`none`, `HS256`
        // with our public key as secret, …) is refused before any key is touched.
        if untrusted.algorithm() != "EdDSA" {
            return Err("unsupported token algorithm");
        }
        let kid = untrusted
            .header()
            .key_id
            .as_deref()
            .ok_or("token has no key id")?;
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
        if custom.iss != self.issuer || custom.aud != self.audience {
            return Err("token issued for another service");
        }
        if custom.token_use != expected_use {
            return Err("wrong kind of token");
        }
        Ok(custom.clone())
    }
}

fn decode_32(b64url: &str) -> Result<[u8; 32], String> {
    let bytes = Base64UrlUnpadded::decode_vec(b64url.trim_end_matches('='))
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

    fn keys() -> TokenKeys {
        TokenKeys::new(SEED, &[], "https://auth.test".into(), "allmine".into()).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()
    }

    fn subject_roles() -> Vec<String> {
        vec!["user".to_string()]
    }

    fn sign(keys: &TokenKeys, token_use: TokenUse, at: DateTime<Utc>) -> String {
        let roles = subject_roles();
        let subject = Subject {
            user_id: "u1",
            session_id: "s1",
            roles: &roles,
        };
        keys.sign(&subject, token_use, "j1".into(), at).unwrap()
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
        assert_eq!(claims.roles, vec!["user"]);
    }

    #[test]
    fn header_names_eddsa_and_the_key_id() {
        let keys = keys();
        let token = sign(&keys, TokenUse::Access, now());
        let untrusted = UntrustedToken::new(&token).unwrap();
        assert_eq!(untrusted.algorithm(), "EdDSA");
        assert_eq!(untrusted.header().key_id.as_deref(), Some(keys.kid()));
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
    fn refresh_token_is_not_an_access_token() {
        let keys = keys();
        let token = sign(&keys, TokenUse::Refresh, now());
        assert_eq!(
            keys.verify(&token, TokenUse::Access, now()),
            Err("wrong kind of token")
        );
        assert!(keys.verify(&token, TokenUse::Refresh, now()).is_ok());
    }

    #[test]
    fn foreign_issuer_audience_and_key_are_refused() {
        let token = sign(&keys(), TokenUse::Access, now());
        let other_aud =
            TokenKeys::new(SEED, &[], "https://auth.test".into(), "other".into()).unwrap();
        assert!(other_aud.verify(&token, TokenUse::Access, now()).is_err());
        let other_key = TokenKeys::new(
            "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4",
            &[],
            "https://auth.test".into(),
            "allmine".into(),
        )
        .unwrap();
        assert_eq!(
            other_key.verify(&token, TokenUse::Access, now()),
            Err("token signed by an unknown key")
        );
    }

    #[test]
    fn alg_none_and_tampered_tokens_are_refused() {
        let keys = keys();
        let token = sign(&keys, TokenUse::Access, now());
        let parts: Vec<&str> = token.split('.').collect();
        let none_header = Base64UrlUnpadded::encode_string(
            format!(r#"{{"alg":"none","kid":"{}"}}"#, keys.kid()).as_bytes(),
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
        let old = TokenKeys::new(
            "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4",
            &[],
            "https://auth.test".into(),
            "allmine".into(),
        )
        .unwrap();
        let old_public = old.jwks()[0].x.clone();
        let token = sign(&old, TokenUse::Access, now());
        let rotated = TokenKeys::new(
            SEED,
            &[&old_public],
            "https://auth.test".into(),
            "allmine".into(),
        )
        .unwrap();
        assert_eq!(rotated.jwks().len(), 2);
        assert!(rotated.verify(&token, TokenUse::Access, now()).is_ok());
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(TokenKeys::new("short", &[], "i".into(), "a".into()).is_err());
        assert!(TokenKeys::new("!!!", &[], "i".into(), "a".into()).is_err());
        assert!(TokenKeys::new(SEED, &["nope"], "i".into(), "a".into()).is_err());
    }
}
