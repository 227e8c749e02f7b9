//! The rules engine's outbound HTTP (`shoal_services::rules::HttpPort`): HTTP actions and
//! destination confirmations. A URL is written by a tenant, so the request must not become a
//! way into the operator's network (SSRF): the host is resolved here, every address is
//! checked, and the connection goes to a checked address, never to a second resolution (DNS
//! rebinding). Non-public addresses (loopback, private, link-local, CGNAT, multicast,
//! unspecified, unique-local, IPv4 in IPv6 of those) are refused unless `[rules]
//! allow_networks` holds them. Redirects are not followed.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use shoal_services::rules::{HttpPort, HttpRequest};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Response bytes read at most (AWS retries only when the answer is at most 16 KB).
const MAX_ANSWER: usize = 16 * 1024;
/// Outbound requests of the whole process at once (each account and region has its own
/// smaller share, `HTTP_PER_PARTITION`): sockets stay well inside the open-files limit.
const MAX_IN_FLIGHT: usize = 1024;
/// Host name resolutions at once: each holds a blocking thread until the resolver answers
/// (after the request's own time-out too), so a name whose DNS server never answers cannot
/// take the blocking pool other work needs.
const MAX_RESOLVING: usize = 64;

/// A CIDR network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(s: &str) -> Result<Network, String> {
        let bad = || format!("{s:?} is not a CIDR network such as 10.0.0.0/8");
        let (a, p) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = a.trim().parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if p.is_empty() {
            max
        } else {
            p.trim().parse::<u8>().map_err(|_| bad())?
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Network { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(i) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(i) & mask
            }
            _ => false,
        }
    }
}

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64.0.0/10
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF 192.0.0.0/24
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18.0.0/15
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // Only global unicast (2000::/3) is public; within it, documentation, Teredo
            // (whose IPv4 is hidden) and 6to4 of a non-public IPv4 are not.
            let global = (s[0] & 0xe000) == 0x2000;
            let documentation = s[0] == 0x2001 && s[1] == 0x0db8;
            let teredo = s[0] == 0x2001 && s[1] == 0;
            let six_to_four = s[0] == 0x2002;
            if six_to_four {
                let v4 = std::net::Ipv4Addr::new(
                    (s[1] >> 8) as u8,
                    s[1] as u8,
                    (s[2] >> 8) as u8,
                    s[2] as u8,
                );
                return is_public(IpAddr::V4(v4));
            }
            global && !documentation && !teredo
        }
    }
}

pub struct RulesHttp {
    allow: Vec<Network>,
    tls: tokio_rustls::TlsConnector,
    in_flight: tokio::sync::Semaphore,
    resolving: Arc<tokio::sync::Semaphore>,
}

impl RulesHttp {
    pub fn new(allow: &[String]) -> Result<RulesHttp, String> {
        let allow = allow
            .iter()
            .map(|n| Network::parse(n))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("[rules] allow_networks: {e}"))?;
        let tls = crate::http_client::connector()
            .map_err(|e| e.to_string())?
            .tls()
            .clone();
        Ok(RulesHttp {
            allow,
            tls,
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
            resolving: Arc::new(tokio::sync::Semaphore::new(MAX_RESOLVING)),
        })
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.allow.iter().any(|n| n.contains(ip))
    }

    /// The addresses of the URL's host that may be reached, or why none may.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => {
                let permit = self
                    .resolving
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| "shutting down".to_string())?;
                let name = bare.to_string();
                tokio::task::spawn_blocking(move || {
                    let _held = permit;
                    std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), port))
                        .map(|a| a.collect::<Vec<_>>())
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("{host} could not be resolved: {e}"))?
            }
        };
        // Any refused address refuses the host: a name that also resolves inside is refused
        // whichever address would have been tried.
        if let Some(a) = addrs.iter().find(|a| !self.allowed(a.ip())) {
            return Err(format!(
                "{host} resolves to {}, which is not a public address ([rules] allow_networks)",
                a.ip()
            ));
        }
        if addrs.is_empty() {
            return Err(format!("{host} has no address"));
        }
        Ok(addrs)
    }

    async fn send(&self, req: HttpRequest) -> Result<u16, String> {
        let uri: http::Uri = req
            .url
            .parse()
            .map_err(|_| "the URL is not valid".to_string())?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("the URL must be http or https".into()),
        };
        let host = uri.host().ok_or("the URL has no host")?.to_string();
        if uri.port().is_some() && uri.port_u16().is_none() {
            return Err("the URL's port is not a port number".into());
        }
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let addrs = self.resolve(&host, port).await?;
        let tcp = tokio::net::TcpStream::connect(&addrs[..])
            .await
            .map_err(|e| format!("{host}:{port} could not be reached: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let mut builder = http::Request::post(uri.clone()).header(
            http::header::HOST,
            uri.authority().map_or(host.clone(), |a| a.to_string()),
        );
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let request = builder
            .body(Full::new(req.body))
            .map_err(|e| format!("the request could not be built: {e}"))?;
        if https {
            let bare = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let name = rustls_pki_types::ServerName::try_from(bare).map_err(|e| e.to_string())?;
            let stream = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {host} failed: {e}"))?;
            exchange(TokioIo::new(stream), request).await
        } else {
            exchange(TokioIo::new(tcp), request).await
        }
    }
}

/// One HTTP/1.1 request on its own connection.
async fn exchange<S>(io: S, req: http::Request<Full<Bytes>>) -> Result<u16, String>
where
    S: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let _ = Limited::new(resp.into_body(), MAX_ANSWER).collect().await;
    Ok(status)
}

impl HttpPort for RulesHttp {
    fn post(
        &self,
        req: HttpRequest,
        timeout: std::time::Duration,
    ) -> shoal_store::BoxFuture<'_, Result<u16, String>> {
        Box::pin(async move {
            // Waiting for one of the process's permits is not the request's time.
            let Ok(_permit) = self.in_flight.acquire().await else {
                return Err("shutting down".to_string());
            };
            match tokio::time::timeout(timeout, self.send(req)).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "2002:5db8:d822::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn networks_hold_their_addresses() {
        let n = Network::parse("127.0.0.1/32").unwrap();
        assert!(n.contains("127.0.0.1".parse().unwrap()));
        assert!(!n.contains("127.0.0.2".parse().unwrap()));
        let n = Network::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.200.1.1".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        assert!(Network::parse("0.0.0.0/0")
            .unwrap()
            .contains("1.2.3.4".parse().unwrap()));
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("nope").is_err());
    }

    #[tokio::test]
    async fn a_host_name_that_resolves_inside_is_refused() {
        let h = RulesHttp::new(&[]).unwrap();
        let e = h.resolve("localhost", 80).await.unwrap_err();
        assert!(e.contains("not a public address"), "{e}");
        let allowed = RulesHttp::new(&["127.0.0.0/8".into(), "::1/128".into()]).unwrap();
        assert!(allowed.resolve("127.0.0.1", 80).await.is_ok());
    }
}
