//! IP ranges for the `IpAddress` and `NotIpAddress` condition operators.
//!
//! Values are IPv4 or IPv6 addresses in CIDR notation; an address without a
//! prefix length means that single address (IAM documents `/32` for IPv4)
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IPAddress>).

use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cidr {
    V4 { network: u32, mask: u32 },
    V6 { network: u128, mask: u128 },
}

impl Cidr {
    pub(crate) fn parse(text: &str) -> Option<Cidr> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let prefix_len = |max: u32| -> Option<u32> {
            match prefix {
                None => Some(max),
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse::<u32>().ok().filter(|n| *n <= max)
                }
                Some(_) => None,
            }
        };
        match address.parse::<IpAddr>().ok()? {
            IpAddr::V4(ip) => {
                let len = prefix_len(32)?;
                let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                Some(Cidr::V4 {
                    network: u32::from(ip) & mask,
                    mask,
                })
            }
            IpAddr::V6(ip) => {
                let len = prefix_len(128)?;
                let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
                Some(Cidr::V6 {
                    network: u128::from(ip) & mask,
                    mask,
                })
            }
        }
    }

    /// Whether the range holds `ip`. An IPv4 address seen through an IPv6
    /// socket (`::ffff:a.b.c.d`) is compared as the IPv4 address it is.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        match (self, ip) {
            (Cidr::V4 { network, mask }, IpAddr::V4(ip)) => u32::from(ip) & mask == *network,
            (Cidr::V6 { network, mask }, IpAddr::V6(ip)) => u128::from(ip) & mask == *network,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(range: &str, ip: &str) -> bool {
        let range = Cidr::parse(range).unwrap_or_else(|| panic!("bad range {range}"));
        range.contains(ip.parse().unwrap_or_else(|_| panic!("bad ip {ip}")))
    }

    #[test]
    fn ranges() {
        assert!(contains("203.0.113.0/24", "203.0.113.7"));
        assert!(!contains("203.0.113.0/24", "203.0.114.7"));
        assert!(contains("123.45.167.89", "123.45.167.89"));
        assert!(!contains("123.45.167.89", "123.45.167.88"));
        assert!(contains("0.0.0.0/0", "8.8.8.8"));
        assert!(contains("2001:DB8:1234:5678::/64", "2001:db8:1234:5678::1"));
        assert!(!contains(
            "2001:DB8:1234:5678::/64",
            "2001:db8:1234:5679::1"
        ));
        assert!(contains("10.0.0.0/8", "::ffff:10.1.2.3"));
        assert!(!contains("10.0.0.0/8", "2001:db8::1"));
        assert!(contains("::/0", "::1"));
    }

    #[test]
    fn invalid_ranges() {
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0/8",
            "x",
            "::/129",
            "1.2.3.4/-1",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }
}
