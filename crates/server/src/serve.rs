//! Serving the platform: the HTTP API on a listener, with this instance's background jobs
//! beside it. The one place that brings the parts together ([`crate::app`] knows neither).

use crate::app::AppState;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_jobs, stopped) = tokio::sync::watch::channel(false);
    let jobs = crate::integrations::start(&state, &stopped);
    let watcher = tokio::spawn(crate::live::watch_commits(state.clone()));
    let live = state.clone();
    let app = crate::http::router(state);
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    // Live streams end first, or the graceful shutdown would wait on them for ever.
    .with_graceful_shutdown(async move {
        shutdown.await;
        live.live.close();
    })
    .await;
    let _ = watcher.await;
    let _ = stop_jobs.send(true);
    for job in jobs {
        let _ = job.await;
    }
    Ok(served?)
}
