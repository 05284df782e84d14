//! Login rate limits, per account (failed attempts) and per client address (all attempts),
//! in fixed windows. In memory: each instance limits on its own, which bounds guessing to
//! the limit times the number of instances.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Failed logins allowed per account per window.
    pub failures_per_account: u32,
    /// Login attempts allowed per client address per window.
    pub attempts_per_address: u32,
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            failures_per_account: 5,
            attempts_per_address: 30,
            window: Duration::from_secs(300),
        }
    }
}

#[derive(Debug)]
struct Window {
    started: Instant,
    count: u32,
}

#[derive(Debug, Default)]
struct Counters {
    accounts: HashMap<String, Window>,
    addresses: HashMap<IpAddr, Window>,
}

#[derive(Debug)]
pub struct LoginLimiter {
    limits: LoginLimits,
    counters: Mutex<Counters>,
}

fn remaining(w: &Window, window: Duration, now: Instant) -> Option<Duration> {
    let end = w.started + window;
    (end > now).then(|| end - now)
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            limits,
            counters: Mutex::default(),
        }
    }

    /// Counts an attempt from `addr` for `account`. `Err(wait)`: refuse it, retry after `wait`.
    pub fn check(&self, addr: IpAddr, account: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let window = self.limits.window;
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        if c.addresses.len() > 100_000 || c.accounts.len() > 100_000 {
            c.addresses
                .retain(|_, w| remaining(w, window, now).is_some());
            c.accounts
                .retain(|_, w| remaining(w, window, now).is_some());
        }
        if let Some(w) = c.accounts.get(account) {
            if let Some(wait) = remaining(w, window, now) {
                if w.count >= self.limits.failures_per_account {
                    return Err(wait);
                }
            }
        }
        let w = c.addresses.entry(addr).or_insert(Window {
            started: now,
            count: 0,
        });
        if remaining(w, window, now).is_none() {
            *w = Window {
                started: now,
                count: 0,
            };
        }
        if w.count >= self.limits.attempts_per_address {
            return Err(remaining(w, window, now).unwrap_or(window));
        }
        w.count += 1;
        Ok(())
    }

    /// Records a failed login for `account`.
    pub fn failed(&self, account: &str) {
        let now = Instant::now();
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let w = c.accounts.entry(account.to_owned()).or_insert(Window {
            started: now,
            count: 0,
        });
        if remaining(w, self.limits.window, now).is_none() {
            *w = Window {
                started: now,
                count: 0,
            };
        }
        w.count += 1;
    }

    /// A successful login clears the account's failures.
    pub fn succeeded(&self, account: &str) {
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        c.accounts.remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_locks_after_its_failures_and_an_address_after_its_attempts() {
        let l = LoginLimiter::new(LoginLimits {
            failures_per_account: 2,
            attempts_per_address: 4,
            window: Duration::from_secs(60),
        });
        let a: IpAddr = "127.0.0.1".parse().expect("ip");
        for _ in 0..2 {
            assert!(l.check(a, "x").is_ok());
            l.failed("x");
        }
        assert!(l.check(a, "x").is_err(), "account locked");
        assert!(l.check(a, "y").is_ok());
        assert!(l.check(a, "y").is_ok());
        assert!(l.check(a, "y").is_err(), "address spent its attempts");
        let b: IpAddr = "127.0.0.2".parse().expect("ip");
        assert!(l.check(b, "y").is_ok());
    }
}
