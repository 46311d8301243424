//! The email that tells an account's owner its deletion was scheduled: when
//! it was asked for, when it becomes final, and how to cancel it (sign in and
//! cancel). Written in the languages of the code email, from
//! `templates/email/deletion/` (built into the binary; the same file format).
//!
//! It carries no code and no link: a notice that could be forged into a
//! phishing mail must ask for nothing but signing in the usual way.

use chrono::{DateTime, Utc};

use super::otp_message::{header, split_headers, templates, Locale, Message, Templates};
use super::template::{render, Format};

/// One entry per language of the code email, in its order (`Locale::index`).
const NOTICES: &[Templates] = &[templates!("deletion/", "en"), templates!("deletion/", "tr")];

/// The notice of a deletion asked for at `requested_at`, final at `due_at`.
pub fn compose(
    locale: Locale,
    product: &str,
    requested_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
) -> Message {
    let templates = &NOTICES[locale.index()];
    let (headers, body) = split_headers(templates.text);
    let minute = |at: DateTime<Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
    let (when, due, date) = (
        minute(requested_at),
        minute(due_at),
        due_at.format("%Y-%m-%d").to_string(),
    );
    let values = [
        ("product", product),
        ("when", &when),
        ("due", &due),
        ("date", &date),
    ];
    Message {
        subject: render(header(&headers, "Subject"), &values, Format::Text),
        text: render(body, &values, Format::Text),
        html: render(templates.html, &values, Format::Html),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::otp_message::assert_snapshots;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn notice(locale: Locale) -> Message {
        compose(
            locale,
            "Allmine",
            at("2026-04-27T10:15:42Z"),
            at("2026-05-27T10:15:42Z"),
        )
    }

    #[test]
    fn every_language_of_the_code_email_has_a_notice() {
        let tags: Vec<&str> = NOTICES.iter().map(|t| t.tag).collect();
        let locales: Vec<&str> = Locale::all().map(Locale::tag).collect();
        assert_eq!(tags, locales);
    }

    /// Byte for byte against `src/domain/snapshots/deletion/`; after a
    /// deliberate change, `UPDATE_SNAPSHOTS=1 cargo test --lib deletion_notice`.
    #[test]
    fn each_language_renders_as_its_snapshot() {
        for locale in Locale::all() {
            assert_snapshots("deletion/", locale, &notice(locale));
        }
    }

    #[test]
    fn the_notice_says_when_it_was_asked_when_it_is_final_and_how_to_cancel() {
        for locale in Locale::all() {
            let msg = notice(locale);
            let tag = locale.tag();
            assert!(msg.subject.contains("2026-05-27"), "{tag}: {}", msg.subject);
            for part in [&msg.text, &msg.html] {
                assert!(part.contains("2026-04-27 10:15 UTC"), "{tag}: asked at");
                assert!(part.contains("2026-05-27 10:15 UTC"), "{tag}: final at");
                assert!(!part.contains("{{"), "{tag}: {part}");
                assert!(!part.contains("http"), "{tag}: no link to follow");
            }
            assert!(msg.html.contains(&format!("lang=\"{tag}\"")), "{tag}");
        }
        let en = notice(Locale::default());
        assert!(en
            .text
            .contains("Sign in to Allmine before then and cancel the deletion"));
        let tr = notice(Locale::from_tag("tr"));
        assert!(tr.text.contains("silme işlemini iptal edin"));
    }

    #[test]
    fn the_product_name_cannot_add_markup() {
        let msg = compose(
            Locale::default(),
            "A&B <Auth>",
            at("2026-04-27T10:15:42Z"),
            at("2026-05-27T10:15:42Z"),
        );
        assert!(msg.html.contains("A&amp;B &lt;Auth&gt;"));
        assert!(!msg.html.contains("<Auth>"));
    }
}
