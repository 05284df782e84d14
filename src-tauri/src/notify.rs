//! Desktop notifications for sync results. Counts only: a notification can show on a locked
//! screen or a projector, so it never names a patient or a document.

use sync_core::SyncError;

const APP_NAME: &str = "Healthcare Records";

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// After a sync that brought new documents or inquiries, conflicts or refused edits; silent
/// otherwise.
pub fn sync_finished(summary: &sync_core::SyncSummary) {
    let lines = finished_lines(summary);
    if lines.is_empty() {
        return;
    }
    let title = if summary.conflicts > 0 {
        "Sync found conflicts"
    } else {
        "Sync finished"
    };
    show(title, lines.join(" "));
}

fn finished_lines(summary: &sync_core::SyncSummary) -> Vec<String> {
    let (new_documents, conflicts, rejected) =
        (summary.new_documents, summary.conflicts, summary.rejected);
    let mut lines = Vec::new();
    if new_documents > 0 {
        lines.push(format!(
            "{} arrived.",
            plural(new_documents, "new document", "new documents")
        ));
    }
    if summary.new_inquiries > 0 {
        lines.push(format!(
            "{} from someone asking to become a patient.",
            plural(summary.new_inquiries, "new inquiry", "new inquiries")
        ));
    }
    if conflicts > 0 {
        lines.push(format!(
            "{} your decision.",
            plural(conflicts, "change needs", "changes need")
        ));
    }
    if rejected > 0 {
        lines.push(format!(
            "{} refused by the server.",
            plural(rejected, "change was", "changes were")
        ));
    }
    lines
}

pub fn sync_failed(e: &SyncError) {
    let body = match e {
        SyncError::Offline(_) => {
            "The server cannot be reached. Your changes are kept and sent when it can.".to_owned()
        }
        SyncError::Unauthorized => "Your session has ended: sign in again.".to_owned(),
        SyncError::Server { detail, .. } if !detail.is_empty() => format!("{detail}."),
        SyncError::Server { status, .. } => {
            format!("The server answered {status}; try again later.")
        }
        _ => "The local copy could not be updated; see the app for details.".to_owned(),
    };
    show("Sync failed", body);
}

/// A pull from a patient's PHP started here is done (or waits for a person).
pub fn pull_finished(job: &sync_core::online::Job) {
    show("Pull from the provider", pull_words(job));
}

/// What a finished pull brought, in counts (a parked one: what to do, as the platform says).
fn pull_words(job: &sync_core::online::Job) -> String {
    use domain::JobStatus;
    let c = job.progress;
    if job.status == JobStatus::Parked {
        return match &job.last_error {
            Some(why) => format!("It stopped: {why}"),
            None => "It stopped; an administrator can replay it.".to_owned(),
        };
    }
    if c.stored + c.updated + c.removed == 0 {
        return format!(
            "Nothing new: {} at the provider, all here already.",
            plural(c.found as usize, "document", "documents")
        );
    }
    let mut parts = vec![plural(c.stored as usize, "new document", "new documents")];
    if c.updated > 0 {
        parts.push(format!("{} updated", c.updated));
    }
    if c.removed > 0 {
        parts.push(format!("{} withdrawn", c.removed));
    }
    format!("{}.", parts.join(", "))
}

fn show(summary: &'static str, body: String) {
    // Talking to the notification daemon blocks; it never holds up a sync.
    std::thread::spawn(move || {
        let shown = notify_rust::Notification::new()
            .appname(APP_NAME)
            .summary(summary)
            .body(&body)
            .icon("healthcare-records")
            .show();
        if let Err(e) = shown {
            tracing::warn!("desktop notification not shown: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::{finished_lines, plural, pull_words};
    use domain::{JobCause, JobKind, JobStatus};
    use sync_core::online::{Job, PullCounts};

    fn job(status: JobStatus, progress: PullCounts, last_error: Option<&str>) -> Job {
        Job {
            id: uuid::Uuid::now_v7(),
            kind: JobKind::Pull,
            patient_id: Some(uuid::Uuid::now_v7()),
            inquiry_id: None,
            cause: JobCause::Manual,
            attempts: 1,
            run_at: "2026-11-29T10:00:00Z".into(),
            updated_at: "2026-11-29T10:00:01Z".into(),
            status,
            progress,
            last_error: last_error.map(str::to_owned),
        }
    }

    #[test]
    fn a_sync_is_told_in_counts_inquiries_too() {
        let summary = sync_core::SyncSummary {
            new_documents: 2,
            new_inquiries: 1,
            ..Default::default()
        };
        assert_eq!(
            finished_lines(&summary),
            [
                "2 new documents arrived.",
                "1 new inquiry from someone asking to become a patient."
            ]
        );
        assert!(finished_lines(&sync_core::SyncSummary::default()).is_empty());
    }

    #[test]
    fn a_pull_is_told_in_counts() {
        let brought = PullCounts {
            found: 5,
            stored: 2,
            updated: 1,
            unchanged: 2,
            ..Default::default()
        };
        assert_eq!(
            pull_words(&job(JobStatus::Done, brought, None)),
            "2 new documents, 1 updated."
        );
        let nothing = PullCounts {
            found: 1,
            unchanged: 1,
            ..Default::default()
        };
        assert_eq!(
            pull_words(&job(JobStatus::Done, nothing, None)),
            "Nothing new: 1 document at the provider, all here already."
        );
        assert_eq!(
            pull_words(&job(
                JobStatus::Parked,
                PullCounts::default(),
                Some("the provider refused the platform's key")
            )),
            "It stopped: the provider refused the platform's key"
        );
    }

    #[test]
    fn counts_read_as_english() {
        assert_eq!(plural(1, "new document", "new documents"), "1 new document");
        assert_eq!(
            plural(3, "new document", "new documents"),
            "3 new documents"
        );
    }
}
