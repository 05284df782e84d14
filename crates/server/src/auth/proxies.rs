//! Which address a request comes from, for login throttling: the TCP peer, unless the peer is
//! a reverse proxy the operator listed in `RECORDS_TRUSTED_PROXIES`; then `X-Forwarded-For`
//! is read from the right, through trusted hops only, to the first address no trusted proxy
//! vouches for. A client cannot pick its own address by sending the header: a hop that is not
//! trusted ends the walk.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address block: `10.0.0.0/8`, `fd00::/8`, or one address (`192.0.2.7`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.7`) as the IPv4 addresses they are.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

fn bits(addr: IpAddr) -> (u128, u8) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

impl IpNet {
    pub fn contains(&self, addr: IpAddr) -> bool {
        let (net, width) = bits(self.addr);
        let (a, a_width) = bits(canonical(addr));
        if width != a_width {
            return false;
        }
        let host_bits = u32::from(width - self.prefix);
        // A shift by the full width (prefix 0) matches everything of the family.
        net.checked_shr(host_bits).unwrap_or(0) == a.checked_shr(host_bits).unwrap_or(0)
    }
}

impl FromStr for IpNet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = canonical(
            addr.parse::<IpAddr>()
                .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?,
        );
        let width = bits(addr).1;
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {width}"))?,
        };
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `RECORDS_TRUSTED_PROXIES`: comma-separated addresses and CIDR blocks; empty trusts none.
pub fn parse_trusted_proxies(s: &str) -> Result<Vec<IpNet>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(IpNet::from_str)
        .collect()
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port (`192.0.2.7:4711`,
/// `[2001:db8::1]:4711`), as some proxies write them.
fn forwarded_addr(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    e.parse::<IpAddr>()
        .ok()
        .or_else(|| e.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical)
}

/// The client's address: `peer` itself unless it is a trusted proxy; then the rightmost
/// `X-Forwarded-For` hop (over every header line, in order) that no trusted proxy added. A
/// malformed entry stops the walk at the last trusted hop.
pub fn client_addr<'a>(
    peer: IpAddr,
    trusted: &[IpNet],
    forwarded_for: impl Iterator<Item = &'a str>,
) -> IpAddr {
    let mut client = canonical(peer);
    let is_trusted = |a: IpAddr| trusted.iter().any(|n| n.contains(a));
    if !is_trusted(client) {
        return client;
    }
    let hops: Vec<&str> = forwarded_for.flat_map(|line| line.split(',')).collect();
    for hop in hops.iter().rev() {
        if !is_trusted(client) {
            break;
        }
        match forwarded_addr(hop) {
            Some(addr) => client = addr,
            None => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn blocks_contain_their_addresses_only() {
        let nets = parse_trusted_proxies(" 10.0.0.0/8, 192.0.2.7 ,fd00::/8,::1").expect("parses");
        assert_eq!(nets.len(), 4);
        assert!(nets[0].contains(ip("10.200.3.4")));
        assert!(!nets[0].contains(ip("11.0.0.1")));
        assert!(nets[0].contains(ip("::ffff:10.1.2.3")), "v4-mapped");
        assert!(nets[1].contains(ip("192.0.2.7")) && !nets[1].contains(ip("192.0.2.8")));
        assert!(nets[2].contains(ip("fd12::1")) && !nets[2].contains(ip("fe80::1")));
        assert!(nets[3].contains(ip("::1")) && !nets[3].contains(ip("127.0.0.1")));
        assert!("0.0.0.0/0"
            .parse::<IpNet>()
            .expect("all")
            .contains(ip("8.8.8.8")));
        assert!(parse_trusted_proxies("").expect("empty").is_empty());
        for bad in ["10.0.0.0/33", "example.org", "10.0.0.1/x", "::1/129"] {
            assert!(parse_trusted_proxies(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let trusted = parse_trusted_proxies("127.0.0.1, 10.0.0.0/8").expect("parses");
        let peer = ip("127.0.0.1");
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_addr(ip("203.0.113.9"), &trusted, ["198.51.100.1"].into_iter()),
            ip("203.0.113.9")
        );
        // Through one proxy.
        assert_eq!(
            client_addr(peer, &trusted, ["198.51.100.1"].into_iter()),
            ip("198.51.100.1")
        );
        // The client forged a first hop; the rightmost untrusted one counts.
        assert_eq!(
            client_addr(
                peer,
                &trusted,
                ["1.1.1.1, 198.51.100.1, 10.0.0.5"].into_iter()
            ),
            ip("198.51.100.1")
        );
        // Several header lines read as one list.
        assert_eq!(
            client_addr(peer, &trusted, ["1.1.1.1", "198.51.100.2:4711"].into_iter()),
            ip("198.51.100.2")
        );
        // No header: the proxy itself; garbage: the last trusted hop.
        assert_eq!(client_addr(peer, &trusted, std::iter::empty()), peer);
        assert_eq!(
            client_addr(peer, &trusted, ["1.1.1.1, unknown"].into_iter()),
            peer
        );
        // Nothing trusted: the peer, whatever the header says.
        assert_eq!(client_addr(peer, &[], ["198.51.100.1"].into_iter()), peer);
    }
}
