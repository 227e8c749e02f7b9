//! The SSH client side of the terminal, over the tunnel's stream (`russh`): the server's host
//! key is shown as OpenSSH's SHA-256 fingerprint and, when the user gave one, must match it;
//! then public-key authentication (with the RSA signature hash the server announces) or a
//! password, a pseudo-terminal (`xterm-256color`) and a login shell.

use super::protocol::Start;
use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey};
use russh::Disconnect;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite};

/// The terminal type the pseudo-terminal announces: what `vt100` interprets.
const TERM: &str = "xterm-256color";

/// The host key seen, and the fingerprint it had to have.
#[derive(Default)]
struct Seen {
    fingerprint: Option<String>,
    mismatch: bool,
}

pub struct Client {
    expected: Option<String>,
    seen: Arc<Mutex<Seen>>,
}

fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let public = match key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            russh::keys::PublicKeyOrCertificate::Certificate(c) => {
                PublicKey::from(c.public_key().clone())
            }
        };
        let fp = fingerprint(&public);
        let mismatch = self.expected.as_deref().is_some_and(|e| e != fp);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.fingerprint = Some(fp);
        seen.mismatch = mismatch;
        Ok(!mismatch)
    }
}

pub type Channel = russh::Channel<client::Msg>;

pub struct Shell {
    pub handle: Handle<Client>,
    pub channel: Channel,
}

pub async fn close(handle: &Handle<Client>) {
    let _ = handle.disconnect(Disconnect::ByApplication, "", "en").await;
}

/// What the page is told as the login goes on.
pub trait Progress {
    fn status(&mut self, text: String) -> impl std::future::Future<Output = ()> + Send;
}

/// Logs in over `stream` and starts a shell; the error is the reason the page shows.
pub async fn login<S, P>(stream: S, start: &Start, progress: &mut P) -> Result<Shell, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    P: Progress + Send,
{
    let seen = Arc::new(Mutex::new(Seen::default()));
    let config = Arc::new(client::Config {
        // The tunnel's endpoint and the browser keep the connection up; SSH keepalives find a
        // device that went away.
        keepalive_interval: Some(std::time::Duration::from_secs(30)),
        ..Default::default()
    });
    let handler = Client {
        expected: start.fingerprint.clone(),
        seen: seen.clone(),
    };
    let connected = client::connect_stream(config, stream, handler).await;
    let (fp, mismatch) = {
        let s = seen.lock().unwrap_or_else(|p| p.into_inner());
        (s.fingerprint.clone(), s.mismatch)
    };
    let mut handle = match connected {
        Ok(h) => h,
        Err(_) if mismatch => {
            return Err(format!(
                "The host key {} does not match the expected {}",
                fp.unwrap_or_default(),
                start.fingerprint.as_deref().unwrap_or_default()
            ))
        }
        Err(e) => return Err(format!("SSH handshake failed: {e}")),
    };
    if let Some(fp) = fp {
        progress.status(format!("Host key {fp}")).await;
    }
    let mut ok = false;
    if let Some(pem) = &start.key {
        let key = russh::keys::decode_secret_key(pem, start.passphrase.as_deref())
            .map_err(|e| format!("The private key could not be read: {e}"))?;
        let hash = handle
            .best_supported_rsa_hash()
            .await
            .map_err(|e| format!("SSH failed: {e}"))?
            .flatten();
        ok = handle
            .authenticate_publickey(
                start.user.clone(),
                PrivateKeyWithHashAlg::new(Arc::new(key), hash),
            )
            .await
            .map_err(|e| format!("SSH failed: {e}"))?
            .success();
    }
    if !ok {
        if let Some(pw) = &start.password {
            ok = handle
                .authenticate_password(start.user.clone(), pw.clone())
                .await
                .map_err(|e| format!("SSH failed: {e}"))?
                .success();
        }
    }
    if !ok {
        let _ = handle.disconnect(Disconnect::ByApplication, "", "en").await;
        return Err(format!("Authentication failed for {}", start.user));
    }
    let channel = handle
        .channel_open_session()
        .await
        .map_err(|e| format!("The session could not be opened: {e}"))?;
    channel
        .request_pty(
            true,
            TERM,
            u32::from(start.cols),
            u32::from(start.rows),
            0,
            0,
            &[],
        )
        .await
        .map_err(|e| format!("No terminal: {e}"))?;
    channel
        .request_shell(true)
        .await
        .map_err(|e| format!("No shell: {e}"))?;
    Ok(Shell { handle, channel })
}
