//! The proxy's opening handshake (RFC 6455 §4.2 on HTTP/1.1): `GET
//! /tunnel?local-proxy-mode=source|destination`, the client access token in the `access-token`
//! header (or the `awsiot-tunnel-token` cookie; exactly one token), an optional `client-token`,
//! and the subprotocols the proxy speaks, of which the newest Shoal serves is chosen. Refusals
//! are plain HTTP answers before any upgrade: 4xx when retrying cannot help (the local proxy
//! then stops), 5xx when it may (the store was unavailable)
//! (localproxy docs: V1/V2/V3WebSocketProtocolGuide.md, "Handshake").

use http::{HeaderMap, Method, StatusCode};
use shoal_domain::tunnels::{valid_client_token, Side};

/// The subprotocols served, newest first, with their protocol version.
pub(crate) const SUBPROTOCOLS: [(&str, u8); 3] = [
    ("aws.iot.securetunneling-3.0", 3),
    ("aws.iot.securetunneling-2.0", 2),
    ("aws.iot.securetunneling-1.0", 1),
];
/// The whole request head may be this large (the guides' 4 KB handshake limit).
pub(crate) const MAX_HEAD: usize = 4096;
const COOKIE: &str = "awsiot-tunnel-token";

/// A request that may become a tunnel connection, before its token is checked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Asked {
    pub mode: Side,
    pub token: String,
    pub client_token: Option<String>,
    pub subprotocol: &'static str,
    pub version: u8,
    pub key: String,
}

/// A refusal: its status and the message in the body.
pub(crate) type Refused = (StatusCode, &'static str);

fn values<'a>(h: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    h.get_all(name).iter().filter_map(|v| v.to_str().ok())
}

pub(crate) fn check(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Asked, Refused> {
    let head: usize = path.len()
        + query.map_or(0, str::len)
        + headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum::<usize>();
    if head > MAX_HEAD {
        return Err((
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "The handshake request is too large",
        ));
    }
    if path != "/tunnel" {
        return Err((StatusCode::BAD_REQUEST, "Unknown path"));
    }
    if method != Method::GET {
        return Err((StatusCode::METHOD_NOT_ALLOWED, "Only GET upgrades"));
    }
    let upgrade = values(headers, "upgrade").any(|v| v.eq_ignore_ascii_case("websocket"));
    let connection = values(headers, "connection")
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("upgrade"));
    let version = values(headers, "sec-websocket-version").any(|v| v.trim() == "13");
    let key = values(headers, "sec-websocket-key").next().map(str::trim);
    let (true, true, true, Some(key)) = (upgrade, connection, version, key) else {
        return Err((StatusCode::BAD_REQUEST, "Not a WebSocket upgrade"));
    };
    let mode = query
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == "local-proxy-mode")
        .and_then(|(_, v)| Side::parse_mode(v))
        .ok_or((
            StatusCode::BAD_REQUEST,
            "local-proxy-mode must be source or destination",
        ))?;
    let offered: Vec<&str> = values(headers, "sec-websocket-protocol")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let (subprotocol, version) = SUBPROTOCOLS
        .iter()
        .find(|(p, _)| offered.contains(p))
        .copied()
        .ok_or((
            StatusCode::BAD_REQUEST,
            "No supported subprotocol (aws.iot.securetunneling-1.0, -2.0 or -3.0) offered",
        ))?;
    let mut tokens: Vec<String> = values(headers, "access-token")
        .map(|v| v.trim().to_string())
        .collect();
    tokens.extend(
        values(headers, "cookie")
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .filter(|(k, _)| *k == COOKIE)
            .map(|(_, v)| v.to_string()),
    );
    let token = match tokens.len() {
        0 => return Err((StatusCode::UNAUTHORIZED, "No access token")),
        1 => tokens.pop().unwrap_or_default(),
        _ => return Err((StatusCode::BAD_REQUEST, "More than one access token")),
    };
    let client_token = match values(headers, "client-token").next() {
        Some(t) if valid_client_token(t.trim()) => Some(t.trim().to_string()),
        Some(_) => {
            return Err((
                StatusCode::BAD_REQUEST,
                "client-token must be 32 to 128 letters, digits or dashes",
            ))
        }
        None => None,
    };
    Ok(Asked {
        mode,
        token,
        client_token,
        subprotocol,
        version,
        key: key.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(extra: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("upgrade", "websocket"),
            ("connection", "keep-alive, Upgrade"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]
        .iter()
        .chain(extra)
        {
            h.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn the_newest_subprotocol_offered_and_one_token_are_taken() {
        let h = headers(&[
            (
                "sec-websocket-protocol",
                "aws.iot.securetunneling-2.0, aws.iot.securetunneling-3.0",
            ),
            ("access-token", "tok"),
        ]);
        let a = check(&Method::GET, "/tunnel", Some("local-proxy-mode=source"), &h).unwrap();
        assert_eq!(
            (a.mode, a.version, a.token.as_str()),
            (Side::Source, 3, "tok")
        );
        let h = headers(&[
            ("sec-websocket-protocol", "aws.iot.securetunneling-1.0"),
            ("cookie", "a=b; awsiot-tunnel-token=ctok"),
            ("client-token", &"c".repeat(40)),
        ]);
        let a = check(
            &Method::GET,
            "/tunnel",
            Some("local-proxy-mode=destination"),
            &h,
        )
        .unwrap();
        assert_eq!((a.version, a.token.as_str()), (1, "ctok"));
        assert_eq!(a.client_token.unwrap().len(), 40);
    }

    #[test]
    fn bad_handshakes_are_refused_with_their_status() {
        let ok = [
            ("sec-websocket-protocol", "aws.iot.securetunneling-3.0"),
            ("access-token", "tok"),
        ];
        let q = Some("local-proxy-mode=source");
        let code =
            |m: &Method, p: &str, q: Option<&str>, h: &HeaderMap| check(m, p, q, h).unwrap_err().0;
        assert_eq!(
            code(&Method::GET, "/other", q, &headers(&ok)),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            code(
                &Method::GET,
                "/tunnel",
                Some("local-proxy-mode=both"),
                &headers(&ok)
            ),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            code(
                &Method::GET,
                "/tunnel",
                q,
                &headers(&[("access-token", "t")])
            ),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            code(&Method::GET, "/tunnel", q, &headers(&ok[..1])),
            StatusCode::UNAUTHORIZED
        );
        let two = headers(&[ok[0], ok[1], ("cookie", "awsiot-tunnel-token=x")]);
        assert_eq!(
            code(&Method::GET, "/tunnel", q, &two),
            StatusCode::BAD_REQUEST
        );
        let bad_ct = headers(&[ok[0], ok[1], ("client-token", "short")]);
        assert_eq!(
            code(&Method::GET, "/tunnel", q, &bad_ct),
            StatusCode::BAD_REQUEST
        );
        let big = "x".repeat(MAX_HEAD);
        let huge = headers(&[ok[0], ("access-token", &big)]);
        assert_eq!(
            code(&Method::GET, "/tunnel", q, &huge),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
        let mut plain = HeaderMap::new();
        plain.insert("access-token", "t".parse().unwrap());
        assert_eq!(
            code(&Method::GET, "/tunnel", q, &plain),
            StatusCode::BAD_REQUEST
        );
    }
}
