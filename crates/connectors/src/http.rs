//! What every remote call shares: sending with a timeout, reading a body no larger than a
//! cap, and turning an unsuccessful status into a [`ConnectorError`] without quoting the body.

use crate::{ConnectorError, Result};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode};
use std::time::Duration;

/// Caps on what the platform accepts from a remote system (OWASP API10: unsafe consumption).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest response body read (a search page with inline attachments).
    pub max_response_bytes: usize,
    /// The largest document kept; larger ones are refused and logged.
    pub max_document_bytes: usize,
    /// The most pages followed in one search.
    pub max_pages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_response_bytes: 48 << 20,
            max_document_bytes: 25 << 20,
            max_pages: 500,
        }
    }
}

/// Sends `req`. A connection that could not be made is transient (nothing was sent); one
/// that failed later (a timeout, a reset) is unsure: the remote may have acted on it.
pub(crate) async fn send(req: RequestBuilder, remote: &str) -> Result<Response> {
    req.timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|e| {
            if e.is_connect() {
                ConnectorError::Transient(format!("{remote} could not be reached"), None)
            } else if e.is_timeout() {
                ConnectorError::Unsure(format!("{remote} did not answer in time"))
            } else {
                ConnectorError::Unsure(format!("the connection to {remote} broke"))
            }
        })
}

/// `Retry-After` in seconds or as an HTTP date, capped at an hour.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs = match value.parse::<u64>() {
        Ok(secs) => secs,
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            u64::try_from((at.timestamp() - chrono::Utc::now().timestamp()).max(0)).ok()?
        }
    };
    Some(Duration::from_secs(secs.min(3600)))
}

/// The error for an unsuccessful answer. Bodies are not quoted: they can carry PHI.
pub(crate) fn status_error(
    status: StatusCode,
    headers: &HeaderMap,
    remote: &str,
    doing: &str,
) -> ConnectorError {
    let code = status.as_u16();
    match status {
        StatusCode::TOO_MANY_REQUESTS => ConnectorError::Transient(
            format!("{remote} is rate limiting us ({doing}: HTTP 429)"),
            retry_after(headers),
        ),
        s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => {
            ConnectorError::Transient(
                format!("{remote} failed ({doing}: HTTP {code})"),
                retry_after(headers),
            )
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ConnectorError::Auth(format!(
            "{remote} refused the platform's credentials ({doing}: HTTP {code}); check the client id, key or API key configured for it"
        )),
        StatusCode::NOT_FOUND | StatusCode::GONE => {
            ConnectorError::NotFound(format!("{remote} has no such resource ({doing}: HTTP {code})"))
        }
        StatusCode::PAYLOAD_TOO_LARGE => ConnectorError::Refused(format!(
            "{remote} refused the file as too large ({doing}: HTTP 413)"
        )),
        _ => ConnectorError::Refused(format!("{remote} refused the request ({doing}: HTTP {code})")),
    }
}

/// The body, read until `cap` bytes at most.
pub(crate) async fn read_capped(mut res: Response, cap: usize, remote: &str) -> Result<Vec<u8>> {
    if res.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large(remote, cap));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|_| ConnectorError::Unsure(format!("{remote} broke off its answer")))?
    {
        if body.len() + chunk.len() > cap {
            return Err(too_large(remote, cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn too_large(remote: &str, cap: usize) -> ConnectorError {
    ConnectorError::Invalid(format!(
        "{remote} sent an answer over the {} MiB the platform accepts",
        cap >> 20
    ))
}

/// Retries of one call while the remote is briefly unavailable: up to `tries`
/// attempts, waiting 200 ms doubling to 5 s with jitter, or the remote's `Retry-After`
/// (up to 30 s) when longer. Longer outages are the job queue's to wait out.
#[derive(Debug, Clone, Copy)]
pub struct CallRetry {
    pub tries: u32,
    pub first: Duration,
    pub max: Duration,
}

impl Default for CallRetry {
    fn default() -> Self {
        Self {
            tries: 4,
            first: Duration::from_millis(200),
            max: Duration::from_secs(5),
        }
    }
}

impl CallRetry {
    /// Runs `op`, retrying transient failures; unsure ones (the remote may have acted) only
    /// when `op` is `idempotent`.
    pub(crate) async fn run<T, F, Fut>(&self, idempotent: bool, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match op().await {
                Err(e)
                    if attempt < self.tries
                        && (matches!(e, ConnectorError::Transient(..))
                            || (idempotent && e.is_transient())) =>
                {
                    let backoff = self
                        .first
                        .saturating_mul(1 << (attempt - 1).min(16))
                        .min(self.max)
                        .mul_f64(0.5 + rand::random::<f64>() * 0.5);
                    let asked = e
                        .retry_after()
                        .unwrap_or_default()
                        .min(Duration::from_secs(30));
                    tokio::time::sleep(backoff.max(asked)).await;
                }
                other => return other,
            }
        }
    }
}
