//! The files in the data folder that tell a user how to reach Shoal: the admin credentials
//! (an AWS shared-credentials file, mode 0600, so `AWS_SHARED_CREDENTIALS_FILE` can point at it)
//! and the address of the last API listener started on the folder (for `shoal env`).

use shoal_services::AccessKey;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn credentials_path(data: &Path) -> PathBuf {
    data.join("credentials")
}

pub fn api_addr_path(data: &Path) -> PathBuf {
    data.join("api.addr")
}

/// Writes the admin key; only the owner may read it (secrets never leave the data folder).
pub fn write_credentials(data: &Path, key: &AccessKey) -> std::io::Result<()> {
    let path = credentials_path(data);
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        writeln!(f, "[default]")?;
        writeln!(f, "aws_access_key_id = {}", key.access_key_id)?;
        writeln!(f, "aws_secret_access_key = {}", key.secret_access_key)?;
        f.sync_all()?;
    }
    std::fs::rename(tmp, path)
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
