//! Encryption of what the platform keeps to sign in elsewhere (a PHP's private key or bearer
//! token): AES-256-GCM under the secrets key (`RECORDS_SECRETS_KEY`, else generated in the
//! data directory), a fresh nonce each time, stored as `v1:<base64(nonce || ciphertext)>`.

use aes_gcm::aead::{Aead as _, KeyInit as _};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::Digest as _;

#[derive(Clone)]
pub struct Cipher(Aes256Gcm);

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(<redacted>)")
    }
}

impl Cipher {
    /// Any secret of at least 32 bytes; the AES key is its SHA-256.
    pub fn new(secret: &[u8]) -> Self {
        let key = sha2::Sha256::digest(secret);
        Self(Aes256Gcm::new_from_slice(&key).expect("a 32-byte key"))
    }

    pub fn seal(&self, plain: &str) -> String {
        let nonce: [u8; 12] = rand::random();
        let sealed = self
            .0
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .expect("AES-GCM encryption of a short secret");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!("v1:{}", B64.encode(out))
    }

    /// `None`: not sealed by this key (another instance's key, or a damaged value).
    pub fn open(&self, sealed: &str) -> Option<String> {
        let bytes = B64.decode(sealed.strip_prefix("v1:")?).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, body) = bytes.split_at(12);
        let plain = self.0.decrypt(Nonce::from_slice(nonce), body).ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_never_repeat() {
        let cipher = Cipher::new(b"a secrets key of at least thirty-two bytes");
        let a = cipher.seal("-----BEGIN PRIVATE KEY-----");
        let b = cipher.seal("-----BEGIN PRIVATE KEY-----");
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.contains("PRIVATE"));
        assert_eq!(
            cipher.open(&a).as_deref(),
            Some("-----BEGIN PRIVATE KEY-----")
        );
        let other = Cipher::new(b"another secrets key, also thirty-two bytes");
        assert_eq!(other.open(&a), None);
        let mut tampered = a;
        tampered.pop();
        tampered.push('A');
        assert_eq!(cipher.open(&tampered), None);
        assert_eq!(cipher.open("plain text"), None);
    }
}
