//! Random identifiers. Randomness comes from the caller so tests can fix it.

/// A source of cryptographically secure random bytes.
pub trait Random {
    fn fill(&mut self, buf: &mut [u8]);
}

/// The platform CSPRNG (`crypto.getRandomValues` on Workers).
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        // getrandom only fails when the platform has no CSPRNG at all; serving
        // predictable codes or ids would be worse than stopping the request.
        getrandom::fill(buf).expect("the platform CSPRNG is unavailable");
    }
}

/// A random UUID (version 4) in its usual lower-case text form.
pub fn uuid_v4(rng: &mut impl Random) -> String {
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = to_hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `n` random bytes as lower-case hex.
pub fn random_hex(rng: &mut impl Random, n: usize) -> String {
    let mut b = vec![0u8; n];
    rng.fill(&mut b);
    to_hex(&b)
}

pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0x0f) as usize] as char);
    }
    out
}

pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
pub mod testing {
    use super::Random;

    /// Replays the given bytes in a loop: deterministic "randomness" for tests.
    pub struct FixedRandom {
        bytes: Vec<u8>,
        pos: usize,
    }

    impl FixedRandom {
        pub fn new(bytes: &[u8]) -> Self {
            Self {
                bytes: bytes.to_vec(),
                pos: 0,
            }
        }
    }

    impl Random for FixedRandom {
        fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                *b = self.bytes[self.pos % self.bytes.len()];
                self.pos += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::FixedRandom;
    use super::*;

    #[test]
    fn uuid_has_version_and_variant_bits() {
        let id = uuid_v4(&mut FixedRandom::new(&[0xff]));
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    }

    #[test]
    fn os_random_ids_differ() {
        assert_ne!(uuid_v4(&mut OsRandom), uuid_v4(&mut OsRandom));
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(from_hex(&to_hex(&bytes)).unwrap(), bytes);
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
    }
}
