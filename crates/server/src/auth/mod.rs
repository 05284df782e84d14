//! Authentication: argon2id passwords, short-lived HS256 access tokens tied to a session
//! epoch, login throttling, the client address behind trusted proxies. Refresh-token rotation
//! is in `db::tokens`; the request extractor in `http::extract`.

mod jwt;
mod limiter;
mod password;
mod proxies;
mod sessions;

pub use jwt::{AccessClaims, JwtKeys, Verified};
pub use limiter::{AddressQuota, Attempt, LoginLimiter, LoginLimits};
pub use password::{hash_password, verify_password, PasswordHasher};
pub use proxies::{client_addr, parse_trusted_proxies, IpNet};
pub use sessions::{EndSessions, SessionEpochs, EPOCH_TTL};

use crate::db::{Db, DbResult, NewUserRow};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// The links an account may carry: a provider user's PHP, a patient user's own record.
#[derive(Debug, Default, Clone, Copy)]
pub struct AccountLinks {
    pub provider_id: Option<uuid::Uuid>,
    pub patient_id: Option<uuid::Uuid>,
}

/// Creates an account whose password is stored as an argon2id hash: for `create-admin` and
/// for the accounts tests and benchmarks seed. (The API validates its input first, and also
/// takes a Carepatron id.) `DbError::Unique`: the email is taken.
pub async fn create_account(
    db: &Db,
    kind: domain::UserType,
    email: &str,
    name: &str,
    password: &str,
    links: AccountLinks,
) -> DbResult<domain::dto::User> {
    let hash = hash_password(password.to_owned()).await?;
    db.insert_user(NewUserRow {
        email,
        name,
        kind,
        password_hash: &hash,
        carepatron_id: None,
        provider_id: links.provider_id,
        patient_id: links.patient_id,
    })
    .await
}

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
