//! The callback allowlist of a shared deployment: where callbacks may go,
//! checked after name resolution so a host name cannot point elsewhere.

/// A callback destination a shared sandbox may call: an IP network, a host,
/// or every host of a domain (`*.example.test`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Network(ipnet::IpNet),
    Host(String),
    Domain(String),
}

impl std::str::FromStr for Destination {
    type Err = String;

    fn from_str(text: &str) -> Result<Destination, String> {
        let text = text.trim();
        if let Ok(net) = text.parse::<ipnet::IpNet>() {
            return Ok(Destination::Network(net));
        }
        if let Ok(ip) = text.parse::<std::net::IpAddr>() {
            return Ok(Destination::Network(ipnet::IpNet::from(ip)));
        }
        let valid = |h: &str| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        match text.strip_prefix("*.") {
            Some(domain) if valid(domain) => Ok(Destination::Domain(domain.to_ascii_lowercase())),
            None if valid(text) => Ok(Destination::Host(text.to_ascii_lowercase())),
            _ => Err("not an IP network (10.0.0.0/8), an IP, a host or *.domain".into()),
        }
    }
}

/// Why a destination is refused, or `None` when it may be called. Host
/// names are resolved and every address must be allowed, unless the name
/// itself is allowed.
pub(super) async fn refused(allow: &[Destination], url: &str) -> Option<String> {
    if allow.is_empty() {
        return None;
    }
    let Ok(parsed) = url::Url::parse(url) else { return Some("the URL does not parse".into()) };
    let ip_allowed =
        |ip: std::net::IpAddr| allow.iter().any(|d| matches!(d, Destination::Network(net) if net.contains(&ip)));
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) if ip_allowed(ip.into()) => None,
        Some(url::Host::Ipv6(ip)) if ip_allowed(ip.into()) => None,
        Some(url::Host::Domain(host)) => {
            let host = host.to_ascii_lowercase();
            let named = allow.iter().any(|d| match d {
                Destination::Host(h) => *h == host,
                Destination::Domain(domain) => host == *domain || host.ends_with(&format!(".{domain}")),
                Destination::Network(_) => false,
            });
            if named {
                return None;
            }
            let port = parsed.port_or_known_default().unwrap_or(80);
            let looked_up = tokio::net::lookup_host(format!("{host}:{port}")).await;
            match looked_up {
                Ok(addrs) => {
                    let addrs: Vec<_> = addrs.collect();
                    match !addrs.is_empty() && addrs.iter().all(|a| ip_allowed(a.ip())) {
                        true => None,
                        false => Some(format!("{host} is not in the callback allowlist")),
                    }
                }
                Err(e) => Some(format!("{host} does not resolve: {e}")),
            }
        }
        Some(other) => Some(format!("{other} is not in the callback allowlist")),
        None => Some("the URL has no host".into()),
    }
}
