//! The route table. Unknown paths and wrong methods become envelope errors here,
//! instead of `worker::Router`'s plain-text 404 and 405.

use crate::domain::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    Jwks,
    Discovery,
    AuthorizationServer,
    OpenApi,
    SendOtpEmail,
    VerifyOtpEmail,
    RefreshToken,
    /// RFC 6749's token endpoint: the login and the refresh in OAuth's form.
    OAuthToken,
    Logout,
    CompleteRegistration,
    GetMe,
    PatchMe,
    ScheduleDeletion,
    CancelDeletion,
    ListSessions,
    /// The session is the path's last segment (`{id}`).
    RevokeSession,
    /// Test builds only: panics on purpose, to prove a panic still answers an envelope.
    #[cfg(feature = "fault-injection")]
    FaultPanic,
    /// Test builds only: sets the share of D1, KV and mail calls that fail.
    #[cfg(feature = "fault-injection")]
    FaultRates,
    /// Test builds only: the deletion job's second step for one account, as if
    /// the job had selected it earlier (to race it against a cancellation).
    #[cfg(feature = "fault-injection")]
    FaultFinalizeDeletion,
    /// Test builds only: the isolate's wasm linear memory, for the soak.
    #[cfg(feature = "fault-injection")]
    FaultMemory,
}

/// Every route the service answers: method, path, handler. A path segment
/// written `{name}` matches any one non-empty segment; the rest match exactly.
#[rustfmt::skip]
pub const ROUTES: &[(&str, &str, Route)] = &[
    ("GET",    "/health",                              Route::Health),
    ("GET",    "/.well-known/jwks.json",               Route::Jwks),
    ("GET",    "/.well-known/openid-configuration",    Route::Discovery),
    ("GET",    "/.well-known/oauth-authorization-server", Route::AuthorizationServer),
    ("POST",   "/oauth/token",                         Route::OAuthToken),
    ("GET",    "/api/v1/openapi.json",                 Route::OpenApi),
    ("POST",   "/api/v1/auth/send-otp-email",          Route::SendOtpEmail),
    ("POST",   "/api/v1/auth/verify-otp-email",        Route::VerifyOtpEmail),
    ("POST",   "/api/v1/auth/refresh-token",           Route::RefreshToken),
    ("POST",   "/api/v1/auth/logout",                  Route::Logout),
    ("POST",   "/api/v1/auth/complete-registration",   Route::CompleteRegistration),
    ("GET",    "/api/v1/users/me",                     Route::GetMe),
    ("PATCH",  "/api/v1/users/me",                     Route::PatchMe),
    ("POST",   "/api/v1/users/me/deletion",            Route::ScheduleDeletion),
    ("DELETE", "/api/v1/users/me/deletion",            Route::CancelDeletion),
    ("GET",    "/api/v1/users/me/sessions",            Route::ListSessions),
    ("DELETE", SESSION_PATH,                           Route::RevokeSession),
];

/// The path of one of the caller's sessions.
pub const SESSION_PATH: &str = "/api/v1/users/me/sessions/{id}";

/// Routes of test builds (`--features fault-injection`); none in a release build.
#[cfg(feature = "fault-injection")]
const TEST_ROUTES: &[(&str, &str, Route)] = &[
    ("POST", "/__faults/panic", Route::FaultPanic),
    ("POST", "/__faults", Route::FaultRates),
    (
        "POST",
        "/__faults/finalize-deletion",
        Route::FaultFinalizeDeletion,
    ),
    ("GET", "/__faults/memory", Route::FaultMemory),
];
#[cfg(not(feature = "fault-injection"))]
const TEST_ROUTES: &[(&str, &str, Route)] = &[];

impl Route {
    /// The public documents verifiers and clients read (the JWK Set and the
    /// metadata): readable by any origin's page, whatever the API's CORS
    /// policy, since they hold nothing but public facts.
    pub fn is_public_document(self) -> bool {
        matches!(
            self,
            Self::Jwks | Self::Discovery | Self::AuthorizationServer
        )
    }
}

fn all_routes() -> impl Iterator<Item = &'static (&'static str, &'static str, Route)> {
    ROUTES.iter().chain(TEST_ROUTES)
}

/// Whether `path` is one `pattern` describes.
fn matches(pattern: &str, path: &str) -> bool {
    let (mut want, mut got) = (pattern.split('/'), path.split('/'));
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') && !g.is_empty() => {}
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

/// The segment of `path` that `pattern`'s `{name}` matched.
pub fn param<'a>(pattern: &str, name: &str, path: &'a str) -> Option<&'a str> {
    if !matches(pattern, path) {
        return None;
    }
    let placeholder = format!("{{{name}}}");
    pattern
        .split('/')
        .zip(path.split('/'))
        .find_map(|(w, g)| (w == placeholder).then_some(g))
}

pub fn resolve(method: &str, path: &str) -> Result<Route, AppError> {
    // Methods are case-sensitive, and fetch already upper-cases the standard ones.
    if let Some((_, _, route)) = all_routes().find(|(m, p, _)| matches(p, path) && *m == method) {
        return Ok(*route);
    }
    let allow = methods_for(path)?;
    Err(AppError::MethodNotAllowed { allow })
}

/// The methods a path answers (what `Allow` and a CORS preflight list).
pub fn methods_for(path: &str) -> Result<Vec<&'static str>, AppError> {
    let allow: Vec<&'static str> = all_routes()
        .filter(|(_, p, _)| matches(p, path))
        .map(|(m, _, _)| *m)
        .collect();
    if allow.is_empty() {
        Err(AppError::RouteNotFound)
    } else {
        Ok(allow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_routes_resolve() {
        assert_eq!(
            resolve("POST", "/api/v1/auth/verify-otp-email"),
            Ok(Route::VerifyOtpEmail)
        );
        assert_eq!(resolve("GET", "/health"), Ok(Route::Health));
    }

    #[test]
    fn the_key_documents_are_where_discovery_says() {
        use crate::domain::discovery::{
            AUTHORIZATION_SERVER_PATH, DISCOVERY_PATH, JWKS_PATH, TOKEN_PATH,
        };
        assert_eq!(resolve("GET", JWKS_PATH), Ok(Route::Jwks));
        assert_eq!(resolve("GET", DISCOVERY_PATH), Ok(Route::Discovery));
        assert_eq!(
            resolve("GET", AUTHORIZATION_SERVER_PATH),
            Ok(Route::AuthorizationServer)
        );
        assert_eq!(resolve("POST", TOKEN_PATH), Ok(Route::OAuthToken));
    }

    #[test]
    fn unknown_path_is_not_found() {
        assert_eq!(resolve("GET", "/nope"), Err(AppError::RouteNotFound));
        assert_eq!(resolve("GET", "/health/"), Err(AppError::RouteNotFound));
    }

    /// The OpenAPI document and the route table describe the same API: a route
    /// without a spec entry, or a spec entry without a route, fails here.
    #[test]
    fn every_route_is_in_the_openapi_document_and_back() {
        let spec: serde_json::Value =
            serde_json::from_str(crate::http::handlers::openapi::SPEC).unwrap();
        let mut documented: Vec<(String, String)> = spec["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(move |method| (method.to_uppercase(), path.clone()))
            })
            .collect();
        let mut routed: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p, _)| (m.to_string(), p.to_string()))
            .collect();
        documented.sort();
        routed.sort();
        assert_eq!(documented, routed);
    }

    #[test]
    fn a_named_segment_matches_one_segment_and_is_read_back() {
        let id = "0f8e3a52-5198-4599-803e-771906343485";
        let path = format!("/api/v1/users/me/sessions/{id}");
        assert_eq!(resolve("DELETE", &path), Ok(Route::RevokeSession));
        assert_eq!(param(SESSION_PATH, "id", &path), Some(id));
        assert_eq!(
            resolve("GET", &path),
            Err(AppError::MethodNotAllowed {
                allow: vec!["DELETE"]
            })
        );
        assert_eq!(
            resolve("GET", "/api/v1/users/me/sessions"),
            Ok(Route::ListSessions)
        );
        for path in [
            "/api/v1/users/me/sessions/",
            "/api/v1/users/me/sessions/a/b",
            "/api/v1/users/me/sessions//",
            "/api/v1/users/me/other/x",
        ] {
            assert_eq!(
                resolve("DELETE", path),
                Err(AppError::RouteNotFound),
                "{path}"
            );
            assert_eq!(param(SESSION_PATH, "id", path), None, "{path}");
        }
    }

    #[test]
    fn unknown_methods_are_not_read_as_get() {
        assert_eq!(
            resolve("QUERY", "/health"),
            Err(AppError::MethodNotAllowed { allow: vec!["GET"] })
        );
        assert!(resolve("get", "/health").is_err());
    }

    #[test]
    fn wrong_method_names_the_allowed_ones() {
        assert_eq!(
            resolve("GET", "/api/v1/auth/send-otp-email"),
            Err(AppError::MethodNotAllowed {
                allow: vec!["POST"]
            })
        );
    }
}
