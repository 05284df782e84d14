//! A desktop session for the app under test: an X display (Xvfb), a private D-Bus session bus
//! with an unlocked GNOME Keyring, a notification daemon (dunst) with `dbus-monitor`
//! recording every notification, and `tauri-driver` to start and drive the app.

// Shared by the end-to-end test and the figures bench; each uses part of it.
#![allow(dead_code)]

use keystore::testing::SessionBus;
use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Desktop {
    pub bus: SessionBus,
    display: String,
    pub driver_port: u16,
    notifications: PathBuf,
    children: Vec<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Puts `cmd` in the session: its display, its bus, and a home of its own.
fn in_session(cmd: &mut Command, display: &str, bus: &SessionBus) {
    cmd.env("DISPLAY", display)
        .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
        .env("HOME", bus.home())
        .env("XDG_RUNTIME_DIR", bus.home().join("run"))
        .env("XDG_DATA_HOME", bus.home().join("data"))
        .env("XDG_CONFIG_HOME", bus.home().join("config"));
}

fn spawn(cmd: &mut Command, what: &str) -> Child {
    cmd.spawn()
        .unwrap_or_else(|e| panic!("{what}: {e} (scripts/ensure-packages installs it)"))
}

impl Desktop {
    /// Starts the session; `app_env` is given to the app (through tauri-driver).
    pub fn start(app_env: &[(&str, String)]) -> Self {
        let bus = SessionBus::start();
        let mut children = Vec::new();

        let mut xvfb = spawn(
            Command::new("Xvfb")
                .args([
                    "-displayfd",
                    "1",
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
            "Xvfb",
        );
        let mut number = String::new();
        std::io::BufReader::new(xvfb.stdout.take().expect("stdout"))
            .read_line(&mut number)
            .expect("display number");
        let display = format!(":{}", number.trim());
        children.push(xvfb);

        let session_env = |cmd: &mut Command| in_session(cmd, &display, &bus);

        let mut dunst = Command::new("dunst");
        session_env(&mut dunst);
        children.push(spawn(
            dunst.stdout(Stdio::null()).stderr(Stdio::null()),
            "dunst",
        ));

        let notifications = bus.home().join("notifications.log");
        let mut monitor = Command::new("dbus-monitor");
        monitor.args([
            "--session",
            "interface='org.freedesktop.Notifications',member='Notify'",
        ]);
        session_env(&mut monitor);
        let log = std::fs::File::create(&notifications).expect("notification log");
        children.push(spawn(
            monitor.stdout(log).stderr(Stdio::null()),
            "dbus-monitor",
        ));

        let driver_port = free_port();
        let mut driver = Command::new(driver_binary());
        driver.args([
            "--port",
            &driver_port.to_string(),
            "--native-port",
            &free_port().to_string(),
        ]);
        session_env(&mut driver);
        for (k, v) in app_env {
            driver.env(k, v);
        }
        // Its own process group: tauri-driver leaves WebKitWebDriver behind when killed, so
        // the whole group goes at the end.
        std::os::unix::process::CommandExt::process_group(&mut driver, 0);
        children.push(spawn(
            driver.stdout(Stdio::null()).stderr(Stdio::null()),
            "tauri-driver (cargo install tauri-driver --version ^2 --locked)",
        ));

        let desktop = Self {
            bus,
            display,
            driver_port,
            notifications,
            children,
        };
        desktop.wait_for_name("org.freedesktop.Notifications");
        desktop
    }

    fn wait_for_name(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.bus.has_owner(name) {
            assert!(
                Instant::now() < deadline,
                "{name} never appeared on the bus"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts `binary` in this session directly (no WebDriver), with `env` on top.
    pub fn spawn(&self, binary: &std::path::Path, env: &[(&str, String)]) -> Child {
        let mut cmd = Command::new(binary);
        in_session(&mut cmd, &self.display, &self.bus);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        spawn(&mut cmd, "the app")
    }

    /// Every `Notify` call seen on the bus so far, as `dbus-monitor` printed them.
    pub fn notifications(&self) -> String {
        std::fs::read_to_string(&self.notifications).unwrap_or_default()
    }
}

/// `tauri-driver` from PATH or cargo's bin directory.
fn driver_binary() -> PathBuf {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|d| d.join("bin/tauri-driver"));
    match cargo_bin {
        Some(path) if path.exists() => path,
        _ => PathBuf::from("tauri-driver"),
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        // The driver's process group first (it holds the app), the display last.
        if let Some(driver) = self.children.last() {
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{}", driver.id())])
                .status();
        }
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
