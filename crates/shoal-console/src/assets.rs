//! The console's CSS and JavaScript, embedded in the binary (no build step, no CDN).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

const CSS: &str = include_str!("../assets/console.css");
const JS: &str = include_str!("../assets/console.js");

pub fn serve(name: &str) -> Response<Full<Bytes>> {
    let (body, kind) = match name {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return crate::respond::not_found(),
    };
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=3600"),
    );
    r
}
