//! Healthcare Records on the desktop: the Tauri 2 shell around sync-core.
//!
//! # Layout
//! - [`commands`]: what the UI invokes; each a call into sync-core.
//! - [`state`]: the encrypted replica (SQLCipher, keyed from the OS keyring), settings.
//! - [`background`]: syncing when the connection returns, on a timer and on demand.
//! - [`events`]: what the shell tells the UI unasked (status, sync and update progress).
//! - [`notify`]: desktop notifications of sync results, in counts only.
//! - [`rights`]: what the signed-in person may do, from the platform's own rules.
//! - [`updates`]: checking for, verifying and installing updates.
//!
//! Only this crate touches the keyring (through `keystore`), notifications and the updater.

pub mod background;
#[cfg(test)]
mod bindings;
pub mod commands;
pub mod error;
pub mod events;
pub mod notify;
pub mod rights;
pub mod state;
pub mod updates;
pub mod webview;

use tauri::Manager as _;

/// Builds and runs the app.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RECORDS_LOG")
                .unwrap_or_else(|_| "warn,desktop=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_updater::Builder::new().build())
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            let data_dir = app.path().app_data_dir()?;
            webview::tune(app);
            let settings = state::Settings::from_env(&data_dir);
            match tauri::async_runtime::block_on(state::Desk::open(settings)) {
                Ok(desk) => {
                    let live = desk.settings.live;
                    app.manage(desk);
                    app.manage(commands::StartupError(None));
                    background::spawn(app.handle().clone());
                    if live {
                        background::follow_changes(app.handle().clone());
                    }
                }
                // The window still opens, to say what is wrong and what to do.
                Err(e) => {
                    let e = error::AppError::from(e);
                    tracing::error!("cannot start: {}", e.message);
                    app.manage(commands::StartupError(Some(e)));
                }
            }
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::startup_error,
            commands::status,
            commands::sign_in,
            commands::sign_out,
            commands::dismiss_notice,
            commands::sync_now,
            commands::patients,
            commands::patient,
            commands::create_patient,
            commands::update_patient,
            commands::delete_patient,
            commands::request_documents,
            commands::sync_patient,
            commands::document_digest,
            commands::trends,
            commands::link_reviews,
            commands::decide_link,
            commands::jobs,
            commands::replay_job,
            commands::carepatron_state,
            commands::audit_trail,
            commands::inquiries,
            commands::convert_inquiry,
            commands::dismiss_inquiry,
            commands::provider_settings,
            commands::save_provider,
            commands::delete_provider,
            commands::test_provider,
            commands::documents,
            commands::document,
            commands::document_body,
            commands::save_document,
            commands::create_document,
            commands::update_document,
            commands::delete_document,
            commands::attach_file,
            commands::patient_files,
            commands::keep_offline,
            commands::disk_use,
            commands::set_file_budget,
            commands::practitioners,
            commands::shares,
            commands::share_document,
            commands::revoke_share,
            commands::sync_log,
            commands::conflicts,
            commands::resolve_conflict,
            commands::rejected,
            commands::dismiss_rejected,
            commands::profile,
            commands::users,
            commands::providers,
            commands::create_user,
            commands::update_user,
            commands::delete_user,
            commands::check_update,
            commands::download_update,
            commands::install_update,
        ])
        .build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|_, _| {}),
        Err(e) => {
            tracing::error!("the app could not start: {e}");
            std::process::exit(1);
        }
    }
}
