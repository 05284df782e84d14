//! Access tokens: HS256 JWTs with the algorithm pinned and `exp`, `iss`, `aud` and `sub`
//! required. They carry what permissions need (type, provider, patient record) so that a read
//! costs no user lookup; they live minutes, so a change of type takes effect at the next refresh.

use chrono::Utc;
use domain::{Caller, UserType};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: Uuid,
    pub typ: UserType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prv: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pat: Option<Uuid>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
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
}

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
        }
    }

    pub fn issue(&self, caller: &Caller) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            sub: caller.id,
            typ: caller.kind,
            prv: caller.provider_id,
            pat: caller.patient_id,
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

    /// The caller a token speaks for; `None` for any token that fails a check.
    pub fn verify(&self, token: &str) -> Option<Caller> {
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).ok()?;
        let c = data.claims;
        Some(Caller {
            id: c.sub,
            kind: c.typ,
            provider_id: c.prv,
            patient_id: c.pat,
        })
    }
}
