//! Access tokens: HS256 JWTs with the algorithm pinned and `exp`, `iss`, `aud`, `sub` and
//! `sep` required. They carry what permissions need (type, provider, patient record) so that a
//! read costs no user lookup, and the session epoch they were issued at (`sep`): any change of
//! those rights, or of the password, moves the user's epoch on, and the request extractor
//! refuses a token from an older one (see `auth::sessions`). `fam` names the refresh family
//! the token was issued with (a password change keeps that session, ends the others).

use chrono::Utc;
use domain::{Caller, UserType};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

use super::sessions::SessionEpochs;

#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: Uuid,
    pub typ: UserType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prv: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pat: Option<Uuid>,
    /// The user's session epoch when the token was issued.
    pub sep: i64,
    /// The refresh family (sign-in) the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<Uuid>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// What a token that passed every check speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub caller: Caller,
    /// The session epoch it was issued at: still the user's, or the token is refused.
    pub epoch: i64,
    /// The sign-in it belongs to.
    pub family: Option<Uuid>,
}

/// The signing key and the rules a token must pass.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    /// How long an access token lives.
    pub ttl: Duration,
    /// Tokens that passed every check, with the caller they carry and their expiry. Checking a
    /// token (HMAC key setup, signature, two JSON parses) was a third of the CPU of a
    /// single-patient read; a client sends the same token for minutes. Only a token that
    /// `jsonwebtoken` accepted gets in (keyed by the whole token), and expiry is checked again
    /// on every hit.
    verified: Arc<Mutex<HashMap<String, (Verified, i64)>>>,
    /// Users' current session epochs, briefly cached.
    pub sessions: Arc<SessionEpochs>,
}

/// Verified tokens kept at most; the cache starts over when full.
const VERIFIED_CAPACITY: usize = 10_000;

impl JwtKeys {
    pub fn new(secret: &[u8], issuer: &str, audience: &str, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
            verified: Arc::default(),
            sessions: Arc::default(),
        }
    }

    /// An access token for `caller` at session epoch `epoch`, in refresh family `family`.
    pub fn issue(
        &self,
        caller: &Caller,
        epoch: i64,
        family: Option<Uuid>,
    ) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            sub: caller.id,
            typ: caller.kind,
            prv: caller.provider_id,
            pat: caller.patient_id,
            sep: epoch,
            fam: family,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// What a token speaks for; `None` for any token that fails a check. (Whether its session
    /// epoch is still current is for the caller to ask [`SessionEpochs`].)
    pub fn verify(&self, token: &str) -> Option<Verified> {
        let now = Utc::now().timestamp();
        {
            let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(&(v, exp)) = verified.get(token) {
                if now < exp {
                    return Some(v);
                }
                verified.remove(token);
                return None;
            }
        }
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).ok()?;
        let c = data.claims;
        let v = Verified {
            caller: Caller {
                id: c.sub,
                kind: c.typ,
                provider_id: c.prv,
                patient_id: c.pat,
            },
            epoch: c.sep,
            family: c.fam,
        };
        if now < c.exp {
            let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if verified.len() >= VERIFIED_CAPACITY {
                verified.clear();
            }
            verified.insert(token.to_owned(), (v, c.exp));
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_and_token(kind: UserType) -> (JwtKeys, Verified, String) {
        let keys = JwtKeys::new(
            b"unit test secret, long enough to use",
            "iss",
            "aud",
            Duration::from_secs(60),
        );
        let caller = Caller {
            id: Uuid::now_v7(),
            kind,
            provider_id: None,
            patient_id: None,
        };
        let family = Some(Uuid::now_v7());
        let token = keys.issue(&caller, 7, family).expect("issued");
        let v = Verified {
            caller,
            epoch: 7,
            family,
        };
        (keys, v, token)
    }

    #[test]
    fn only_the_exact_verified_token_hits_the_cache() {
        let (keys, caller, token) = keys_and_token(UserType::Dietician);
        assert_eq!(keys.verify(&token), Some(caller));
        assert_eq!(
            keys.verify(&token),
            Some(caller),
            "second time, from the cache"
        );
        // Flip a character in the middle of the signature (the last one can be padding bits).
        let (head, signature) = token.rsplit_once('.').expect("three parts");
        let mut sig: Vec<char> = signature.chars().collect();
        sig[10] = if sig[10] == 'A' { 'B' } else { 'A' };
        let forged = format!("{head}.{}", sig.into_iter().collect::<String>());
        assert_eq!(keys.verify(&forged), None);
        assert_eq!(keys.verify(&format!("{head}.")), None, "no signature");
    }

    #[test]
    fn a_token_without_a_session_epoch_is_refused() {
        let (keys, v, _) = keys_and_token(UserType::Admin);
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({"sub": v.caller.id, "typ": "admin", "iss": "iss",
            "aud": "aud", "iat": now, "exp": now + 60});
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"unit test secret, long enough to use"),
        )
        .expect("signed");
        assert_eq!(keys.verify(&token), None);
    }

    #[test]
    fn an_expired_token_is_refused_even_if_it_was_cached() {
        let (keys, _, token) = keys_and_token(UserType::Admin);
        keys.verify(&token).expect("valid");
        // Age the cached entry past its expiry.
        keys.verified
            .lock()
            .expect("lock")
            .get_mut(&token)
            .expect("cached")
            .1 = Utc::now().timestamp() - 1;
        assert_eq!(keys.verify(&token), None);
    }
}
