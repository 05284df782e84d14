// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // The webview's memory settings that are environment variables, before GTK starts.
    desktop::webview::before_start();
    desktop::run();
}
