//! Responses: pages with the headers every page carries (a strict Content-Security-Policy:
//! scripts, styles and images from the console itself only; no framing; no caching).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

pub fn html(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    r
}

pub fn redirect(to: &str) -> Response<Full<Bytes>> {
    let mut r = html(StatusCode::SEE_OTHER, String::new());
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(http::header::LOCATION, v);
    }
    r
}

fn message(status: StatusCode, title: &str, text: &str) -> Response<Full<Bytes>> {
    html(
        status,
        crate::html::page(
            title,
            "",
            None,
            &format!(
                "<p class=\"notice error\" id=\"refusal\">{}</p><p><a href=\"/console/devices\">Back to the console</a></p>",
                crate::html::esc(text)
            ),
        ),
    )
}

pub fn forbidden(text: &str) -> Response<Full<Bytes>> {
    message(StatusCode::FORBIDDEN, "Not allowed", text)
}

pub fn not_found() -> Response<Full<Bytes>> {
    message(StatusCode::NOT_FOUND, "Not found", "There is no such page.")
}

pub fn error_page(text: &str) -> Response<Full<Bytes>> {
    message(StatusCode::INTERNAL_SERVER_ERROR, "Something failed", text)
}

/// The session cookie for a new session.
pub fn signed_in(token: &str) -> Response<Full<Bytes>> {
    let mut r = redirect("/console/devices");
    let cookie = format!(
        "{}={token}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}",
        crate::COOKIE,
        shoal_services::console::SESSION_MS / 1000
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(http::header::SET_COOKIE, v);
    }
    r
}

pub fn signed_out() -> Response<Full<Bytes>> {
    let mut r = redirect("/console/login");
    let cookie = format!(
        "{}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0",
        crate::COOKIE
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(http::header::SET_COOKIE, v);
    }
    r
}

/// A short text answer (refusals of a WebSocket upgrade, which no page shows).
pub fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn has_token(headers: &http::HeaderMap, name: http::header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case(token))
}

/// The `Sec-WebSocket-Accept` for a WebSocket upgrade request (RFC 6455 §4.2.1: GET with
/// `Upgrade: websocket`, `Connection: Upgrade`, version 13 and a key), or `None` for
/// anything else.
pub fn websocket_accept(headers: &http::HeaderMap) -> Option<String> {
    let version = headers
        .get(http::header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v == "13");
    let key = headers.get(http::header::SEC_WEBSOCKET_KEY)?;
    if !(version
        && has_token(headers, http::header::UPGRADE, "websocket")
        && has_token(headers, http::header::CONNECTION, "upgrade"))
    {
        return None;
    }
    Some(tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes()))
}

pub fn switching_protocols(accept: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(
        http::header::CONNECTION,
        HeaderValue::from_static("Upgrade"),
    );
    if let Ok(v) = HeaderValue::from_str(accept) {
        h.insert(http::header::SEC_WEBSOCKET_ACCEPT, v);
    }
    r
}
