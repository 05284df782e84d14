//! The email telling the practice that a new-patient inquiry arrived.
//!
//! It says when, and where to read it (the app's Inquiries), and nothing about the person:
//! email is not a safe channel for health details, and an inquiry may hold some. Sent over
//! SMTP by the client built once from the settings ([`crate::config::SmtpSettings`]); a
//! server that answers 4xx or cannot be reached is tried again with the other jobs' backoff,
//! a 5xx parks the job at once (sending it again would be refused again), and either way the
//! inquiry itself is stored already.

use super::{Done, JobError};
use crate::app::AppState;
use crate::db::jobs::Job;
use domain::InquiryNotification;
use lettre::message::{header::ContentType, Mailbox, Message};
use lettre::transport::smtp::Error as SmtpError;
use lettre::AsyncTransport as _;

/// One attempt at the email announcing `job`'s inquiry.
pub(super) async fn send(app: &AppState, job: &Job) -> Result<Done, JobError> {
    let settings = app.config.smtp.as_ref().ok_or_else(|| {
        JobError::permanent(
            "no SMTP server is configured (RECORDS_SMTP_URL); the inquiry waits in the app",
        )
    })?;
    let inquiry = job
        .inquiry_id
        .ok_or_else(|| JobError::permanent("the email job names no inquiry"))?;
    let Some(mail) = app.db.inquiry_mail(inquiry).await? else {
        return Ok(Done::Finished(
            "The inquiry is gone; nothing to announce.".into(),
        ));
    };
    if mail.sent {
        // An earlier attempt sent it and lost its lease before settling: not twice.
        return Ok(Done::Finished("Sent already.".into()));
    }
    app.db
        .set_inquiry_notification(inquiry, InquiryNotification::Pending)
        .await?;
    let recipients: Vec<Mailbox> = if settings.to.is_empty() {
        mail.dieticians
            .iter()
            .map(|a| a.parse())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                JobError::permanent("a dietician's email address is not one the mail server takes")
            })?
    } else {
        settings.to.clone()
    };
    if recipients.is_empty() {
        return Err(JobError::permanent(
            "no one to email: set RECORDS_SMTP_TO, or add a dietician",
        ));
    }
    let message = message(&settings.from, &recipients, &mail.received, inquiry)?;
    settings
        .transport
        .send(message)
        .await
        .map_err(|e| refused(&e))?;
    app.db
        .set_inquiry_notification(inquiry, InquiryNotification::Sent)
        .await?;
    tracing::info!(job = %job.id, recipients = recipients.len(), "inquiry email sent");
    Ok(Done::Finished(format!(
        "Emailed {} recipient(s).",
        recipients.len()
    )))
}

/// The email: when the inquiry arrived and where to read it; a short reference to find it.
fn message(
    from: &Mailbox,
    recipients: &[Mailbox],
    received: &str,
    inquiry: uuid::Uuid,
) -> Result<Message, JobError> {
    let mut builder = Message::builder()
        .from(from.clone())
        .subject("New patient inquiry");
    for to in recipients {
        builder = builder.to(to.clone());
    }
    let reference = domain::dto::Inquiry::reference_of(inquiry);
    let body = format!(
        "A new-patient inquiry arrived through the practice's website ({received}).\n\n\
         Open the healthcare-records app and choose Inquiries to read it, make a patient of it \
         or set it aside (reference {reference}).\n\n\
         This email leaves out who wrote and what they wrote on purpose: email is not a safe \
         place for health details.\n"
    );
    builder
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|_| JobError::permanent("the inquiry email could not be put together"))
}

/// What a failed send means for the job. The server's own words are not repeated: they may
/// name addresses.
fn refused(e: &SmtpError) -> JobError {
    let code = e.status().map(|c| c.to_string());
    if e.is_permanent() {
        JobError::permanent(format!(
            "the SMTP server refused the email ({}); check the sender and recipients",
            code.as_deref().unwrap_or("permanent error")
        ))
    } else {
        let what = match code {
            Some(code) => format!("the SMTP server turned the email away for now ({code})"),
            None => "the SMTP server could not be reached (network, TLS or timeout)".to_owned(),
        };
        JobError {
            message: what,
            transient: true,
            retry_after: None,
            waiting: false,
        }
    }
}
