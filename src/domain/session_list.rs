//! A user's list of sessions, the devices they are signed in on: what a
//! session keeps of the login that opened it, the ids the list shows and a
//! revocation takes, and the list as the API answers it.

use serde::Serialize;

use super::{device, place};

/// The most sessions a list shows: the caller's own, then the most recently
/// active. Logins are rate-limited, so a user rarely comes near it.
pub const MAX_LISTED: u32 = 100;

/// What a login was made from, as its session keeps it: a label from the
/// fixed vocabularies of `device` (never the User-Agent itself, none when
/// nothing in it is recognised) and where the edge placed the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginOrigin {
    pub device_label: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub city: Option<String>,
}

impl LoginOrigin {
    pub fn of(user_agent: &str, country: Option<&str>, city: Option<&str>) -> Self {
        Self {
            device_label: device::known_label(user_agent),
            country: place::country(country).map(str::to_owned),
            city: place::city(city).map(str::to_owned),
        }
    }
}

/// The id of a session as the list shows it and a revocation takes: the
/// session's own random id (the `sid` of its tokens). It grants nothing: a
/// session is acted on only with a token signed for it, or by its owner's
/// access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    /// A session id as this service issues them (a lower-case UUID), or none:
    /// anything else cannot name a session.
    pub fn parse(raw: &str) -> Option<Self> {
        let shaped = raw.len() == 36
            && raw.bytes().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
            });
        shaped.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A live session of the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveSession {
    pub id: String,
    pub device_label: Option<String>,
    pub country: Option<String>,
    pub city: Option<String>,
    pub created_at: String,
    /// The last refresh; none before the first.
    pub refreshed_at: Option<String>,
}

/// One entry of the list: a live session, and whether it is the caller's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedSession {
    #[serde(flatten)]
    pub session: LiveSession,
    pub current: bool,
}

/// The list the caller of session `current` sees, or none when that session
/// is not among the live ones: it has ended, and its access token with it.
pub fn list(live: Vec<LiveSession>, current: &str) -> Option<Vec<ListedSession>> {
    if !live.iter().any(|s| s.id == current) {
        return None;
    }
    let listed = live
        .into_iter()
        .map(|session| ListedSession {
            current: session.id == current,
            session,
        })
        .collect();
    Some(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0f8e3a52-5198-4599-803e-771906343485";

    fn live(id: &str) -> LiveSession {
        LiveSession {
            id: id.into(),
            device_label: Some("Chrome on macOS".into()),
            country: Some("TR".into()),
            city: Some("Istanbul".into()),
            created_at: "2026-05-01T12:00:00.000Z".into(),
            refreshed_at: None,
        }
    }

    #[test]
    fn only_ids_shaped_like_ours_can_name_a_session() {
        assert_eq!(SessionId::parse(ID).unwrap().as_str(), ID);
        for bad in [
            "",
            "not-a-session",
            &ID.to_uppercase(),
            &ID.replace('-', ""),
            &format!("{ID}0"),
            "0f8e3a52-5198-4599-803e-77190634348g",
            "0f8e3a52x5198-4599-803e-771906343485",
            "'; DROP TABLE sessions; --------------",
            "0f8e3a52-5198-4599-803e-77190634348é",
        ] {
            assert_eq!(SessionId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_origin_keeps_a_label_and_a_vouched_place_never_the_header() {
        let ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
        assert_eq!(
            LoginOrigin::of(ua, Some("TR"), Some("Istanbul")),
            LoginOrigin {
                device_label: Some("Safari on iPhone".into()),
                country: Some("TR".into()),
                city: Some("Istanbul".into()),
            }
        );
        assert_eq!(
            LoginOrigin::of("curl/8.5.0 <b>", Some("XX"), Some("")),
            LoginOrigin::default()
        );
    }

    #[test]
    fn the_callers_session_is_marked_and_a_list_without_it_is_none() {
        let other = "11111111-2222-4333-8444-555555555555";
        let listed = list(vec![live(ID), live(other)], ID).unwrap();
        assert_eq!(
            listed.iter().map(|s| s.current).collect::<Vec<_>>(),
            [true, false]
        );
        assert_eq!(list(vec![live(other)], ID), None);
        assert_eq!(list(vec![], ID), None);
    }

    #[test]
    fn an_entry_reads_as_the_contract_names_it() {
        let entry = &list(vec![live(ID)], ID).unwrap()[0];
        assert_eq!(
            serde_json::to_value(entry).unwrap(),
            serde_json::json!({
                "id": ID, "deviceLabel": "Chrome on macOS", "country": "TR", "city": "Istanbul",
                "createdAt": "2026-05-01T12:00:00.000Z", "refreshedAt": null, "current": true
            })
        );
    }
}
