//! Keys per purpose, derived from the `OTP_HASH_KEY` secret with labels
//! (HMAC-SHA256(secret, label)), so that hashing codes, keying rate-limit
//! counters, hashing audit fields and marking deleted accounts never share a
//! key: a leak or a rotation of one use does not reach the others.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ids::to_hex;
use super::otp::CodeHasher;

const CODES: &str = "allmine-auth/v1/otp-codes";
const LIMITS: &str = "allmine-auth/v1/rate-limit-keys";
const AUDIT: &str = "allmine-auth/v1/audit-hashes";
const MARKERS: &str = "allmine-auth/v1/deleted-account-markers";

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// A keyed, irreversible tag of a value for one purpose: storage and logs can
/// recognise a value without being able to read it back.
#[derive(Clone)]
struct Tagger {
    key: Vec<u8>,
}

impl Tagger {
    fn tag(&self, purpose: &str, value: &str) -> String {
        to_hex(&hmac(
            &self.key,
            &[purpose.as_bytes(), b"\0", value.as_bytes()],
        ))
    }
}

/// Every key the service derives from its hash secrets.
#[derive(Clone)]
pub struct PurposeKeys {
    /// Hashes pending codes.
    pub codes: CodeHasher,
    limits: Tagger,
    audit: Tagger,
    /// The current marker key first, then those of previous secrets, then the
    /// raw previous secrets themselves (markers written before keys were split).
    markers: Vec<Tagger>,
}

impl PurposeKeys {
    /// `previous`: secrets that were `OTP_HASH_KEY` before a rotation; only
    /// their deleted-account markers stay recognised.
    pub fn derive(secret: &[u8], previous: &[&[u8]]) -> Self {
        let derive = |label: &str| hmac(secret, &[label.as_bytes()]);
        let mut markers = vec![Tagger {
            key: derive(MARKERS),
        }];
        for old in previous {
            markers.push(Tagger {
                key: hmac(old, &[MARKERS.as_bytes()]),
            });
        }
        // Markers from before the keys were split used the secret itself.
        for raw in std::iter::once(secret).chain(previous.iter().copied()) {
            markers.push(Tagger { key: raw.to_vec() });
        }
        Self {
            codes: CodeHasher::new(derive(CODES)),
            limits: Tagger {
                key: derive(LIMITS),
            },
            audit: Tagger { key: derive(AUDIT) },
            markers,
        }
    }

    /// The rate-limit tag of an address.
    pub fn address_tag(&self, email: &str) -> String {
        self.limits.tag("address", email)
    }

    /// The rate-limit tag of an address as seen from one client network.
    pub fn address_network_tag(&self, email: &str, network: &str) -> String {
        self.limits
            .tag("address-network", &format!("{email}\0{network}"))
    }

    /// What storage keeps of a login id: a tag bound to its address, so the
    /// id alone names no row and a read of the table yields no usable id.
    pub fn login_tag(&self, email: &str, login_id: &str) -> String {
        self.limits.tag("login", &format!("{email}\0{login_id}"))
    }

    /// The audit trail's hash of a value (`"email"`, `"ip"`).
    pub fn audit_tag(&self, kind: &str, value: &str) -> String {
        self.audit.tag(kind, value)
    }

    /// What a finalised deletion leaves of an address: recognisable (it cannot
    /// sign up again) but not readable.
    pub fn tombstone(&self, email: &str) -> String {
        Self::marker(&self.markers[0], email)
    }

    /// Every marker the address may have been left under, newest key first.
    pub fn tombstones(&self, email: &str) -> Vec<String> {
        self.markers
            .iter()
            .map(|m| Self::marker(m, email))
            .collect()
    }

    fn marker(tagger: &Tagger, email: &str) -> String {
        format!("deleted:{}", tagger.tag("account-tombstone", email))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_purpose_has_its_own_key() {
        let keys = PurposeKeys::derive(b"secret-secret-secret-secret-1234", &[]);
        let a = keys.address_tag("john@example.com");
        assert_ne!(a, keys.audit_tag("address", "john@example.com"));
        assert_ne!(a, keys.tombstone("john@example.com")["deleted:".len()..]);
        assert_ne!(
            a,
            keys.address_network_tag("john@example.com", "198.51.100.7")
        );
        assert_ne!(
            keys.address_network_tag("john@example.com", "198.51.100.7"),
            keys.address_network_tag("john@example.com", "198.51.100.8")
        );
    }

    #[test]
    fn tombstones_are_stable_keyed_and_unreadable() {
        let keys = PurposeKeys::derive(b"secret", &[]);
        let a = keys.tombstone("john@example.com");
        assert_eq!(a, keys.tombstone("john@example.com"));
        assert!(a.starts_with("deleted:") && !a.contains("john"));
        assert_ne!(a, keys.tombstone("jane@example.com"));
        assert_ne!(
            a,
            PurposeKeys::derive(b"other", &[]).tombstone("john@example.com")
        );
    }

    #[test]
    fn markers_of_earlier_keys_stay_recognised() {
        // A marker written before the keys were split (the raw secret's tag)...
        let legacy = format!(
            "deleted:{}",
            Tagger {
                key: b"old".to_vec()
            }
            .tag("account-tombstone", "john@example.com")
        );
        let before_rotation = PurposeKeys::derive(b"old", &[]).tombstone("john@example.com");
        // ...and one written under the key that was rotated away.
        let rotated = PurposeKeys::derive(b"new", &[b"old"]);
        let known = rotated.tombstones("john@example.com");
        assert!(known.contains(&legacy));
        assert!(known.contains(&before_rotation));
        assert_eq!(known[0], rotated.tombstone("john@example.com"));
        assert!(!PurposeKeys::derive(b"new", &[])
            .tombstones("john@example.com")
            .contains(&before_rotation));
    }
}
