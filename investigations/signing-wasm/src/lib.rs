//! Each export signs or verifies `n` times over a JWT-sized message with one
//! key, so run.mjs can time the crates in the same engine the worker runs
//! in. Plain `extern "C"` exports: no wasm-bindgen, no imports.

use ed25519_dalek::{Signer, Verifier};
use p256::ecdsa::{Signature as EcSignature, SigningKey as EcSigningKey};

const SEED: [u8; 32] = [7; 32];
/// About the size of an access token's signing input.
const MESSAGE_LEN: usize = 400;

fn message(i: u32) -> [u8; MESSAGE_LEN] {
    let mut message = [b'a'; MESSAGE_LEN];
    message[..4].copy_from_slice(&i.to_le_bytes());
    message
}

#[no_mangle]
pub extern "C" fn sign_compact(n: u32) -> u32 {
    let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(SEED));
    (0..n).fold(0, |acc, i| {
        acc ^ u32::from(pair.sk.sign(message(i), None)[0])
    })
}

#[no_mangle]
pub extern "C" fn sign_dalek(n: u32) -> u32 {
    let key = ed25519_dalek::SigningKey::from_bytes(&SEED);
    (0..n).fold(0, |acc, i| {
        acc ^ u32::from(key.sign(&message(i)).to_bytes()[0])
    })
}

#[no_mangle]
pub extern "C" fn verify_compact(n: u32) -> u32 {
    let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(SEED));
    let signature = pair.sk.sign(message(0), None);
    (0..n)
        .filter(|_| pair.pk.verify(message(0), &signature).is_ok())
        .count() as u32
}

#[no_mangle]
pub extern "C" fn verify_dalek(n: u32) -> u32 {
    let key = ed25519_dalek::SigningKey::from_bytes(&SEED);
    let public = key.verifying_key();
    let signature = key.sign(&message(0));
    (0..n)
        .filter(|_| public.verify(&message(0), &signature).is_ok())
        .count() as u32
}

/// 1 when both crates make the same signature (Ed25519 is deterministic).
#[no_mangle]
pub extern "C" fn same_signature() -> u32 {
    let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(SEED));
    let key = ed25519_dalek::SigningKey::from_bytes(&SEED);
    u32::from(pair.sk.sign(message(1), None).as_ref() == key.sign(&message(1)).to_bytes())
}

#[no_mangle]
pub extern "C" fn sign_es256(n: u32) -> u32 {
    let key = EcSigningKey::from_slice(&SEED).unwrap();
    (0..n).fold(0, |acc, i| {
        let signature: EcSignature = key.sign(&message(i));
        acc ^ u32::from(signature.to_bytes()[0])
    })
}

#[no_mangle]
pub extern "C" fn verify_es256(n: u32) -> u32 {
    let key = EcSigningKey::from_slice(&SEED).unwrap();
    let public = *key.verifying_key();
    let signature: EcSignature = key.sign(&message(0));
    (0..n)
        .filter(|_| public.verify(&message(0), &signature).is_ok())
        .count() as u32
}
