//! Where Cloudflare places a client (`request.cf`'s country and city), kept to
//! what it can vouch for: for the code email and a user's list of sessions.

/// The country, an ISO 3166-1 alpha-2 code. Cloudflare's "XX" (unknown) and
/// "T1" (Tor) are no country.
pub fn country(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim)
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) && *c != "XX")
}

/// The city, unless it is empty or implausible (long, or with control
/// characters).
pub fn city(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim)
        .filter(|c| !c.is_empty() && c.chars().count() <= 80 && !c.chars().any(char::is_control))
}

/// "Istanbul, TR", "TR", "Istanbul", or none.
pub fn label(country: Option<&str>, city: Option<&str>) -> Option<String> {
    match (self::city(city), self::country(country)) {
        (Some(city), Some(country)) => Some(format!("{city}, {country}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_string()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_keep_to_what_cloudflare_can_vouch_for() {
        assert_eq!(
            label(Some("TR"), Some("Istanbul")).as_deref(),
            Some("Istanbul, TR")
        );
        assert_eq!(label(Some("DE"), None).as_deref(), Some("DE"));
        assert_eq!(label(Some("XX"), None), None);
        assert_eq!(label(Some("T1"), None), None);
        assert_eq!(label(Some("tr"), Some(" ")), None);
        assert_eq!(label(None, Some("Zürich")).as_deref(), Some("Zürich"));
        assert_eq!(city(Some(&"a".repeat(81))), None);
        assert_eq!(city(Some("Istanbul\n<b>")), None);
        assert_eq!(country(Some(" TR ")), Some("TR"));
    }
}
