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
