//! The files in the data folder that tell a user how to reach Shoal: the admin credentials
//! (an AWS shared-credentials file, mode 0600, so `AWS_SHARED_CREDENTIALS_FILE` can point at it)
//! and the address of the last API listener started on the folder (for `shoal env`).

use shoal_services::AccessKey;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn credentials_path(data: &Path) -> PathBuf {
    data.join("credentials")
}

/// Shoal's root CA certificate: what a device SDK's `--ca_file` points at.
pub fn ca_cert_path(data: &Path) -> PathBuf {
    data.join("ca.pem")
}

pub fn ca_key_path(data: &Path) -> PathBuf {
    data.join("ca.key")
}

pub fn mqtt_addr_path(data: &Path) -> PathBuf {
    data.join("mqtt.addr")
}

pub fn device_https_addr_path(data: &Path) -> PathBuf {
    data.join("device-https.addr")
}

/// Where devices that pick their protocol by ALPN connect (443, or the device HTTPS port).
pub fn alpn_addr_path(data: &Path) -> PathBuf {
    data.join("alpn.addr")
}

/// The process id of the server running on the folder, for `shoal key` to tell it that keys
/// changed (SIGHUP).
pub fn pid_path(data: &Path) -> PathBuf {
    data.join("shoal.pid")
}

/// Where the tunnel proxy endpoint's address is written (for `shoal env`).
pub fn tunnel_addr_path(data: &Path) -> PathBuf {
    data.join("tunnel.addr")
}

pub fn api_addr_path(data: &Path) -> PathBuf {
    data.join("api.addr")
}

/// Creates the data folder (and its parents) and makes it private to its owner (0700): it holds
/// the store with every secret access key, the CA key and the admin credentials.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    set_mode(dir, 0o700)
}

/// Creates `path` empty if it does not exist, and makes it readable by its owner only (0600).
pub fn private_file(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?;
    set_mode(path, 0o600)
}

/// Makes an existing file readable by its owner only (0600) by its path, without opening it.
pub fn restrict_file(path: &Path) -> std::io::Result<()> {
    set_mode(path, 0o600)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Writes a file atomically (temporary file, fsync, rename) with the given Unix mode.
pub fn write_file(path: &Path, contents: &str, mode: u32) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut f = opts.open(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(tmp, path)
}

/// Writes the admin key; only the owner may read it (secrets never leave the data folder).
pub fn write_credentials(data: &Path, key: &AccessKey) -> std::io::Result<()> {
    let text = format!(
        "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        key.access_key_id, key.secret_access_key
    );
    write_file(&credentials_path(data), &text, 0o600)
}

/// Loads the root CA of the data folder, creating it (key mode 0600) on first start.
pub fn load_or_create_authority(data: &Path) -> Result<shoal_pki::Authority, String> {
    let (cert_path, key_path) = (ca_cert_path(data), ca_key_path(data));
    if cert_path.exists() && key_path.exists() {
        set_mode(&key_path, 0o600).map_err(|e| format!("{}: {e}", key_path.display()))?;
        let cert = std::fs::read_to_string(&cert_path)
            .map_err(|e| format!("{}: {e}", cert_path.display()))?;
        let key = std::fs::read_to_string(&key_path)
            .map_err(|e| format!("{}: {e}", key_path.display()))?;
        return shoal_pki::Authority::from_pem(&cert, &key)
            .map_err(|e| format!("root CA in {}: {e}", data.display()));
    }
    let ca = shoal_pki::Authority::generate("Shoal Root CA").map_err(|e| e.to_string())?;
    write_file(&key_path, &ca.key_pem, 0o600)
        .map_err(|e| format!("{}: {e}", key_path.display()))?;
    write_file(&cert_path, &ca.cert_pem, 0o644)
        .map_err(|e| format!("{}: {e}", cert_path.display()))?;
    Ok(ca)
}

pub fn server_cert_path(data: &Path) -> PathBuf {
    data.join("server.pem")
}

pub fn server_key_path(data: &Path) -> PathBuf {
    data.join("server.key")
}

/// The host names the server certificate was made for, one per line.
fn server_hosts_path(data: &Path) -> PathBuf {
    data.join("server.hosts")
}

/// The TLS server certificate of the device listeners, signed by the root CA for the
/// configured host names, made on first start (DESIGN.md §1). Kept while the names are the
/// same, so a device that pinned it keeps working across restarts; made again when they
/// change (another public host or region).
pub fn ensure_server_certificate(
    data: &Path,
    ca: &shoal_pki::Authority,
    hosts: &[String],
) -> Result<(), String> {
    let (cert_path, key_path) = (server_cert_path(data), server_key_path(data));
    let names = hosts.join("\n");
    let same_names = std::fs::read_to_string(server_hosts_path(data)).is_ok_and(|n| n == names);
    if cert_path.exists() && key_path.exists() && same_names {
        set_mode(&key_path, 0o600).map_err(|e| format!("{}: {e}", key_path.display()))?;
        return Ok(());
    }
    let (cert, key) = ca.issue_server(hosts).map_err(|e| e.to_string())?;
    write_file(&key_path, &key, 0o600).map_err(|e| format!("{}: {e}", key_path.display()))?;
    write_file(&cert_path, &cert, 0o644).map_err(|e| format!("{}: {e}", cert_path.display()))?;
    write_file(&server_hosts_path(data), &names, 0o644)
        .map_err(|e| format!("{}: {e}", data.display()))
}

/// (access key id, secret) from the credentials file.
pub fn read_credentials(data: &Path) -> std::io::Result<(String, String)> {
    let text = std::fs::read_to_string(credentials_path(data))?;
    let field = |name: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_string())
    };
    match (field("aws_access_key_id"), field("aws_secret_access_key")) {
        (Some(k), Some(s)) => Ok((k, s)),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "credentials file lacks a key",
        )),
    }
}

/// The line users paste into a shell.
pub fn export_line(endpoint: &str, key_id: &str, secret: &str, region: &str) -> String {
    format!("export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID={key_id} AWS_SECRET_ACCESS_KEY={secret} AWS_REGION={region} AWS_DEFAULT_REGION={region}")
}
