//! Email addresses as the service accepts them.

use std::fmt;

/// The longest address SMTP can carry (RFC 5321 path limit minus the angle brackets).
const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

/// A normalised (trimmed, lower-cased) email address. Any value of this type is valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

/// Why an address was refused, phrased to follow the field name ("email …").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEmail(pub &'static str);

impl EmailAddress {
    /// Parses untrusted input into an address.
    ///
    /// The rule is deliberately narrower than RFC 5322: a dot-atom local part of
    /// printable ASCII and a domain of LDH labels (IDN domains arrive as punycode
    /// `xn--` labels). Quoted local parts, comments, IP literals and non-ASCII
    /// characters are refused, which rules out homoglyph look-alikes and control
    /// characters without needing a Unicode confusables table.
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(InvalidEmail("must not be empty"));
        }
        if trimmed.len() > MAX_LEN {
            return Err(InvalidEmail("must be at most 254 characters"));
        }
        if !trimmed.is_ascii() || trimmed.chars().any(|c| c.is_ascii_control()) {
            return Err(InvalidEmail(
                "must contain only printable ASCII characters (use punycode for international domains)",
            ));
        }
        let lower = trimmed.to_ascii_lowercase();
        let (local, domain) = lower
            .rsplit_once('@')
            .ok_or(InvalidEmail("must contain '@'"))?;
        validate_local(local)?;
        validate_domain(domain)?;
        Ok(Self(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn validate_local(local: &str) -> Result<(), InvalidEmail> {
    const INVALID: InvalidEmail = InvalidEmail("has an invalid part before '@'");
    if local.is_empty() || local.len() > MAX_LOCAL_LEN {
        return Err(INVALID);
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(INVALID);
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    if local.chars().all(allowed) {
        Ok(())
    } else {
        Err(INVALID)
    }
}

fn validate_domain(domain: &str) -> Result<(), InvalidEmail> {
    const INVALID: InvalidEmail = InvalidEmail("has an invalid domain");
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(INVALID);
    }
    for label in &labels {
        let ok_len = !label.is_empty() && label.len() <= MAX_LABEL_LEN;
        let ok_chars = label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        let ok_ends = !label.starts_with('-') && !label.ends_with('-');
        if !(ok_len && ok_chars && ok_ends) {
            return Err(INVALID);
        }
    }
    let tld = labels[labels.len() - 1];
    if tld.chars().all(|c| c.is_ascii_digit()) {
        return Err(INVALID);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_is_trimmed_and_lower_cased() {
        let email = EmailAddress::parse("  John.Doe@Example.COM \n").unwrap();
        assert_eq!(email.as_str(), "john.doe@example.com");
    }

    #[test]
    fn punycode_domain_is_accepted() {
        assert!(EmailAddress::parse("ali@xn--bcher-kva.example").is_ok());
    }

    #[test]
    fn address_missing_at_symbol_is_rejected() {
        assert!(EmailAddress::parse("john.example.com").is_err());
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for raw in [
            "",
            "   ",
            "@example.com",
            "john@",
            "john@example",
            "john@@example.com",
            "john..doe@example.com",
            ".john@example.com",
            "john.@example.com",
            "john@-example.com",
            "john@example-.com",
            "john@exa_mple.com",
            "john@example..com",
            "john@127.0.0.1",
            "john doe@example.com",
            "\"john\"@example.com",
            "john@[127.0.0.1]",
        ] {
            assert!(EmailAddress::parse(raw).is_err(), "accepted {raw:?}");
        }
    }

    #[test]
    fn control_and_non_ascii_characters_are_rejected() {
        for raw in [
            "jo\0hn@example.com",
            "jo\u{7}hn@example.com",
            "john@exam\rple.com",
            "jоhn@example.com", // Cyrillic 'о'
            "john@bücher.example",
            "jo\u{200b}hn@example.com",
        ] {
            assert!(EmailAddress::parse(raw).is_err(), "accepted {raw:?}");
        }
    }

    #[test]
    fn over_long_input_is_rejected() {
        let local = "a".repeat(65);
        assert!(EmailAddress::parse(&format!("{local}@example.com")).is_err());
        let domain = format!("{}.com", "a".repeat(64));
        assert!(EmailAddress::parse(&format!("john@{domain}")).is_err());
        let long = format!("john@{}.com", ["abcdefghij"; 30].join("."));
        assert!(long.len() > MAX_LEN);
        assert!(EmailAddress::parse(&long).is_err());
    }
}
