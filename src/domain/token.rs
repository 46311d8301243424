//! Access and refresh tokens: JWTs signed with `jwt-compact`, EdDSA (Ed25519)
//! by default or ES256 (ECDSA on P-256) for gateways without EdDSA
//! (`JWT_ALGORITHM`).
//!
//! Access tokens are RFC 9068 JWT access tokens (`typ: at+jwt`), so any service
//! can check them with a stock JWT library against the published JWK Set.
//! Refresh tokens carry a `typ` of their own, so such a library asking for
//! `at+jwt` refuses them even though the same key signed both.

use base64ct::{Base64UrlUnpadded, Encoding};
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::{SigningKey as EdSigningKey, VerifyingKey as EdPublicKey};
use jwt_compact::alg::{Ed25519, Es256, SigningKey as _, VerifyingKey as _};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, Header, TimeOptions, UntrustedToken};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// ES256's keys (`p256::ecdsa`, through jwt-compact).
type EcSigningKey = <Es256 as jwt_compact::Algorithm>::SigningKey;
type EcPublicKey = <Es256 as jwt_compact::Algorithm>::VerifyingKey;

pub const ACCESS_TTL_SECONDS: i64 = 3600;
pub const REFRESH_TTL_SECONDS: i64 = 2_592_000;
/// Clock skew tolerated between this service and resource servers.
pub const LEEWAY_SECONDS: i64 = 30;
/// The default scope of access tokens (`JWT_ACCESS_SCOPE`).
pub const DEFAULT_ACCESS_SCOPE: &str = "allmine";
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

/// The signing algorithms this service offers (`JWT_ALGORITHM`). RS256 is
/// not one of them: see docs/integrating.md, "Gateways".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigningAlgorithm {
    /// Ed25519 (RFC 8037): small keys and signatures, fast, constant-time.
    #[default]
    EdDsa,
    /// ECDSA on P-256 with SHA-256 (RFC 7518 §3.4), for gateways without EdDSA.
    Es256,
}

impl SigningAlgorithm {
    /// Every algorithm, by its JOSE name.
    pub const ALL: [SigningAlgorithm; 2] = [SigningAlgorithm::EdDsa, SigningAlgorithm::Es256];

    /// The JOSE `alg`, in tokens' headers, the JWK Set and discovery.
    pub fn jose_name(self) -> &'static str {
        match self {
            SigningAlgorithm::EdDsa => "EdDSA",
            SigningAlgorithm::Es256 => "ES256",
        }
    }

    /// The algorithm a JOSE `alg` names exactly (the allow-list).
    pub fn from_jose_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.jose_name() == name)
    }

    /// The secret that holds this algorithm's signing key.
    pub fn private_key_setting(self) -> &'static str {
        match self {
            SigningAlgorithm::EdDsa => "JWT_PRIVATE_KEY",
            SigningAlgorithm::Es256 => "JWT_ES256_PRIVATE_KEY",
        }
    }
}

/// The claims of both tokens: RFC 9068's (`iss`, `exp`, `aud`, `sub`,
/// `client_id`, `iat`, `jti`, `scope`) and ours. `iat` and `exp` live in
/// `jwt_compact::Claims`.
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
    /// RFC 9068 §2.2.3: space-separated scope tokens (`JWT_ACCESS_SCOPE`).
    /// Access tokens only; tokens issued before it existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
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
    /// Access tokens' `scope` (`JWT_ACCESS_SCOPE`), already validated.
    pub scope: String,
}

/// The configured key material, as base64url text.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyMaterial<'a> {
    /// `JWT_ALGORITHM`: which key signs.
    pub algorithm: SigningAlgorithm,
    /// The signing key of that algorithm: for EdDSA `JWT_PRIVATE_KEY`, the
    /// 32-byte Ed25519 seed; for ES256 `JWT_ES256_PRIVATE_KEY`, the 32-byte
    /// P-256 private scalar (big-endian, a JWK's `d`).
    pub signing_key: &'a str,
    /// `JWT_NEXT_PUBLIC_KEY`: the key that will sign next, published ahead so
    /// every cached key set holds it by the time it signs. Either type: see
    /// [`parse_public_key`].
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

/// A public key as published in the JWKS (RFC 7517; OKP keys RFC 8037, EC keys
/// RFC 7518 §6.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    /// EC keys only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
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

/// A key that verifies: its type fixes the one algorithm it verifies.
#[derive(Debug, Clone)]
enum VerifyingKey {
    Ed25519(EdPublicKey),
    P256(EcPublicKey),
}

impl VerifyingKey {
    fn algorithm(&self) -> SigningAlgorithm {
        match self {
            VerifyingKey::Ed25519(_) => SigningAlgorithm::EdDsa,
            VerifyingKey::P256(_) => SigningAlgorithm::Es256,
        }
    }

    fn jwk(&self) -> JsonWebKey<'_> {
        match self {
            VerifyingKey::Ed25519(pk) => JsonWebKey::from(pk),
            VerifyingKey::P256(pk) => JsonWebKey::from(pk),
        }
    }

    /// RFC 7638 thumbprint: a key id that any party can recompute from the key
    /// itself (over `crv`, `kty`, `x` and, for EC keys, `y`).
    fn thumbprint(&self) -> String {
        Base64UrlUnpadded::encode_string(&self.jwk().thumbprint::<Sha256>())
    }
}

enum Signer {
    Ed25519(EdSigningKey),
    P256(EcSigningKey),
}

/// Signs tokens with the current key and verifies them against every published key.
/// Built once per isolate: deriving the key pair and thumbprints is not per-request work.
pub struct TokenKeys {
    signing: Signer,
    kid: String,
    /// Published and accepted, in this order: the signing key, the next key,
    /// the previous keys; each key once.
    verifying: Vec<(String, VerifyingKey)>,
    pub issuance: Issuance,
}

impl TokenKeys {
    pub fn new(keys: KeyMaterial<'_>, issuance: Issuance) -> Result<Self, KeyError> {
        let setting = keys.algorithm.private_key_setting();
        let secret =
            decode_32(keys.signing_key).map_err(|e| KeyError(format!("{setting}: {e}")))?;
        let (signing, public) = match keys.algorithm {
            SigningAlgorithm::EdDsa => {
                // Any 32 bytes are a seed, but all zeros is everyone's key.
                if secret == [0; 32] {
                    return Err(KeyError(format!("{setting}: must not be all zero bytes")));
                }
                let key = EdSigningKey::from_bytes(&secret);
                let public = VerifyingKey::Ed25519(key.verifying_key());
                (Signer::Ed25519(key), public)
            }
            SigningAlgorithm::Es256 => {
                let key = EcSigningKey::from_slice(&secret)
                    .map_err(|_| KeyError(format!("{setting}: must be a P-256 private key")))?;
                let public = VerifyingKey::P256(key.to_verifying_key());
                (Signer::P256(key), public)
            }
        };
        let kid = public.thumbprint();
        let mut verifying = vec![(kid.clone(), public)];
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
            let pk = parse_public_key(raw).map_err(|e| KeyError(format!("{setting}: {e}")))?;
            let kid = pk.thumbprint();
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

    /// The key id of the signing key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm that signs.
    pub fn algorithm(&self) -> SigningAlgorithm {
        match self.signing {
            Signer::Ed25519(_) => SigningAlgorithm::EdDsa,
            Signer::P256(_) => SigningAlgorithm::Es256,
        }
    }

    /// The algorithms of the published keys, the signing one first, each once:
    /// during a rotation from one algorithm to the other, both.
    pub fn algorithms(&self) -> Vec<&'static str> {
        let mut names = Vec::with_capacity(2);
        for (_, key) in &self.verifying {
            let name = key.algorithm().jose_name();
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// Every published key. The next key is among them, and is accepted too:
    /// while a rotation deploys, an isolate still on the old settings may be
    /// shown a token the new key signed.
    pub fn jwk_set(&self) -> JwkSet {
        let keys = self
            .verifying
            .iter()
            .map(|(kid, key)| {
                let encode = |bytes: &[u8]| Base64UrlUnpadded::encode_string(bytes);
                let (kty, crv, x, y) = match key {
                    VerifyingKey::Ed25519(pk) => ("OKP", "Ed25519", encode(pk.as_bytes()), None),
                    VerifyingKey::P256(_) => match key.jwk() {
                        JsonWebKey::EllipticCurve { x, y, .. } => {
                            ("EC", "P-256", encode(&x), Some(encode(&y)))
                        }
                        _ => unreachable!("a P-256 key is an EC JWK"),
                    },
                };
                Jwk {
                    kty,
                    crv,
                    x,
                    y,
                    kid: kid.clone(),
                    alg: key.algorithm().jose_name(),
                    use_: "sig",
                }
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
            scope: (token_use == TokenUse::Access).then(|| self.issuance.scope.clone()),
        };
        let mut claims = Claims::new(custom);
        claims.issued_at = Some(now);
        claims.expiration = Some(now + Duration::seconds(token_use.ttl_seconds()));
        let header = Header::empty()
            .with_key_id(self.kid.clone())
            .with_token_type(token_use.jose_type());
        let token = match &self.signing {
            Signer::Ed25519(key) => Ed25519.token(&header, &claims, key),
            Signer::P256(key) => Es256.token(&header, &claims, key),
        };
        token.map_err(|e| KeyError(e.to_string()))
    }

    /// Checks algorithm, type, key id, the key's type against the algorithm,
    /// signature, expiry, issuer, audience and use.
    pub fn verify(
        &self,
        token: &str,
        expected_use: TokenUse,
        now: DateTime<Utc>,
    ) -> Result<TokenClaims, &'static str> {
        let untrusted = UntrustedToken::new(token).map_err(|_| "malformed token")?;
        // Allow-list of our two: a token naming any other algorithm (`none`,
        // `HS256` with our public key as secret, …) is refused before any key
        // is touched.
        let algorithm = SigningAlgorithm::from_jose_name(untrusted.algorithm())
            .ok_or("unsupported token algorithm")?;
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
        // Each key verifies the one algorithm of its type: an EC key never
        // checks an `EdDSA` token, an Ed25519 key never an `ES256` one.
        let validated = match (algorithm, key) {
            (SigningAlgorithm::EdDsa, VerifyingKey::Ed25519(pk)) => {
                Ed25519.validator::<TokenClaims>(pk).validate(&untrusted)
            }
            (SigningAlgorithm::Es256, VerifyingKey::P256(pk)) => {
                Es256.validator::<TokenClaims>(pk).validate(&untrusted)
            }
            _ => return Err("token algorithm does not match its key"),
        };
        let token = validated.map_err(|_| "invalid token signature")?;
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

/// A published public key (`JWT_NEXT_PUBLIC_KEY`, `JWT_PREVIOUS_PUBLIC_KEYS`),
/// base64url; its length says its type. 32 bytes: an Ed25519 key (a JWK's
/// `x`). 65 bytes: a P-256 key as an uncompressed SEC1 point, `0x04 ‖ x ‖ y`
/// (what `npm run keys -- --alg ES256` prints); the 33-byte compressed form is
/// accepted too.
fn parse_public_key(b64url: &str) -> Result<VerifyingKey, String> {
    let bytes = Base64UrlUnpadded::decode_vec(b64url.trim().trim_end_matches('='))
        .map_err(|_| "must be base64url".to_string())?;
    match bytes.len() {
        32 => {
            let key =
                EdPublicKey::from_slice(&bytes).map_err(|_| "not an Ed25519 key".to_string())?;
            // A small-order point "verifies" forged signatures under the
            // check jwt-compact runs (dalek's `verify`, not `verify_strict`),
            // and a non-canonical encoding is a second name for a key: no key
            // pair makes either, so neither is published or trusted.
            if key.is_weak() || key.to_edwards().compress().as_bytes() != bytes.as_slice() {
                return Err("a weak or non-canonical Ed25519 key".to_string());
            }
            Ok(VerifyingKey::Ed25519(key))
        }
        33 | 65 => EcPublicKey::from_slice(&bytes)
            .map(VerifyingKey::P256)
            .map_err(|_| "not a P-256 point".to_string()),
        _ => Err(
            "must decode to 32 bytes (Ed25519) or 65 bytes (P-256, 0x04 then x and y)".to_string(),
        ),
    }
}

fn decode_32(b64url: &str) -> Result<[u8; 32], String> {
    let bytes = Base64UrlUnpadded::decode_vec(b64url.trim().trim_end_matches('='))
        .map_err(|_| "must be base64url".to_string())?;
    bytes
        .try_into()
        .map_err(|_| "must decode to exactly 32 bytes".to_string())
}

/// RFC 9068 §2.2.3 / RFC 6749 §3.3: one or more scope tokens of the printable
/// ASCII characters other than space, `"` and `\`, separated by single spaces.
pub fn validate_scope(scope: &str) -> Result<(), &'static str> {
    let token_char = |c: char| matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
    if scope
        .split(' ')
        .all(|t| !t.is_empty() && t.chars().all(token_char))
    {
        Ok(())
    } else {
        Err("scope tokens separated by single spaces, each of printable ASCII without '\"' or '\\'")
    }
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
            scope: "allmine profile:read".into(),
        }
    }

    fn keys_with(material: KeyMaterial<'_>) -> TokenKeys {
        TokenKeys::new(material, issuance()).unwrap()
    }

    fn keys_of(seed: &str) -> TokenKeys {
        keys_with(KeyMaterial {
            signing_key: seed,
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
        let key = EdSigningKey::from_bytes(&decode_32(SEED).unwrap());
        Ed25519.token(&header, &genuine, &key).unwrap()
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
                signing_key: SEED,
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
            signing_key: SEED,
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
            signing_key: SEED,
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
            signing_key: SEED,
            next_public: Some(&own_public),
            previous_public: &[&other_public, &own_public, &other_public],
            ..KeyMaterial::default()
        });
        assert_eq!(keys.jwk_set().keys.len(), 2);
    }

    #[test]
    fn malformed_keys_are_refused_by_setting_name() {
        let error = |material| TokenKeys::new(material, issuance()).err().unwrap().0;
        let seed_only = |seed| KeyMaterial {
            signing_key: seed,
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
        // 32 bytes that are no point of Ed25519 (y = 2 has no x on the curve):
        // refused when the settings load, not at the first token.
        let mut not_a_point = [0u8; 32];
        not_a_point[0] = 2;
        let not_a_point = Base64UrlUnpadded::encode_string(&not_a_point);
        let off_curve = KeyMaterial {
            next_public: Some(&not_a_point),
            ..seed_only(SEED)
        };
        assert_eq!(error(off_curve), "JWT_NEXT_PUBLIC_KEY: not an Ed25519 key");
        // Points of small order (all zeros has order 4; 01 00…00 is the
        // identity) and the non-canonical y = p (the encoding of y = 0):
        // points, but no key pair's.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut p_itself = [0xffu8; 32];
        p_itself[0] = 0xed;
        p_itself[31] = 0x7f;
        for bytes in [[0u8; 32], identity, p_itself] {
            let raw = [Base64UrlUnpadded::encode_string(&bytes)];
            let previous = [raw[0].as_str()];
            let weak = KeyMaterial {
                previous_public: &previous,
                ..seed_only(SEED)
            };
            let message = TokenKeys::new(weak, issuance()).err().unwrap().0;
            assert_eq!(
                message, "JWT_PREVIOUS_PUBLIC_KEYS: a weak or non-canonical Ed25519 key",
                "{bytes:?}"
            );
        }
        // All zeros is a seed anyone can sign with.
        let zero_seed = Base64UrlUnpadded::encode_string(&[0u8; 32]);
        assert_eq!(
            error(seed_only(&zero_seed)),
            "JWT_PRIVATE_KEY: must not be all zero bytes"
        );
    }

    // ES256 (P-256). The expected values were computed independently, with
    // Node's crypto (ECDH on prime256v1 from the same scalar, then SHA-256
    // over `{"crv","kty","x","y"}`), not with the code under test.
    const EC_SCALAR: &str = SEED;
    const EC_X: &str = "elkxgIYMQDfIPBJ0mEXI7hQk3Sl_rcuJXjWCVdLH0rI";
    const EC_Y: &str = "qMolWA8mJv5XkGL_G5n_kcJKDaBvsytb4gFIySSfVlA";
    const EC_KID: &str = "b4Kc2UsqKPV9A-nYQqJsleJHKGt76kfXYuxImMb4dkQ";
    /// The public key as JWT_NEXT_PUBLIC_KEY holds it: 0x04, x, y.
    const EC_PUBLIC: &str =
        "BHpZMYCGDEA3yDwSdJhFyO4UJN0pf63LiV41glXSx9KyqMolWA8mJv5XkGL_G5n_kcJKDaBvsytb4gFIySSfVlA";
    const OTHER_EC_SCALAR: &str = OTHER_SEED;
    const OTHER_EC_PUBLIC: &str =
        "BD1aS5dqPsOYo8mILsrV-KrWH5XZDzofXWirxgSF1rXe57ibhVqOx8uZsafNdtQr62eu5cqluvHal23Vj6uHQJE";

    fn es256_keys_with(material: KeyMaterial<'_>) -> TokenKeys {
        keys_with(KeyMaterial {
            algorithm: SigningAlgorithm::Es256,
            ..material
        })
    }

    fn es256_keys_of(scalar: &str) -> TokenKeys {
        es256_keys_with(KeyMaterial {
            signing_key: scalar,
            ..KeyMaterial::default()
        })
    }

    #[test]
    fn es256_tokens_roundtrip_both_kinds() {
        let keys = es256_keys_of(EC_SCALAR);
        assert_eq!(keys.algorithm(), SigningAlgorithm::Es256);
        for token_use in [TokenUse::Access, TokenUse::Refresh] {
            let token = sign(&keys, token_use, now());
            let (header, _) = header_and_payload(&token);
            assert_eq!(header["alg"], "ES256");
            assert_eq!(header["kid"], EC_KID);
            // JWS ECDSA signatures are r ‖ s, 64 bytes (RFC 7518 §3.4), not DER.
            let signature = Base64UrlUnpadded::decode_vec(token.split('.').nth(2).unwrap());
            assert_eq!(signature.unwrap().len(), 64);
            let claims = keys.verify(&token, token_use, now()).unwrap();
            assert_eq!(claims.sub, "u1");
            assert_eq!(claims.token_use, token_use);
        }
        let tampered = sign(&keys, TokenUse::Access, now()).replace(".ey", ".eX");
        assert!(keys.verify(&tampered, TokenUse::Access, now()).is_err());
    }

    #[test]
    fn es256_jwk_has_the_ec_members_and_an_rfc_7638_kid() {
        let ec = es256_keys_of(EC_SCALAR);
        assert_eq!(ec.kid(), EC_KID);
        let jwk = serde_json::to_value(&ec.jwk_set().keys[0]).unwrap();
        assert_eq!(
            jwk,
            serde_json::json!({
                "kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y,
                "kid": EC_KID, "alg": "ES256", "use": "sig",
            })
        );
        // The thumbprint recomputed by hand: the required members only, in
        // lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{EC_X}","y":"{EC_Y}"}}"#);
        use sha2::Digest;
        let digest = Sha256::digest(canonical.as_bytes());
        assert_eq!(Base64UrlUnpadded::encode_string(&digest), EC_KID);
        // Ed25519 keys keep their members (no `y`).
        let okp = serde_json::to_value(&keys().jwk_set().keys[0]).unwrap();
        assert_eq!(okp["kty"], "OKP");
        assert!(okp.get("y").is_none());
    }

    #[test]
    fn a_token_whose_alg_does_not_match_its_keys_type_is_refused() {
        let ed = keys();
        let ec = es256_keys_of(EC_SCALAR);
        // One verifier that publishes both keys.
        let both = keys_with(KeyMaterial {
            signing_key: SEED,
            next_public: Some(EC_PUBLIC),
            ..KeyMaterial::default()
        });
        let relabel = |token: &str, alg: &str, kid: &str| {
            let header = Base64UrlUnpadded::encode_string(
                format!(r#"{{"alg":"{alg}","typ":"at+jwt","kid":"{kid}"}}"#).as_bytes(),
            );
            let mut parts = token.split('.').skip(1);
            format!(
                "{header}.{}.{}",
                parts.next().unwrap(),
                parts.next().unwrap()
            )
        };
        let ed_token = sign(&ed, TokenUse::Access, now());
        let ec_token = sign(&ec, TokenUse::Access, now());
        // An EdDSA-labelled token naming the EC key, an ES256-labelled one
        // naming the Ed25519 key: neither reaches a signature check.
        for token in [
            relabel(&ed_token, "EdDSA", ec.kid()),
            relabel(&ec_token, "EdDSA", ec.kid()),
            relabel(&ec_token, "ES256", ed.kid()),
            relabel(&ed_token, "ES256", ed.kid()),
        ] {
            assert_eq!(
                both.verify(&token, TokenUse::Access, now()),
                Err("token algorithm does not match its key")
            );
        }
        // Other names of the EC algorithm are not on the allow-list.
        for alg in ["ES384", "ES256K", "es256", "RS256", "HS256", "none"] {
            assert_eq!(
                both.verify(&relabel(&ec_token, alg, ec.kid()), TokenUse::Access, now()),
                Err("unsupported token algorithm"),
                "{alg}"
            );
        }
        assert!(both.verify(&ed_token, TokenUse::Access, now()).is_ok());
        assert!(both.verify(&ec_token, TokenUse::Access, now()).is_ok());
    }

    #[test]
    fn a_rotation_from_eddsa_to_es256_verifies_both_during_the_overlap() {
        let ed_public = public_of(SEED);
        // 1. EdDSA signs; the ES256 key is published as the next key.
        let before = keys_with(KeyMaterial {
            signing_key: SEED,
            next_public: Some(EC_PUBLIC),
            ..KeyMaterial::default()
        });
        assert_eq!(before.algorithms(), ["EdDSA", "ES256"]);
        let kids: Vec<String> = before.jwk_set().keys.into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, [keys().kid(), EC_KID]);
        // 2. ES256 signs; the Ed25519 key is previous.
        let after = es256_keys_with(KeyMaterial {
            signing_key: EC_SCALAR,
            next_public: Some(EC_PUBLIC),
            previous_public: &[&ed_public],
            ..KeyMaterial::default()
        });
        assert_eq!(after.algorithms(), ["ES256", "EdDSA"]);
        assert_eq!(
            after.jwk_set().keys.len(),
            2,
            "the next key is the signing key"
        );
        let old = sign(&before, TokenUse::Refresh, now());
        let new = sign(&after, TokenUse::Access, now());
        assert!(after.verify(&old, TokenUse::Refresh, now()).is_ok());
        assert!(after.verify(&new, TokenUse::Access, now()).is_ok());
        // An isolate still on the old settings accepts the new key's tokens.
        assert!(before.verify(&new, TokenUse::Access, now()).is_ok());
        // 3. EdDSA retired: its tokens are refused.
        let retired = es256_keys_of(EC_SCALAR);
        assert_eq!(retired.algorithms(), ["ES256"]);
        assert_eq!(
            retired.verify(&old, TokenUse::Refresh, now()),
            Err("token signed by an unknown key")
        );
        // And back, or from one P-256 key to another: the same steps.
        let other = es256_keys_with(KeyMaterial {
            signing_key: OTHER_EC_SCALAR,
            previous_public: &[EC_PUBLIC],
            ..KeyMaterial::default()
        });
        assert!(other.verify(&new, TokenUse::Access, now()).is_ok());
        assert_eq!(other.jwk_set().keys[1].kid, EC_KID);
        // The compressed SEC1 form names the same key (published once).
        let compressed = {
            let point = Base64UrlUnpadded::decode_vec(OTHER_EC_PUBLIC).unwrap();
            let mut bytes = vec![2 + (point[64] & 1)];
            bytes.extend_from_slice(&point[1..33]);
            Base64UrlUnpadded::encode_string(&bytes)
        };
        let same = es256_keys_with(KeyMaterial {
            signing_key: OTHER_EC_SCALAR,
            next_public: Some(&compressed),
            previous_public: &[OTHER_EC_PUBLIC],
            ..KeyMaterial::default()
        });
        assert_eq!(same.jwk_set().keys.len(), 1);
    }

    #[test]
    fn malformed_ec_keys_are_refused_by_setting_name() {
        let error = |material| TokenKeys::new(material, issuance()).err().unwrap().0;
        // The zero scalar and one above the group order are not private keys.
        let zero = Base64UrlUnpadded::encode_string(&[0u8; 32]);
        let too_big = Base64UrlUnpadded::encode_string(&[0xff; 32]);
        for bad in [zero.as_str(), too_big.as_str(), "short"] {
            let message = error(KeyMaterial {
                algorithm: SigningAlgorithm::Es256,
                signing_key: bad,
                ..KeyMaterial::default()
            });
            assert!(message.starts_with("JWT_ES256_PRIVATE_KEY: "), "{message}");
        }
        // 65 bytes that are not a point on the curve.
        let off_curve = {
            let mut bytes = Base64UrlUnpadded::decode_vec(EC_PUBLIC).unwrap();
            bytes[64] ^= 1;
            Base64UrlUnpadded::encode_string(&bytes)
        };
        for bad in [off_curve.as_str(), &EC_PUBLIC[..60]] {
            let message = error(KeyMaterial {
                signing_key: SEED,
                next_public: Some(bad),
                ..KeyMaterial::default()
            });
            assert!(message.starts_with("JWT_NEXT_PUBLIC_KEY: "), "{message}");
        }
    }

    #[test]
    fn access_tokens_carry_the_scope_and_refresh_tokens_do_not() {
        let keys = keys();
        let (_, access) = header_and_payload(&sign(&keys, TokenUse::Access, now()));
        assert_eq!(access["scope"], "allmine profile:read");
        let (_, refresh) = header_and_payload(&sign(&keys, TokenUse::Refresh, now()));
        assert!(refresh.get("scope").is_none());
    }

    #[test]
    fn scopes_are_rfc_6749_scope_tokens() {
        for good in ["allmine", "a b", "read:users openid", "!#[]~"] {
            assert!(validate_scope(good).is_ok(), "{good}");
        }
        for bad in ["", " ", "a  b", " a", "a ", "a\"b", "a\\b", "é", "a\tb"] {
            assert!(validate_scope(bad).is_err(), "{bad:?}");
        }
    }
}
