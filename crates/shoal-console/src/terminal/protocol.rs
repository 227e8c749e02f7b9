//! What the terminal's page and the server say over the WebSocket, as JSON text messages.
//! The page opens with `start` (the session's CSRF token, the tunnel's service, the SSH
//! credentials, the source access token or none, the screen size), then sends `key`,
//! `paste` and `resize`; the server answers with `status`, `screen` and, last, `closed`.
//! Credentials travel only in this first message, never in a URL or a form post.

use super::keys::Key;
use serde_json::{json, Value};

/// A message from the page is at most this long (a pasted private key fits; a paste more
/// than this is refused, not truncated).
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Screen sizes the server keeps a terminal state for.
pub const COLS: std::ops::RangeInclusive<u16> = 20..=400;
pub const ROWS: std::ops::RangeInclusive<u16> = 5..=200;
const MAX_FIELD: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub csrf: String,
    pub service: String,
    pub user: String,
    pub password: Option<String>,
    pub key: Option<String>,
    pub passphrase: Option<String>,
    /// The source access token; `None` rotates it.
    pub token: Option<String>,
    /// The host key's expected fingerprint (`SHA256:...`).
    pub fingerprint: Option<String>,
    pub cols: u16,
    pub rows: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromPage {
    Key(Key),
    Paste(String),
    Resize { cols: u16, rows: u16 },
}

fn text<'a>(v: &'a Value, name: &str) -> Result<Option<&'a str>, String> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() > MAX_FIELD => Err(format!("{name} is too long")),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{name} is not a string")),
    }
}

fn size(v: &Value, name: &str, range: std::ops::RangeInclusive<u16>) -> Result<u16, String> {
    v.get(name)
        .and_then(Value::as_u64)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            format!(
                "{name} must be a number from {} to {}",
                range.start(),
                range.end()
            )
        })
}

fn object(msg: &str) -> Result<Value, String> {
    if msg.len() > MAX_MESSAGE {
        return Err(format!("A message is at most {MAX_MESSAGE} bytes"));
    }
    let v: Value = serde_json::from_str(msg).map_err(|_| "A message is not JSON".to_string())?;
    if !v.is_object() {
        return Err("A message is a JSON object".into());
    }
    Ok(v)
}

pub fn start(msg: &str) -> Result<Start, String> {
    let v = object(msg)?;
    if v.get("t").and_then(Value::as_str) != Some("start") {
        return Err("The first message must be start".into());
    }
    let owned = |n: &str| text(&v, n).map(|s| s.map(str::to_string));
    let start = Start {
        csrf: owned("csrf")?.unwrap_or_default(),
        service: owned("service")?.unwrap_or_default(),
        user: owned("user")?.ok_or("A user name is needed")?,
        password: owned("password")?,
        key: owned("key")?,
        passphrase: owned("passphrase")?,
        token: owned("token")?.map(|t| t.trim().to_string()),
        fingerprint: owned("fingerprint")?.map(|t| t.trim().to_string()),
        cols: size(&v, "cols", COLS)?,
        rows: size(&v, "rows", ROWS)?,
    };
    if start.password.is_none() && start.key.is_none() {
        return Err("A password or a private key is needed".into());
    }
    Ok(start)
}

pub fn from_page(msg: &str) -> Result<FromPage, String> {
    let v = object(msg)?;
    let flag = |n: &str| v.get(n).and_then(Value::as_bool).unwrap_or(false);
    match v.get("t").and_then(Value::as_str) {
        Some("key") => Ok(FromPage::Key(Key {
            key: text(&v, "k")?
                .ok_or("A key message names its key")?
                .to_string(),
            ctrl: flag("ctrl"),
            alt: flag("alt"),
        })),
        Some("paste") => Ok(FromPage::Paste(
            v.get("d")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        )),
        Some("resize") => Ok(FromPage::Resize {
            cols: size(&v, "cols", COLS)?,
            rows: size(&v, "rows", ROWS)?,
        }),
        _ => Err("Unknown message".into()),
    }
}

pub fn status(text: &str) -> String {
    json!({"t": "status", "text": text}).to_string()
}

pub fn screen(html: &str) -> String {
    json!({"t": "screen", "html": html}).to_string()
}

pub fn closed(reason: &str) -> String {
    json!({"t": "closed", "text": format!("Closed: {reason}")}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_needs_a_user_a_credential_and_a_sane_size() {
        let ok = r#"{"t":"start","csrf":"c","service":"SSH","user":"u","key":"K","token":"","cols":80,"rows":24}"#;
        let s = start(ok).unwrap();
        assert_eq!((s.user.as_str(), s.token, s.cols), ("u", None, 80));
        for (bad, why) in [
            (r#"{"t":"key","k":"a"}"#, "must be start"),
            (
                r#"{"t":"start","user":"u","cols":80,"rows":24}"#,
                "password or a private key",
            ),
            (
                r#"{"t":"start","password":"p","cols":80,"rows":24}"#,
                "user name",
            ),
            (
                r#"{"t":"start","user":"u","password":"p","cols":5,"rows":24}"#,
                "cols",
            ),
            (
                r#"{"t":"start","user":"u","password":"p","cols":80,"rows":9999}"#,
                "rows",
            ),
            (
                r#"{"t":"start","user":7,"password":"p","cols":80,"rows":24}"#,
                "not a string",
            ),
            ("[1]", "JSON object"),
            ("nope", "not JSON"),
        ] {
            let e = start(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let huge = format!(r#"{{"t":"start","user":"{}"}}"#, "u".repeat(MAX_MESSAGE));
        assert!(start(&huge).unwrap_err().contains("at most"));
    }

    #[test]
    fn page_messages_parse() {
        assert_eq!(
            from_page(r#"{"t":"key","k":"c","ctrl":true}"#).unwrap(),
            FromPage::Key(Key {
                key: "c".into(),
                ctrl: true,
                alt: false
            })
        );
        assert_eq!(
            from_page(r#"{"t":"resize","cols":100,"rows":30}"#).unwrap(),
            FromPage::Resize {
                cols: 100,
                rows: 30
            }
        );
        assert!(from_page(r#"{"t":"exec"}"#).is_err());
    }
}
