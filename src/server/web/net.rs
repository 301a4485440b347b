//! Who is asking: the client address (from the socket, or from `X-Forwarded-For` when the socket peer is a
//! trusted proxy) and whether it may use self-service enrollment (`web.enroll_networks`). Pure.

use std::net::IpAddr;

use ipnet::IpNet;

/// The client's address. `X-Forwarded-For` is read right to left, skipping trusted proxies, only when the
/// socket peer itself is a trusted proxy; a malformed entry stops the walk at the last trusted hop.
pub(crate) fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
    if !is_trusted(peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut client = peer;
    for hop in header.rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            return client;
        };
        client = canonical(ip);
        if !is_trusted(client) {
            return client;
        }
    }
    client
}

/// Whether `ip` is inside one of `networks`.
pub(crate) fn allowed(ip: IpAddr, networks: &[IpNet]) -> bool {
    let ip = canonical(ip);
    networks.iter().any(|net| net.contains(&ip))
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`, from dual-stack sockets) as plain IPv4.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = nets(&["10.9.0.0/16"]);
        let xff = Some("192.0.2.1, 10.1.2.3");
        assert_eq!(
            client_ip(ip("203.0.113.5"), xff, &trusted),
            ip("203.0.113.5")
        );
        assert_eq!(client_ip(ip("10.9.0.1"), xff, &trusted), ip("10.1.2.3"));
        assert_eq!(
            client_ip(ip("10.9.0.1"), Some("10.1.2.3, 10.9.0.7"), &trusted),
            ip("10.1.2.3")
        );
        assert_eq!(
            client_ip(ip("10.9.0.1"), Some("junk"), &trusted),
            ip("10.9.0.1")
        );
        assert_eq!(client_ip(ip("10.9.0.1"), None, &trusted), ip("10.9.0.1"));
    }

    #[test]
    fn mapped_addresses_are_matched_as_ipv4() {
        let networks = nets(&["10.0.0.0/8"]);
        assert!(allowed(ip("::ffff:10.1.2.3"), &networks));
        assert!(allowed(ip("10.255.0.1"), &networks));
        assert!(!allowed(ip("11.0.0.1"), &networks));
        assert!(!allowed(ip("::1"), &networks));
    }
}
