//! `shoal reset`: asks the server running on the data folder to empty an account's region (or
//! every one), with the admin key from that folder, through the API's `POST /shoal/reset` (the
//! server must do it: it closes the live connections and keeps its index and caches in step).

use crate::credentials;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What to reset: one account's region, or everything.
pub enum Target {
    Account { account: String, region: String },
    All,
}

/// Sends the request and returns the server's answer (the partitions emptied, as JSON).
pub async fn reset(data: &Path, target: Target) -> Result<String, String> {
    let (key, secret) = credentials::read_credentials(data)
        .map_err(|e| format!("no admin credentials in {}: {e}", data.display()))?;
    let addr = std::fs::read_to_string(credentials::api_addr_path(data))
        .map_err(|e| format!("no server is running on {} ({e})", data.display()))?;
    let addr: std::net::SocketAddr = addr.trim().parse().map_err(|e| format!("api.addr: {e}"))?;
    let (body, region) = match target {
        Target::Account { account, region } => (
            serde_json::json!({ "accountId": account, "region": region }).to_string(),
            region,
        ),
        Target::All => (
            serde_json::json!({ "all": true }).to_string(),
            "us-east-1".to_string(),
        ),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs() as i64;
    let amz_date = shoal_sigv4::format_amz_date(now);
    let host = addr.to_string();
    let payload = shoal_sigv4::sha256_hex(body.as_bytes());
    let headers = [
        ("host", host.as_str()),
        ("x-amz-date", amz_date.as_str()),
        ("x-amz-content-sha256", payload.as_str()),
    ];
    let auth = shoal_sigv4::authorization_header(
        "POST",
        "/shoal/reset",
        "",
        &headers,
        &payload,
        &key,
        &secret,
        &amz_date,
        &region,
        "iot",
    );
    let request = format!(
        "POST /shoal/reset HTTP/1.1\r\nhost: {host}\r\nx-amz-date: {amz_date}\r\nx-amz-content-sha256: {payload}\r\nauthorization: {auth}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot reach the server at {addr}: {e}"))?;
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    // The answer is small; a bound keeps a wrong peer from filling memory.
    stream
        .take(1 << 20)
        .read_to_end(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if head.starts_with("HTTP/1.1 200") {
        Ok(body.to_string())
    } else {
        Err(format!("the server refused: {}", head.lines().next().unwrap_or("")) + "\n" + body)
    }
}
