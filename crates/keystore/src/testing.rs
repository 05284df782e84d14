//! Test support: a private D-Bus session bus with a real, unlocked GNOME Keyring on it, for
//! tests that check what a client keeps in the Secret Service. Needs `dbus-daemon`,
//! `gnome-keyring-daemon` and `secret-tool` (scripts/ensure-packages installs them).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A private D-Bus session bus with GNOME Keyring's Secret Service on it, unlocked, in a home
/// of its own: what a desktop session offers the CLI. `scripts/ensure-packages` installs the
/// daemons.
pub struct SessionBus {
    address: String,
    home: PathBuf,
    daemons: Vec<std::process::Child>,
}

impl SessionBus {
    /// Starts the bus and the keyring daemon; panics (it is for tests) when they are missing.
    pub fn start() -> Self {
        use std::io::BufRead as _;
        let home = std::env::temp_dir().join(format!("records-bus-{}", unique()));
        let runtime = home.join("run");
        std::fs::create_dir_all(&runtime).expect("home");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))
                .expect("runtime dir");
        }
        let mut dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("dbus-daemon (run scripts/ensure-packages)");
        let mut address = String::new();
        std::io::BufReader::new(dbus.stdout.take().expect("stdout"))
            .read_line(&mut address)
            .expect("bus address");
        let address = address.trim().to_owned();
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets", "--foreground"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("XDG_DATA_HOME", home.join("data"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (run scripts/ensure-packages)");
        // The login keyring's password; --unlock creates the keyring with it.
        keyring
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"keyring password")
            .expect("unlock");
        let bus = Self {
            address,
            home,
            daemons: vec![dbus, keyring],
        };
        // Wait for the Secret Service to own its name (asking before would make the bus
        // activate a second, locked daemon).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !bus.secret_service_up() {
            assert!(
                std::time::Instant::now() < deadline,
                "gnome-keyring-daemon never took org.freedesktop.secrets"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        bus
    }

    /// The bus address, for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The home directory the daemons run in (give it to the program under test too).
    pub fn home(&self) -> &Path {
        &self.home
    }

    fn secret_service_up(&self) -> bool {
        self.has_owner("org.freedesktop.secrets")
    }

    /// Whether some program owns `name` on this bus.
    pub fn has_owner(&self, name: &str) -> bool {
        let out = Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
            ])
            .arg(format!("string:{name}"))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .expect("dbus-send");
        String::from_utf8_lossy(&out.stdout).contains("boolean true")
    }

    /// What the Secret Service holds for a replica's session, read by another program
    /// (`secret-tool`), not by the code under test.
    pub fn lookup_session(&self, replica: &Path) -> Option<String> {
        self.lookup(&format!("session:{}", replica.display()))
    }

    /// What the Secret Service holds under our service and `account`, read by `secret-tool`.
    pub fn lookup(&self, account: &str) -> Option<String> {
        let out = Command::new("secret-tool")
            .args(["lookup", "service", crate::SERVICE, "username", account])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .expect("secret-tool");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        for daemon in &mut self.daemons {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn unique() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos}", std::process::id())
}
