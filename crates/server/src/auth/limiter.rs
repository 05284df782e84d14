//! Login throttling that slows guessing without letting anyone lock a person out.
//!
//! Failures are counted per (account, client address) pair. A pair may fail `free_failures`
//! times in a row at full speed; after that it waits before each attempt, `first_delay`
//! doubling with each further failure up to `max_delay`. An attempt inside the wait is
//! answered 429 without checking the password (so it teaches nothing). The account itself is never locked: the person signing in from
//! another address starts with a clean slate. Two wider nets:
//! - an address that fails on many accounts (password spraying) waits too, after
//!   `address_free_failures`, with the same growing delay;
//! - an account failing from many addresses (`account_alarm` failures) gives each new address
//!   one free failure instead of `free_failures` (its first try, the right password, still
//!   works at once).
//!
//! Every attempt that passes counts as a failure before the password is checked, and a
//! success takes it back: concurrent guesses cannot slip past the count.
//!
//! IPv6 clients are counted per /64 (one host usually holds a whole /64). In memory: each
//! instance throttles on its own. A failure is forgotten `memory` after the last one.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Attempts an (account, address) pair may fail in a row without waiting in between.
    pub free_failures: u32,
    /// The wait after the first failure beyond the free ones; it doubles with each further one.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// Failures one address may make, over all accounts, before it has to wait.
    pub address_free_failures: u32,
    /// Failures of one account, from all addresses, past which each new address gets only
    /// one free failure.
    pub account_alarm: u32,
    /// How long failures are remembered after the last one.
    pub memory: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            free_failures: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            address_free_failures: 100,
            account_alarm: 50,
            memory: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Count {
    failures: u32,
    last: Instant,
    wait_until: Option<Instant>,
}

impl Count {
    fn new(now: Instant) -> Self {
        Self {
            failures: 0,
            last: now,
            wait_until: None,
        }
    }

    fn waiting(&self, now: Instant) -> Option<Duration> {
        self.wait_until.filter(|u| *u > now).map(|u| u - now)
    }

    fn forgotten(&self, now: Instant, memory: Duration) -> bool {
        self.waiting(now).is_none() && now.duration_since(self.last) >= memory
    }

    /// Counts a failure; from the `free`th on, the next attempt waits.
    fn fail(&mut self, now: Instant, free: u32, limits: &LoginLimits) {
        self.failures = self.failures.saturating_add(1);
        self.last = now;
        if self.failures >= free {
            let doublings = (self.failures - free).min(30);
            let delay = limits
                .first_delay
                .saturating_mul(1 << doublings)
                .min(limits.max_delay);
            self.wait_until = Some(now + delay);
        }
    }

    /// Takes back a failure counted in advance.
    fn unfail(&mut self) {
        self.failures = self.failures.saturating_sub(1);
    }
}

#[derive(Debug, Default)]
struct Counters {
    pairs: HashMap<(String, IpAddr), Count>,
    addresses: HashMap<IpAddr, Count>,
    accounts: HashMap<String, Count>,
}

/// Entries kept per map before expired ones are swept.
const CAPACITY: usize = 100_000;

#[derive(Debug)]
pub struct LoginLimiter {
    limits: LoginLimits,
    counters: Mutex<Counters>,
}

/// The address as counted: IPv6 by its /64.
fn bucket(addr: IpAddr) -> IpAddr {
    match super::proxies::canonical(addr) {
        IpAddr::V6(v6) => {
            let net = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(net))
        }
        v4 => v4,
    }
}

fn account_key(account: &str) -> String {
    account.trim().to_lowercase()
}

/// An attempt that may go ahead: say how it ended with [`LoginLimiter::succeeded`] (a failure
/// is already counted).
#[derive(Debug)]
pub struct Attempt {
    account: String,
    addr: IpAddr,
}

fn sweep<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, keep: impl Fn(&V) -> bool) {
    if map.len() >= CAPACITY {
        map.retain(|_, v| keep(v));
        if map.len() >= CAPACITY {
            // Still full of live entries: a flood from very many addresses. Forgetting beats
            // growing without bound; the waits in force are kept where there is room.
            tracing::warn!(entries = map.len(), "login throttle table full; cleared");
            map.clear();
        }
    }
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            limits,
            counters: Mutex::default(),
        }
    }

    /// An attempt from `addr` for `account`: `Err(wait)` to refuse it (retry after `wait`),
    /// else it goes ahead counted as a failure until [`succeeded`](Self::succeeded).
    pub fn check(&self, addr: IpAddr, account: &str) -> Result<Attempt, Duration> {
        let now = Instant::now();
        let l = &self.limits;
        let addr = bucket(addr);
        let account = account_key(account);
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let memory = l.memory;
        sweep(&mut c.pairs, |v| !v.forgotten(now, memory));
        sweep(&mut c.addresses, |v| !v.forgotten(now, memory));
        sweep(&mut c.accounts, |v| !v.forgotten(now, memory));

        let pair_key = (account.clone(), addr);
        let forget = |m: Option<&Count>| m.filter(|v| !v.forgotten(now, memory)).copied();
        let pair = forget(c.pairs.get(&pair_key));
        let address = forget(c.addresses.get(&addr));
        let whole_account = forget(c.accounts.get(&account));
        if let Some(wait) = pair.and_then(|p| p.waiting(now)) {
            return Err(wait);
        }
        if let Some(wait) = address.and_then(|a| a.waiting(now)) {
            return Err(wait);
        }
        let under_attack = whole_account.is_some_and(|a| a.failures >= l.account_alarm);
        let free = if under_attack { 1 } else { l.free_failures };
        let mut pair = pair.unwrap_or_else(|| Count::new(now));
        pair.fail(now, free, l);
        c.pairs.insert(pair_key, pair);
        let mut address = address.unwrap_or_else(|| Count::new(now));
        address.fail(now, l.address_free_failures, l);
        c.addresses.insert(addr, address);
        let mut whole_account = whole_account.unwrap_or_else(|| Count::new(now));
        whole_account.fail(now, u32::MAX, l);
        c.accounts.insert(account.clone(), whole_account);
        Ok(Attempt { account, addr })
    }

    /// The attempt was right: its pair starts over, and the failure counted in advance is
    /// taken back from its address and account.
    pub fn succeeded(&self, attempt: Attempt) {
        let Attempt { account, addr } = attempt;
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = c.addresses.get_mut(&addr) {
            a.unfail();
            // A wait this very attempt started is lifted, unless failures still call for it.
            if a.failures < self.limits.address_free_failures {
                a.wait_until = None;
            }
        }
        if let Some(a) = c.accounts.get_mut(&account) {
            a.unfail();
        }
        c.pairs.remove(&(account, addr));
    }
}

/// A quota of requests per client address (IPv6 per /64) and per window, for an endpoint
/// anyone may call (the public inquiry form). A whole-platform quota of `total` per window
/// bounds a flood from many addresses. In memory, per instance.
#[derive(Debug)]
pub struct AddressQuota {
    per_address: u32,
    total: u32,
    window: Duration,
    counts: Mutex<Windows>,
}

/// When each window began and how much of it was used: per address, and in total.
type Window = (Instant, u32);
type Windows = (HashMap<IpAddr, Window>, Window);

impl AddressQuota {
    pub fn new(per_address: u32, total: u32, window: Duration) -> Self {
        Self {
            per_address,
            total,
            window,
            counts: Mutex::new((HashMap::new(), (Instant::now(), 0))),
        }
    }

    /// Counts one request from `addr`; `Err(wait)` when its quota, or the platform's, is
    /// used up for the window in force (nothing is counted then).
    pub fn take(&self, addr: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let window = self.window;
        let fresh = |(start, n): Window| {
            if now.duration_since(start) >= window {
                (now, 0)
            } else {
                (start, n)
            }
        };
        let mut guard = self.counts.lock().expect("quota lock");
        let (addresses, total) = &mut *guard;
        sweep(addresses, |(start, _)| now.duration_since(*start) < window);
        *total = fresh(*total);
        let mine = fresh(addresses.get(&bucket(addr)).copied().unwrap_or((now, 0)));
        for (start, n, limit) in [
            (mine.0, mine.1, self.per_address),
            (total.0, total.1, self.total),
        ] {
            if n >= limit {
                return Err(window.saturating_sub(now.duration_since(start)));
            }
        }
        addresses.insert(bucket(addr), (mine.0, mine.1 + 1));
        total.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_counts_per_address_and_in_total() {
        let quota = AddressQuota::new(2, 3, Duration::from_secs(60));
        assert!(quota.take(ip("192.0.2.1")).is_ok());
        assert!(quota.take(ip("192.0.2.1")).is_ok());
        let wait = quota
            .take(ip("192.0.2.1"))
            .expect_err("third from one address");
        assert!(wait > Duration::from_secs(50), "{wait:?}");
        // One /64 is one address.
        assert!(quota.take(ip("2001:db8::1")).is_ok());
        assert!(
            quota.take(ip("2001:db8::2")).is_err(),
            "the platform's total is used up"
        );
        let quick = AddressQuota::new(1, 10, Duration::from_millis(50));
        assert!(quick.take(ip("192.0.2.9")).is_ok());
        assert!(quick.take(ip("192.0.2.9")).is_err());
        std::thread::sleep(Duration::from_millis(60));
        assert!(
            quick.take(ip("192.0.2.9")).is_ok(),
            "a new window starts afresh"
        );
    }

    fn limits() -> LoginLimits {
        LoginLimits {
            free_failures: 2,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_millis(800),
            address_free_failures: 6,
            account_alarm: 100,
            memory: Duration::from_secs(60),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_pair_waits_longer_after_each_failure_past_the_free_ones() {
        let l = LoginLimiter::new(limits());
        let a = ip("192.0.2.1");
        assert!(l.check(a, "x@example.org").is_ok());
        // The second failure (case and blanks alike) starts a 200 ms wait.
        assert!(l.check(a, "X@example.org ").is_ok());
        let wait = l.check(a, "x@example.org").expect_err("waits");
        assert!(wait <= Duration::from_millis(200) && wait > Duration::from_millis(100));
        std::thread::sleep(wait);
        assert!(l.check(a, "x@example.org").is_ok());
        let wait = l.check(a, "x@example.org").expect_err("waits longer");
        assert!(wait > Duration::from_millis(300), "{wait:?}");
        // Never the account: another address, and another account from this one, go ahead.
        assert!(l.check(ip("192.0.2.2"), "x@example.org").is_ok());
        assert!(l.check(a, "y@example.org").is_ok());
    }

    #[test]
    fn a_success_starts_the_pair_over() {
        let l = LoginLimiter::new(limits());
        let a = ip("192.0.2.1");
        l.check(a, "x").expect("free");
        let ok = l.check(a, "x").expect("second try");
        l.succeeded(ok);
        for _ in 0..2 {
            l.check(a, "x").expect("free again");
        }
    }

    #[test]
    fn an_address_spraying_many_accounts_waits_too() {
        let l = LoginLimiter::new(limits());
        let a = ip("2001:db8::1");
        for i in 0..6 {
            l.check(a, &format!("user{i}"))
                .expect("under the address allowance");
        }
        assert!(
            l.check(a, "user99").is_err(),
            "the 6th failure made it wait"
        );
        assert!(
            l.check(ip("2001:db8::ffff"), "user98").is_err(),
            "the same /64"
        );
        assert!(l.check(ip("2001:db8:0:1::1"), "user98").is_ok());
    }

    #[test]
    fn an_account_attacked_from_many_addresses_gives_new_ones_a_single_free_try() {
        let l = LoginLimiter::new(LoginLimits {
            account_alarm: 4,
            ..limits()
        });
        for i in 0..4 {
            l.check(ip(&format!("198.51.100.{i}")), "x").expect("free");
        }
        let owner = ip("203.0.113.5");
        let right = l.check(owner, "x").expect("the first try goes ahead");
        l.succeeded(right);
        l.check(owner, "x").expect("a mistyped one too");
        assert!(l.check(owner, "x").is_err(), "then the wait starts");
    }

    #[test]
    fn concurrent_guesses_are_counted_before_they_are_checked() {
        let l = LoginLimiter::new(limits());
        let a = ip("192.0.2.1");
        let passed = (0..50).filter(|_| l.check(a, "x").is_ok()).count();
        assert_eq!(passed, 2, "the second starts the wait");
    }
}
