//! The email that carries a code, in the user's language, from the templates
//! in `templates/email/` (built into the binary).
//!
//! Each language is two files: `<tag>.txt` and `<tag>.html`. The text file
//! opens with a few `Name: value` lines (the subject and the words this module
//! puts into the body), then a blank line, then the plain-text body. Adding a
//! language is adding its two files and one line to `LOCALES`.

use chrono::{DateTime, Utc};

use super::device;
use super::otp::OtpCode;
use super::place;
use super::template::{render, Format};

/// One language's two files of one email.
pub(super) struct Templates {
    pub(super) tag: &'static str,
    pub(super) text: &'static str,
    pub(super) html: &'static str,
}

/// The two files of language `$tag` under `templates/email/$dir`.
macro_rules! templates {
    ($dir:literal, $tag:literal) => {
        Templates {
            tag: $tag,
            text: include_str!(concat!("../../templates/email/", $dir, $tag, ".txt")),
            html: include_str!(concat!("../../templates/email/", $dir, $tag, ".html")),
        }
    };
}
pub(super) use templates;

/// The languages the email is written in; the first is the fallback. Every
/// other email (`deletion_notice`) is written in the same ones, in this order.
const LOCALES: &[Templates] = &[templates!("", "en"), templates!("", "tr")];

/// One of `LOCALES`. Unknown tags fall back to English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Locale(usize);

impl Locale {
    /// Reads a BCP 47 tag (`tr`, `tr-TR`, `en-GB` …) by its primary language.
    pub fn from_tag(tag: &str) -> Self {
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        LOCALES
            .iter()
            .position(|t| t.tag.eq_ignore_ascii_case(primary))
            .map_or_else(Self::default, Self)
    }

    /// The primary language tag: `en`, `tr`.
    pub fn tag(self) -> &'static str {
        LOCALES[self.0].tag
    }

    /// Every language the email is written in.
    pub fn all() -> impl Iterator<Item = Self> {
        (0..LOCALES.len()).map(Self)
    }

    /// Its position in `LOCALES`, which other emails' tables share.
    pub(super) fn index(self) -> usize {
        self.0
    }

    fn templates(self) -> &'static Templates {
        &LOCALES[self.0]
    }
}

/// An email as the mail provider takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Where and when a code was asked for, as the edge saw it. Only what helps
/// the owner of the address recognise (or not) their own request: the time,
/// the city and country Cloudflare places the client in, and a device label.
/// Never the IP address, never the raw User-Agent.
#[derive(Debug, Clone, Copy)]
pub struct Requested<'a> {
    pub at: DateTime<Utc>,
    /// ISO 3166-1 alpha-2, from `request.cf.country`.
    pub country: Option<&'a str>,
    /// From `request.cf.city`.
    pub city: Option<&'a str>,
    pub user_agent: &'a str,
}

/// Composes the email. The code stands alone on its own line (and in its own
/// HTML element) so that mail clients and phones can offer to copy it; the
/// subject never carries it, so lock screens and inbox previews do not show it.
pub fn compose(
    code: &OtpCode,
    ttl_seconds: u32,
    locale: Locale,
    product: &str,
    requested: &Requested,
) -> Message {
    let templates = locale.templates();
    let (headers, body) = split_headers(templates.text);
    let header = |name: &str| header(&headers, name);
    let minutes = ttl_seconds.div_ceil(60).to_string();
    let when = requested.at.format("%Y-%m-%d %H:%M UTC").to_string();
    let place = place::label(requested.country, requested.city)
        .unwrap_or_else(|| header("Unknown-Place").to_string());
    let device =
        device::describe(requested.user_agent).label(header("Device"), header("Unknown-Device"));
    let values = [
        ("product", product),
        ("code", code.expose()),
        ("minutes", &minutes),
        ("when", &when),
        ("place", &place),
        ("device", &device),
    ];
    Message {
        subject: render(header("Subject"), &values, Format::Text),
        text: render(body, &values, Format::Text),
        html: render(templates.html, &values, Format::Html),
    }
}

/// The `Name: value` lines before the first blank line, and the rest.
pub(super) fn split_headers(
    text: &'static str,
) -> (Vec<(&'static str, &'static str)>, &'static str) {
    let (head, body) = text.split_once("\n\n").unwrap_or(("", text));
    let headers = head
        .lines()
        .filter_map(|line| line.split_once(": "))
        .collect();
    (headers, body)
}

/// The value of the header line `name`, empty if there is none.
pub(super) fn header(headers: &[(&str, &'static str)], name: &str) -> &'static str {
    headers
        .iter()
        .find(|(key, _)| *key == name)
        .map_or("", |(_, value)| *value)
}

/// Compares `msg` in `locale` byte for byte with its two snapshot files,
/// `src/domain/snapshots/<dir><tag>.txt` (the subject, then the text) and
/// `.html`; with `UPDATE_SNAPSHOTS` set, writes them instead.
#[cfg(test)]
pub(super) fn assert_snapshots(dir: &str, locale: Locale, msg: &Message) {
    let dir = format!("{}/src/domain/snapshots/{dir}", env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let text = format!("Subject: {}\n\n{}", msg.subject, msg.text);
    for (ext, rendered) in [("txt", &text), ("html", &msg.html)] {
        let path = format!("{dir}{}.{ext}", locale.tag());
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, rendered).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e} (UPDATE_SNAPSHOTS=1 writes it)"));
        assert_eq!(
            *rendered, expected,
            "{path} differs (UPDATE_SNAPSHOTS=1 refreshes it)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

    fn code() -> OtpCode {
        OtpCode::parse("042917", 6).unwrap()
    }

    fn requested() -> Requested<'static> {
        Requested {
            at: DateTime::parse_from_rfc3339("2026-04-27T10:15:42Z")
                .unwrap()
                .with_timezone(&Utc),
            country: Some("TR"),
            city: Some("Istanbul"),
            user_agent: CHROME_MAC,
        }
    }

    fn nowhere() -> Requested<'static> {
        Requested {
            country: None,
            city: None,
            user_agent: "",
            ..requested()
        }
    }

    /// Each language's email, compared byte for byte with the files under
    /// `src/domain/snapshots/`. After a deliberate change to a template, look
    /// at the new rendering and refresh the files with
    /// `UPDATE_SNAPSHOTS=1 cargo test --lib otp_message`, then review the diff.
    #[test]
    fn each_language_renders_as_its_snapshot() {
        for locale in Locale::all() {
            let msg = compose(&code(), 300, locale, "Allmine", &requested());
            assert_snapshots("", locale, &msg);
        }
    }

    #[test]
    fn no_subject_carries_the_code() {
        for locale in Locale::all() {
            for digits in ["042917", "000000", "999999", "12345678"] {
                let code = OtpCode::parse(digits, digits.len() as u8).unwrap();
                let msg = compose(&code, 300, locale, "Allmine", &requested());
                assert!(
                    !msg.subject.contains(digits),
                    "{}: {}",
                    locale.tag(),
                    msg.subject
                );
                assert!(
                    !msg.subject.chars().any(|c| c.is_ascii_digit()),
                    "{}: {}",
                    locale.tag(),
                    msg.subject
                );
            }
        }
    }

    #[test]
    fn every_language_stands_the_code_alone_and_fills_every_placeholder() {
        for locale in Locale::all() {
            for whence in [requested(), nowhere()] {
                let msg = compose(&code(), 300, locale, "Allmine", &whence);
                let tag = locale.tag();
                assert!(msg.text.lines().any(|line| line == "042917"), "{tag}");
                assert!(msg.html.contains(">042917<"), "{tag}");
                assert!(msg.text.contains('5'), "{tag}: the minutes");
                for part in [&msg.subject, &msg.text, &msg.html] {
                    assert!(!part.contains("{{"), "{tag}: {part}");
                    assert!(!part.contains('{'), "{tag}: a device pattern left: {part}");
                }
                assert!(!msg.subject.is_empty(), "{tag}");
                assert!(msg.html.contains(&format!("lang=\"{tag}\"")), "{tag}");
            }
        }
    }

    #[test]
    fn the_request_is_described_without_identifying_more() {
        let msg = compose(&code(), 300, Locale::default(), "Allmine", &requested());
        assert!(msg.text.contains("2026-04-27 10:15 UTC"), "{}", msg.text);
        assert!(msg.text.contains("from Chrome on macOS in Istanbul, TR"));
        assert!(!msg.text.contains("Mozilla"));
        let msg = compose(&code(), 300, Locale::default(), "Allmine", &nowhere());
        assert!(msg
            .text
            .contains("from an unknown device in an unknown place"));
        let tr = compose(
            &code(),
            300,
            Locale::from_tag("tr"),
            "Allmine",
            &requested(),
        );
        assert!(
            tr.text.contains("Cihaz: macOS üzerinde Chrome"),
            "{}",
            tr.text
        );
        assert!(tr.text.contains("Konum: Istanbul, TR"));
    }

    #[test]
    fn configured_and_edge_values_cannot_add_markup() {
        let whence = Requested {
            city: Some("<img src=x onerror=alert(1)>"),
            ..requested()
        };
        let msg = compose(&code(), 300, Locale::default(), "A&B <Auth>", &whence);
        assert!(msg.html.contains("A&amp;B &lt;Auth&gt;"));
        assert!(msg.html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(!msg.html.contains("<img"));
        assert!(!msg.html.contains("<Auth>"));
        assert_eq!(msg.subject, "Your A&B <Auth> sign-in code");
    }

    #[test]
    fn languages_are_chosen_by_tag() {
        assert_eq!(Locale::from_tag("tr-TR").tag(), "tr");
        assert_eq!(Locale::from_tag("TR").tag(), "tr");
        assert_eq!(Locale::from_tag("en-GB").tag(), "en");
        assert_eq!(Locale::from_tag("xx").tag(), "en");
        assert_eq!(Locale::from_tag(""), Locale::default());
        let msg = compose(
            &code(),
            120,
            Locale::from_tag("tr"),
            "Allmine",
            &requested(),
        );
        assert!(msg.text.contains("2 dakika"));
    }
}
