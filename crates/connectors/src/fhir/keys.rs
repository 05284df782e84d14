//! The platform's signing key at a PHP: SMART Backend Services clients authenticate with a JWT
//! signed by a private key whose public half the PHP has registered (as a JWK Set). The SMART
//! spec asks clients to support RS384 and ES384; both are here.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p384::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use serde_json::{json, Value};
use std::fmt;

use crate::ConnectorError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Rs384,
    Es384,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs384 => "RS384",
            Self::Es384 => "ES384",
        }
    }

    fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Rs384 => jsonwebtoken::Algorithm::RS384,
            Self::Es384 => jsonwebtoken::Algorithm::ES384,
        }
    }
}

/// A private key (PKCS#8 PEM), its algorithm and the `kid` the PHP knows it by.
#[derive(Clone)]
pub struct SigningKey {
    alg: Alg,
    kid: String,
    pem: String,
    encoding: jsonwebtoken::EncodingKey,
    public: Value,
}

/// Keys never reach logs.
impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn bad_key(what: &str) -> ConnectorError {
    ConnectorError::Config(format!("the signing key is unusable: {what}"))
}

impl SigningKey {
    /// A new P-384 key (ES384): what the platform generates when an admin asks it to.
    pub fn generate_es384(kid: &str) -> Self {
        let secret = p384::SecretKey::random(&mut rand::rngs::OsRng);
        let pem = secret
            .to_pkcs8_pem(LineEnding::LF)
            .expect("a fresh P-384 key encodes");
        Self::from_pem(&pem, kid).expect("a fresh P-384 key loads")
    }

    /// A new 2048-bit RSA key (RS384).
    pub fn generate_rs384(kid: &str) -> Self {
        use rsa::pkcs8::EncodePrivateKey as _;
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("RSA keygen");
        let pem = key
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .expect("a fresh RSA key encodes");
        Self::from_pem(&pem, kid).expect("a fresh RSA key loads")
    }

    /// A PKCS#8 PEM private key, P-384 (ES384) or RSA of at least 2048 bits (RS384).
    pub fn from_pem(pem: &str, kid: &str) -> Result<Self, ConnectorError> {
        if kid.is_empty() || kid.len() > 200 {
            return Err(bad_key("the key id (kid) must be 1-200 characters"));
        }
        if let Ok(secret) = p384::SecretKey::from_pkcs8_pem(pem) {
            let mut public: Value = serde_json::from_str(&secret.public_key().to_jwk_string())
                .map_err(|_| bad_key("its public half does not encode"))?;
            let encoding = jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes())
                .map_err(|_| bad_key("not a P-384 PKCS#8 key"))?;
            public["kid"] = json!(kid);
            public["alg"] = json!("ES384");
            public["use"] = json!("sig");
            return Ok(Self {
                alg: Alg::Es384,
                kid: kid.to_owned(),
                pem: pem.to_owned(),
                encoding,
                public,
            });
        }
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|_| bad_key("expected a PKCS#8 PEM P-384 or RSA private key"))?;
        if key.size() < 256 {
            return Err(bad_key("RSA keys must have at least 2048 bits"));
        }
        let encoding = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|_| bad_key("not an RSA PEM key"))?;
        let public = json!({
            "kty": "RSA",
            "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
            "kid": kid,
            "alg": "RS384",
            "use": "sig",
        });
        Ok(Self {
            alg: Alg::Rs384,
            kid: kid.to_owned(),
            pem: pem.to_owned(),
            encoding,
            public,
        })
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key, for storing encrypted. Never log it.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The public key as a JWK, to register at the PHP.
    pub fn public_jwk(&self) -> &Value {
        &self.public
    }

    /// `{"keys": [jwk]}`
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.public] })
    }

    /// A client assertion for `token_url`: issuer and subject the client id, a fresh `jti`,
    /// five minutes of validity (the most SMART allows), `kid` in the header.
    pub fn client_assertion(
        &self,
        client_id: &str,
        token_url: &str,
    ) -> Result<String, ConnectorError> {
        let mut header = jsonwebtoken::Header::new(self.alg.jwt());
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        let now = chrono::Utc::now().timestamp();
        let claims = json!({
            "iss": client_id,
            "sub": client_id,
            "aud": token_url,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now,
            "exp": now + 300,
        });
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|_| bad_key("signing the client assertion failed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(key: &SigningKey, token: &str) -> Value {
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(key.public_jwk().clone()).expect("jwk");
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("decoding key");
        let mut validation = jsonwebtoken::Validation::new(key.alg().jwt());
        validation.set_audience(&["https://php.example/token"]);
        jsonwebtoken::decode::<Value>(token, &decoding, &validation)
            .expect("verifies against the public JWK")
            .claims
    }

    #[test]
    fn assertions_verify_against_the_published_key_and_never_repeat_a_jti() {
        for key in [
            SigningKey::generate_es384("es-1"),
            SigningKey::generate_rs384("rs-1"),
        ] {
            let a = key
                .client_assertion("client-7", "https://php.example/token")
                .expect("sign");
            let b = key
                .client_assertion("client-7", "https://php.example/token")
                .expect("sign");
            let header = jsonwebtoken::decode_header(&a).expect("header");
            assert_eq!(header.kid.as_deref(), Some(key.kid()));
            assert_eq!(header.alg, key.alg().jwt());
            let (ca, cb) = (verify(&key, &a), verify(&key, &b));
            assert_eq!(ca["iss"], "client-7");
            assert_eq!(ca["sub"], "client-7");
            assert_ne!(ca["jti"], cb["jti"]);
            assert!(ca["exp"].as_i64().unwrap() - ca["iat"].as_i64().unwrap() <= 300);
            // The PEM round-trips to the same public key.
            let again = SigningKey::from_pem(key.pem(), key.kid()).expect("reload");
            assert_eq!(again.public_jwk(), key.public_jwk());
            assert!(!format!("{key:?}").contains("PRIVATE"));
        }
    }

    #[test]
    fn unusable_keys_are_refused_with_a_reason() {
        let err = SigningKey::from_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            "k",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("PKCS#8"), "{err}");
        let key = SigningKey::generate_es384("k");
        assert!(SigningKey::from_pem(key.pem(), "").is_err());
    }
}
