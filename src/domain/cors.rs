//! Which web pages may call the API from a browser (CORS).
//!
//! Tokens travel in JSON bodies and the `Authorization` header, never in
//! cookies, so allowing an origin grants its scripts nothing they do not
//! already hold: it only lets them read the answers. Still, the list is
//! explicit per environment (`CORS_ALLOWED_ORIGINS`), and empty means no
//! browser origin at all.

/// The origins whose pages may call the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsPolicy {
    /// No cross-origin browser calls (no CORS headers are sent).
    #[default]
    Closed,
    /// Any origin (`*`): for local development.
    AnyOrigin,
    /// Exactly these origins, each `scheme://host[:port]` in lower case.
    Origins(Vec<String>),
}

impl CorsPolicy {
    /// Parses `CORS_ALLOWED_ORIGINS`: empty, `*`, or origins separated by commas,
    /// such as `https://app.allmine.app, http://localhost:3000`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let entries: Vec<&str> = raw
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if entries.is_empty() {
            return Ok(Self::Closed);
        }
        if entries == ["*"] {
            return Ok(Self::AnyOrigin);
        }
        let mut origins = Vec::with_capacity(entries.len());
        for entry in entries {
            let origin = entry.to_ascii_lowercase();
            if !is_origin(&origin) {
                return Err(format!(
                    "CORS_ALLOWED_ORIGINS: {entry:?} is not an origin like https://app.example.com (or use * alone)"
                ));
            }
            origins.push(origin);
        }
        Ok(Self::Origins(origins))
    }

    /// Whether answers differ by the request's `Origin` (then they say
    /// `Vary: Origin`, present or not, so no cache mixes them up).
    pub fn varies_by_origin(&self) -> bool {
        matches!(self, Self::Origins(_))
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if
    /// that origin is allowed. Browsers send the origin serialised in lower
    /// case, so the comparison is exact.
    pub fn allow_origin<'a>(&'a self, origin: &'a str) -> Option<&'a str> {
        match self {
            Self::Closed => None,
            Self::AnyOrigin => Some("*"),
            Self::Origins(origins) => origins
                .iter()
                .find(|o| o.as_str() == origin)
                .map(String::as_str),
        }
    }
}

/// `http` or `https`, `://`, a host of letters, digits, dots and hyphens, an
/// optional port; no path, query, user info or trailing slash. A scheme's
/// default port is refused: browsers leave it out, so it would never match.
/// (IPv6 literals are not supported.)
fn is_origin(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let default_port = matches!(
        (scheme, port),
        ("http", Some("80")) | ("https", Some("443"))
    );
    matches!(scheme, "http" | "https") && host_ok && port_ok && !default_port
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_means_closed_and_star_means_any() {
        assert_eq!(CorsPolicy::parse(""), Ok(CorsPolicy::Closed));
        assert_eq!(CorsPolicy::parse(" , "), Ok(CorsPolicy::Closed));
        assert_eq!(CorsPolicy::parse(" * "), Ok(CorsPolicy::AnyOrigin));
        assert_eq!(CorsPolicy::Closed.allow_origin("https://a.example"), None);
        assert!(!CorsPolicy::Closed.varies_by_origin());
        assert!(!CorsPolicy::AnyOrigin.varies_by_origin());
        assert_eq!(
            CorsPolicy::AnyOrigin.allow_origin("https://a.example"),
            Some("*")
        );
    }

    #[test]
    fn listed_origins_are_allowed_exactly() {
        let policy = CorsPolicy::parse("https://App.Allmine.app, http://localhost:3000").unwrap();
        assert_eq!(
            policy.allow_origin("https://app.allmine.app"),
            Some("https://app.allmine.app")
        );
        assert_eq!(
            policy.allow_origin("http://localhost:3000"),
            Some("http://localhost:3000")
        );
        for other in [
            "http://app.allmine.app",
            "https://app.allmine.app.evil.example",
            "https://evil.example",
            "http://localhost:3001",
            "null",
            "",
        ] {
            assert_eq!(policy.allow_origin(other), None, "{other}");
        }
    }

    #[test]
    fn what_is_not_an_origin_is_a_configuration_error() {
        for bad in [
            "app.allmine.app",
            "https://app.allmine.app/",
            "https://app.allmine.app/path",
            "ftp://app.allmine.app",
            "https://user@app.allmine.app",
            "https://app.allmine.app:",
            "https://app.allmine.app:123456",
            "https://app.allmine.app:443",
            "http://localhost:80",
            "https://",
            "*, https://app.allmine.app",
        ] {
            assert!(CorsPolicy::parse(bad).is_err(), "{bad}");
        }
    }
}
