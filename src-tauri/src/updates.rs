//! Updates through tauri-plugin-updater: the endpoint comes from configuration
//! (`RECORDS_UPDATE_ENDPOINT`), the public key from `tauri.conf.json`. A package is installed
//! only after its minisign signature checks out against that key; a failed check is shown
//! and nothing is installed.

use crate::error::{AppError, CommandResult};
use crate::state::Desk;
use serde::Serialize;
use tauri::{AppHandle, Manager as _};
use tauri_plugin_updater::UpdaterExt as _;

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct UpdateInfo {
    pub current_version: String,
    /// The newer version on offer, if any.
    pub version: Option<String>,
    pub notes: Option<String>,
    pub date: Option<String>,
}

fn failed(e: tauri_plugin_updater::Error) -> AppError {
    use tauri_plugin_updater::Error as E;
    match e {
        E::Minisign(_) | E::SignatureUtf8(_) | E::Base64(_) => AppError::new(
            "signature",
            "The update's signature does not match this app's update key; it was not installed.",
        ),
        E::Reqwest(_) | E::Network(_) => AppError::new(
            "offline",
            "The update server cannot be reached; try again later.",
        ),
        other => AppError::new("update", format!("The update failed: {other}")),
    }
}

/// Asks the update server whether a newer version exists.
pub async fn check(app: &AppHandle) -> CommandResult<UpdateInfo> {
    let desk = app.state::<Desk>();
    let endpoint = desk.settings.update_endpoint.as_deref().ok_or_else(|| {
        AppError::new("not_configured", "Updates are not set up by your practice.")
    })?;
    let url = endpoint.parse().map_err(|_| {
        AppError::new(
            "invalid",
            "The update server address set up by your practice is not valid; ask them to check it.",
        )
    })?;
    let mut builder = app.updater_builder().endpoints(vec![url]).map_err(failed)?;
    // Tests sign with a throwaway key; release builds trust only the configured one.
    if cfg!(debug_assertions) {
        if let Ok(key) = std::env::var("RECORDS_UPDATE_PUBKEY") {
            builder = builder.pubkey(key);
        }
    }
    let update = builder
        .build()
        .map_err(failed)?
        .check()
        .await
        .map_err(failed)?;
    let info = UpdateInfo {
        current_version: app.package_info().version.to_string(),
        version: update.as_ref().map(|u| u.version.clone()),
        notes: update.as_ref().and_then(|u| u.body.clone()),
        date: update.as_ref().and_then(|u| u.date.map(|d| d.to_string())),
    };
    *desk.update.0.lock().await = update.map(|u| (u, None));
    Ok(info)
}

/// Fetches the update found by [`check`] and verifies its signature (progress as
/// `update-progress` events). Returns the verified version.
pub async fn download(app: &AppHandle) -> CommandResult<String> {
    let desk = app.state::<Desk>();
    let mut pending = desk.update.0.lock().await;
    let (update, package) = pending
        .as_mut()
        .ok_or_else(|| AppError::new("not_found", "Check for updates first."))?;
    let mut received = 0usize;
    let bytes = update
        .download(
            |chunk, total| {
                received += chunk;
                crate::events::UPDATE_PROGRESS.emit(app, (received, total));
            },
            || {},
        )
        .await
        .map_err(failed)?;
    *package = Some(bytes);
    Ok(update.version.clone())
}

/// Installs the downloaded, verified package (verified again by the plugin) and restarts.
pub async fn install(app: &AppHandle) -> CommandResult<()> {
    let desk = app.state::<Desk>();
    let pending = desk.update.0.lock().await.take();
    let Some((update, Some(bytes))) = pending else {
        return Err(AppError::new("not_found", "Download the update first."));
    };
    update.install(bytes).map_err(failed)?;
    app.restart()
}
