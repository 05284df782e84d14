//! The webview's memory settings (WebKitGTK on Linux; nothing elsewhere).
//!
//! WebKitGTK's defaults suit a browser on a GPU: accelerated compositing, with the web
//! process painting tiles through GL and handing frames to the app as DMA-BUF buffers. The
//! app is one page of lists and forms; composited, its WebKit processes idle at about 100 MiB
//! more. Measured by the figures bench (`benches/desktop.rs`, release build under Xvfb with
//! Mesa's software GL, 10,000 patients; PSS of the app and its WebKit processes 12 s after
//! start, median of 3):
//!
//! | configuration | PSS | app / web / network process | scrolling, frame median |
//! |---|---|---|---|
//! | WebKit's defaults | 316 MiB | 93 / 197 / 27 | 154 ms |
//! | DMA-BUF renderer off (what ships) | 219 MiB | 89 / 103 / 27 | 16 ms |
//!
//! Cold start to the first rows does not change beyond the machine's noise (fastest of 5
//! starts 600–670 ms in every configuration; the two identical ones, DMA-BUF renderer off
//! and what ships, had medians of 704 and 823 ms). What is left is mostly code: WebKit and
//! JavaScriptCore (81 MiB over the three processes), Mesa and LLVM (45: WebKit opens a GL
//! display in the app and the web process even when it never draws with it), GTK, GLib,
//! ICU and GStreamer (33), flite (16, speech synthesis WebKit links), the app's own code
//! (14); heaps are 27 MiB. Nothing WebKitGTK offers brings that under 150 MB.
//!
//! Each setting is named; `RECORDS_WEBVIEW_MEMORY` chooses which apply, so the bench
//! measures them one by one in one run:
//! - unset or `tuned`: the settings in [`TUNED`] (what ships);
//! - `defaults`: none of them, WebKitGTK as it ships;
//! - a comma-separated list of names (`cache-model,no-page-cache`): those alone.
//!
//! Unset under WebDriver (`TAURI_WEBVIEW_AUTOMATION=true`, which tauri-driver sets), the app
//! keeps WebKit's defaults: without accelerated compositing, WebKitWebDriver's screenshots in
//! the end-to-end test time out (each of its three tests, at its first screenshot).
//!
//! Environment variables the person set themselves are left as they are:
//! `WEBKIT_DISABLE_DMABUF_RENDERER=0` brings WebKit's GPU compositing back.
//!
//! Tried and not kept: the web process's `WebKitMemoryPressureSettings` are construct-only
//! on the web context, which wry creates; the network process's must be set before it
//! starts, which is before the app's setup runs; and their handlers free only caches and
//! heaps, 12 MiB in the web process and 1.7 in the network process here. There is one web
//! process already (one webview; `WebKitProcessModel` has been ignored since WebKitGTK 2.26).
//! Started by hand on its no-keyring screen (205 MiB as shipped), the app with
//! `WEBKIT_DMABUF_RENDERER_FORCE_SHM=1` took 280 MiB, and `JSC_useJIT=0`, `GDK_GL=disable`
//! or `MALLOC_ARENA_MAX=1` changed 0–3 MiB.

/// One memory setting of the webview, with its effect alone on the idle PSS above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// `WebKitCacheModel::DocumentViewer` on the web context (WebKit's default is
    /// `WebBrowser`): the smallest memory cache, no page cache. No effect here, at rest or
    /// after scrolling: the page's few resources are the app's own. Not kept.
    CacheModel,
    /// The back/forward page cache off (wry turns it on). No effect: the app moves between
    /// screens within one page, so nothing goes in it. Not kept.
    NoPageCache,
    /// `HardwareAccelerationPolicy::Never`: no accelerated compositing. 230 MiB: applied once
    /// the window exists, after WebKit set up compositing for the first load, so it does
    /// less than the same from the start. Not kept (`NoDmabuf` does it all).
    NoAcceleration,
    /// `WEBKIT_DISABLE_DMABUF_RENDERER=1` (set before GTK starts): without the DMA-BUF
    /// renderer this WebKitGTK (2.50, GTK 3, no WPE backend) has no accelerated compositing
    /// at all; the web process paints the page on the CPU, as with
    /// `WEBKIT_DISABLE_COMPOSITING_MODE=1` (223 MiB), and the app skips the DMA-BUF setup.
    /// 219 MiB, private memory 143 -> 74 MiB; scrolling the patient list goes from 154 to
    /// 16 ms a frame under software GL. Kept.
    NoDmabuf,
    /// `WEBKIT_SKIA_ENABLE_CPU_RENDERING=1` (set before GTK starts): composited, but Skia
    /// paints tiles on the CPU instead of through GL. 293 MiB, scrolling 133 ms a frame. Not
    /// kept.
    SkiaCpu,
}

impl Setting {
    /// Every setting, with the name `RECORDS_WEBVIEW_MEMORY` knows it by.
    pub const ALL: [(Setting, &'static str); 5] = [
        (Setting::CacheModel, "cache-model"),
        (Setting::NoPageCache, "no-page-cache"),
        (Setting::NoAcceleration, "no-acceleration"),
        (Setting::NoDmabuf, "no-dmabuf"),
        (Setting::SkiaCpu, "skia-cpu"),
    ];

    /// The environment variable and value this setting is, for those set before GTK starts.
    fn env(self) -> Option<(&'static str, &'static str)> {
        match self {
            Setting::NoDmabuf => Some(("WEBKIT_DISABLE_DMABUF_RENDERER", "1")),
            Setting::SkiaCpu => Some(("WEBKIT_SKIA_ENABLE_CPU_RENDERING", "1")),
            Setting::CacheModel | Setting::NoPageCache | Setting::NoAcceleration => None,
        }
    }
}

/// What ships: the DMA-BUF renderer off.
pub const TUNED: &[Setting] = &[Setting::NoDmabuf];

/// The settings that apply, from `RECORDS_WEBVIEW_MEMORY` (see the module's doc); an unknown
/// name is skipped (and said at start, by [`before_start`]).
pub fn chosen() -> Vec<Setting> {
    match std::env::var("RECORDS_WEBVIEW_MEMORY") {
        // Under WebDriver (tauri-driver sets TAURI_WEBVIEW_AUTOMATION): WebKit's defaults, as
        // its screenshots time out without accelerated compositing.
        Err(_) if std::env::var("TAURI_WEBVIEW_AUTOMATION").is_ok_and(|v| v == "true") => {
            Vec::new()
        }
        Err(_) => TUNED.to_vec(),
        Ok(v) if v.trim().is_empty() || v.trim() == "tuned" => TUNED.to_vec(),
        Ok(v) if v.trim() == "defaults" => Vec::new(),
        Ok(v) => v
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .filter_map(|name| Setting::ALL.iter().find(|(_, n)| *n == name))
            .map(|(setting, _)| *setting)
            .collect(),
    }
}

/// Sets the environment variables of the chosen settings, before anything starts GTK or
/// WebKit (which read them once, and pass them on to the web process); one the person set is
/// left as it is. Called first thing in `main`, while the process has one thread.
pub fn before_start() {
    if let Ok(v) = std::env::var("RECORDS_WEBVIEW_MEMORY") {
        for name in v.split(',').map(str::trim) {
            let known = ["", "tuned", "defaults"].contains(&name)
                || Setting::ALL.iter().any(|(_, n)| *n == name);
            if !known {
                eprintln!("RECORDS_WEBVIEW_MEMORY: no setting {name:?}, skipped");
            }
        }
    }
    if !cfg!(target_os = "linux") {
        return;
    }
    for setting in chosen() {
        if let Some((name, value)) = setting.env() {
            if std::env::var_os(name).is_none() {
                std::env::set_var(name, value);
            }
        }
    }
}

/// Applies the chosen settings to the main window's webview (on the main thread, as GTK
/// wants). Called from the app's setup, once the window is made.
pub fn tune(app: &tauri::App) {
    use tauri::Manager as _;
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    let chosen = chosen();
    #[cfg(target_os = "linux")]
    {
        let applied = window.with_webview(move |webview| apply(&webview.inner(), &chosen));
        if let Err(e) = applied {
            tracing::warn!("webview memory settings not applied: {e}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (window, chosen);
}

#[cfg(target_os = "linux")]
fn apply(webview: &webkit2gtk::WebView, chosen: &[Setting]) {
    use webkit2gtk::{
        CacheModel, HardwareAccelerationPolicy, SettingsExt as _, WebContextExt as _,
        WebViewExt as _,
    };
    if chosen.contains(&Setting::CacheModel) {
        if let Some(context) = webview.context() {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
    }
    if let Some(settings) = webview.settings() {
        if chosen.contains(&Setting::NoPageCache) {
            settings.set_enable_page_cache(false);
        }
        if chosen.contains(&Setting::NoAcceleration) {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    }
    tracing::debug!("webview memory settings: {chosen:?}");
}
