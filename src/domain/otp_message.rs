//! The email that carries a code, in the user's language.

use super::otp::OtpCode;

/// Languages the code email is written in. Unknown tags fall back to English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    En,
    Tr,
}

impl Locale {
    /// Reads a BCP 47 tag (`tr`, `tr-TR`, `en-GB` …) by its primary language.
    pub fn from_tag(tag: &str) -> Self {
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        if primary.eq_ignore_ascii_case("tr") {
            Self::Tr
        } else {
            Self::En
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpMessage {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Composes the email. The code stands alone as a plain run of digits so that
/// mail clients and phones can offer to copy it.
pub fn compose(code: &OtpCode, ttl_seconds: u32, locale: Locale) -> OtpMessage {
    let minutes = ttl_seconds.div_ceil(60);
    let digits = code.expose();
    let (subject, intro, validity, ignore) = match locale {
        Locale::En => (
            format!("Your Allmine code: {digits}"),
            "Your Allmine sign-in code is:".to_string(),
            format!("It expires in {minutes} minutes and works once."),
            "If you did not ask for it, you can ignore this email.",
        ),
        Locale::Tr => (
            format!("Allmine kodunuz: {digits}"),
            "Allmine giriş kodunuz:".to_string(),
            format!("Kod {minutes} dakika geçerlidir ve yalnızca bir kez kullanılabilir."),
            "Bu kodu siz istemediyseniz bu e-postayı yok sayabilirsiniz.",
        ),
    };
    let text = format!("{intro}\n\n{digits}\n\n{validity}\n{ignore}\n");
    let html = format!(
        "<p>{intro}</p><p style=\"font-size:28px;font-weight:bold;letter-spacing:4px\">{digits}</p><p>{validity}</p><p>{ignore}</p>"
    );
    OtpMessage {
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code() -> OtpCode {
        OtpCode::parse("042917", 6).unwrap()
    }

    #[test]
    fn text_carries_the_code_as_a_plain_run_of_digits() {
        let msg = compose(&code(), 300, Locale::En);
        assert!(msg.text.lines().any(|line| line == "042917"));
        assert!(msg.html.contains(">042917<"));
        assert!(msg.text.contains("5 minutes"));
    }

    #[test]
    fn turkish_is_chosen_by_tag() {
        assert_eq!(Locale::from_tag("tr-TR"), Locale::Tr);
        assert_eq!(Locale::from_tag("TR"), Locale::Tr);
        assert_eq!(Locale::from_tag("en-GB"), Locale::En);
        assert_eq!(Locale::from_tag("xx"), Locale::En);
        let msg = compose(&code(), 120, Locale::Tr);
        assert!(msg.text.contains("2 dakika"));
        assert!(msg.subject.contains("042917"));
    }
}
