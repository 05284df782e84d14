//! Authentication: argon2id passwords, short-lived HS256 access tokens, login rate limits.
//! Refresh-token rotation is in `db::tokens`; the request extractor in `http::extract`.

mod jwt;
mod limiter;
mod password;

pub use jwt::{AccessClaims, JwtKeys};
pub use limiter::{LoginLimiter, LoginLimits};
pub use password::{hash_password, verify_password, PasswordHasher};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// A new opaque refresh token (256 random bits) and the hash under which it is stored.
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = refresh_token_hash(&token);
    (token, hash)
}

/// How a presented refresh token is looked up: only its hash is stored.
pub fn refresh_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
