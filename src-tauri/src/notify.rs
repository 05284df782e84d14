//! Desktop notifications for sync results. Counts only: a notification can show on a locked
//! screen or a projector, so it never names a patient or a document.

use sync_core::SyncError;

const APP_NAME: &str = "Healthcare Records";

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// After a sync that brought new documents, conflicts or refused edits; silent otherwise.
pub fn sync_finished(new_documents: usize, conflicts: usize, rejected: usize) {
    let mut lines = Vec::new();
    if new_documents > 0 {
        lines.push(format!(
            "{} arrived.",
            plural(new_documents, "new document", "new documents")
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
    if lines.is_empty() {
        return;
    }
    let summary = if conflicts > 0 {
        "Sync found conflicts"
    } else {
        "Sync finished"
    };
    show(summary, lines.join(" "));
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
    use super::plural;

    #[test]
    fn counts_read_as_english() {
        assert_eq!(plural(1, "new document", "new documents"), "1 new document");
        assert_eq!(
            plural(3, "new document", "new documents"),
            "3 new documents"
        );
    }
}
