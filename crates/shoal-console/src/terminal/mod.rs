//! The terminal on a tunnel's page: a shell on the device, in the browser, over the tunnel.
//! Shoal is the tunnel's source side, as AWS's console is for its browser-based SSH
//! (https://docs.aws.amazon.com/iot/latest/developerguide/tunneling-tutorial-quick-setup.html):
//! it connects to its own tunneling endpoint with the source access token (the one the page
//! was given when the tunnel was opened, or a new one from rotating the source token), starts
//! a stream of the chosen service (`shoal-localproxy`'s protocol code), speaks SSH over it,
//! keeps the terminal's state (`vt100`) and sends the page the screen as HTML. The page sends
//! keys; nothing runs in the browser but a few lines of the console's script.
//!
//! Bounds: at most `MAX_PER_NODE` terminals on a node and `MAX_PER_ACCOUNT` per account and
//! region (more are refused with 503 before the upgrade), 64 KiB per message from the page,
//! 30 s to log in, the screen's size within `protocol::COLS`/`ROWS`.

mod keys;
mod protocol;
mod screen;
mod ssh;

use futures_util::{SinkExt, StreamExt};
use protocol::FromPage;
use russh::ChannelMsg;
use shoal_domain::tunnels::{ClientMode, TunnelStatus};
use shoal_domain::Partition;
use shoal_localproxy::client::{Endpoint, Mode, Options};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub const MAX_PER_NODE: usize = 64;
pub const MAX_PER_ACCOUNT: usize = 8;
/// The page sends its first message at once; the login (tunnel, SSH handshake, shell) has
/// this long.
const START_TIMEOUT: Duration = Duration::from_secs(10);
const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Output arriving together is drawn once: the screen goes out at most this often (the
/// first output after a quiet spell at once).
const FRAME: Duration = Duration::from_millis(8);

/// The terminals of this node.
#[derive(Default)]
pub struct Terminals {
    endpoint: OnceLock<Endpoint>,
    open: Mutex<HashMap<String, usize>>,
}

/// A terminal's place in the counts, given back when it ends.
pub struct Slot {
    terminals: Arc<Terminals>,
    key: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.terminals.lock();
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
        if let Some(n) = open.get_mut("") {
            *n -= 1;
        }
    }
}

impl Terminals {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where this node's tunneling endpoint listens (set once it does) and the CA that signed
    /// its certificate.
    pub fn set_endpoint(&self, addr: std::net::SocketAddr, ca_pem: &str) -> Result<(), String> {
        // The server certificate names localhost and 127.0.0.1; an endpoint on every address
        // is reached on the loopback one.
        let ip = if addr.ip().is_unspecified() {
            std::net::IpAddr::from([127, 0, 0, 1])
        } else {
            addr.ip()
        };
        let mut ep = Endpoint::new(&format!("localhost:{}", addr.port()), ca_pem)?;
        ep.addr = std::net::SocketAddr::new(ip, addr.port()).to_string();
        let _ = self.endpoint.set(ep);
        Ok(())
    }

    pub(crate) fn endpoint(&self) -> Option<Endpoint> {
        self.endpoint.get().cloned()
    }

    /// A slot for one more terminal of `part`, if the bounds allow it.
    pub(crate) fn take(self: &Arc<Self>, part: &Partition) -> Option<Slot> {
        let key = part.key().to_string();
        let mut open = self.lock();
        let node = open.get("").copied().unwrap_or(0);
        let mine = open.get(&key).copied().unwrap_or(0);
        if node >= MAX_PER_NODE || mine >= MAX_PER_ACCOUNT {
            return None;
        }
        *open.entry(String::new()).or_default() += 1;
        *open.entry(key.clone()).or_default() += 1;
        Some(Slot {
            terminals: self.clone(),
            key,
        })
    }
}

/// An accepted upgrade: the terminal runs once the connection is handed over.
pub struct Pending {
    pub(crate) tunnels: Arc<shoal_services::Tunnels>,
    pub(crate) endpoint: Endpoint,
    pub(crate) part: Partition,
    pub(crate) tunnel_id: String,
    pub(crate) services: Vec<String>,
    pub(crate) csrf: String,
    /// Held for its `Drop`: the terminal counts until it ends.
    pub(crate) _slot: Slot,
}

type Ws<IO> = WebSocketStream<IO>;

async fn say<IO: AsyncRead + AsyncWrite + Unpin>(ws: &mut Ws<IO>, text: String) -> bool {
    ws.send(Message::Text(text.into())).await.is_ok()
}

struct PageStatus<'a, IO> {
    ws: &'a mut Ws<IO>,
}

impl<IO: AsyncRead + AsyncWrite + Unpin + Send> ssh::Progress for PageStatus<'_, IO> {
    async fn status(&mut self, text: String) {
        let _ = say(self.ws, protocol::status(&text)).await;
    }
}

/// The next text message from the page; `None` when it went away.
async fn next_text<IO: AsyncRead + AsyncWrite + Unpin>(ws: &mut Ws<IO>) -> Option<String> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) => return Some(t.to_string()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

impl Pending {
    /// Runs the terminal on the upgraded connection until the shell, the tunnel or the page ends.
    pub async fn run<IO>(self, io: IO)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let config = WebSocketConfig::default()
            .max_message_size(Some(protocol::MAX_MESSAGE))
            .max_frame_size(Some(protocol::MAX_MESSAGE));
        let mut ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
        let reason = self.session(&mut ws).await;
        let _ = say(&mut ws, protocol::closed(&reason)).await;
        let _ = ws.close(None).await;
    }

    /// The terminal's life; the reason it ended.
    async fn session<IO>(&self, ws: &mut Ws<IO>) -> String
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let start = match tokio::time::timeout(START_TIMEOUT, next_text(ws)).await {
            Ok(Some(t)) => t,
            Ok(None) => return "The page went away".into(),
            Err(_) => return "The page sent nothing".into(),
        };
        let start = match protocol::start(&start) {
            Ok(s) => s,
            Err(e) => return e,
        };
        if start.csrf != self.csrf {
            return "The CSRF token is missing or not this session's".into();
        }
        let service_ok = if self.services.is_empty() {
            start.service.is_empty()
        } else {
            self.services.contains(&start.service)
        };
        if !service_ok {
            return format!("The tunnel has no service {}", start.service);
        }
        let login = tokio::time::timeout(LOGIN_TIMEOUT, self.login(ws, &start)).await;
        let shell = match login {
            Ok(Ok(shell)) => shell,
            Ok(Err(e)) => return e,
            Err(_) => {
                return format!(
                    "No shell within {} seconds (is the destination connected?)",
                    LOGIN_TIMEOUT.as_secs()
                )
            }
        };
        let _ = say(
            ws,
            protocol::status(&format!("Connected as {}", start.user)),
        )
        .await;
        let ssh::Shell { handle, channel } = shell;
        let reason = drive(ws, channel, start.cols, start.rows).await;
        ssh::close(&handle).await;
        reason
    }

    async fn login<IO>(
        &self,
        ws: &mut Ws<IO>,
        start: &protocol::Start,
    ) -> Result<ssh::Shell, String>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let token = match &start.token {
            Some(t) => t.clone(),
            None => {
                // No token from the page: a new source token, which ends any other source's
                // connection (RotateTunnelAccessToken, clientMode SOURCE).
                say(ws, protocol::status("Rotating the source access token")).await;
                self.tunnels
                    .rotate(&self.part, &self.tunnel_id, ClientMode::Source, None)
                    .await
                    .map_err(|e| e.message)?
                    .source
                    .ok_or("No source token came back")?
            }
        };
        say(ws, protocol::status("Connecting to the tunnel")).await;
        let conn =
            shoal_localproxy::client::connect(&self.endpoint, &Options::new(Mode::Source, &token))
                .await
                .map_err(|e| match e {
                    shoal_localproxy::client::Error::Refused(_, body) => {
                        format!("The tunnel refused the source token: {body}")
                    }
                    other => format!("The tunnel could not be reached: {other}"),
                })?;
        say(ws, protocol::status("Waiting for the device")).await;
        let pipe = shoal_localproxy::stream::source_stream(conn, &start.service).await?;
        ssh::login(pipe, start, &mut PageStatus { ws }).await
    }
}

/// Keys to the shell, output to the screen, until one side ends.
async fn drive<IO>(ws: &mut Ws<IO>, channel: ssh::Channel, cols: u16, rows: u16) -> String
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut parser = vt100::Parser::new(nz(rows), nz(cols), 0);
    let (mut output, to_shell) = channel.split();
    let mut drawn = String::new();
    let mut due: Option<Instant> = None;
    let mut last_sent = Instant::now();
    let mut exit: Option<u32> = None;
    loop {
        tokio::select! {
            m = output.wait() => match m {
                Some(ChannelMsg::Data { data } | ChannelMsg::ExtendedData { data, .. }) => {
                    parser.process(&data);
                    // At once after a quiet spell (a key's echo), else one frame after the last.
                    due.get_or_insert_with(|| (last_sent + FRAME).max(Instant::now()));
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => exit = Some(exit_status),
                // exit-status may follow EOF: the session is over when the channel closes.
                Some(ChannelMsg::Close) | None => break,
                Some(_) => {}
            },
            t = next_text(ws) => {
                let Some(t) = t else { return "The page went away".into() };
                let input = match protocol::from_page(&t) {
                    Ok(FromPage::Key(k)) => keys::bytes(&k, parser.screen().application_cursor()),
                    Ok(FromPage::Paste(p)) => keys::paste(&p, parser.screen().bracketed_paste()),
                    Ok(FromPage::Resize { cols, rows }) => {
                        parser.screen_mut().set_size(nz(rows), nz(cols));
                        let _ = to_shell.window_change(u32::from(cols), u32::from(rows), 0, 0).await;
                        due.get_or_insert_with(Instant::now);
                        continue;
                    }
                    Err(e) => return e,
                };
                if !input.is_empty() && to_shell.data(&input[..]).await.is_err() {
                    break;
                }
            },
            () = sleep_until(due), if due.is_some() => {
                due = None;
                let html = screen::html(parser.screen());
                if html != drawn {
                    if !say(ws, protocol::screen(&html)).await {
                        return "The page went away".into();
                    }
                    drawn = html;
                    last_sent = Instant::now();
                }
            }
        }
    }
    // The last output before the end.
    let html = screen::html(parser.screen());
    if html != drawn {
        say(ws, protocol::screen(&html)).await;
    }
    match exit {
        Some(code) => format!("The session ended (exit status {code})"),
        None => "The session ended".into(),
    }
}

/// Sizes are checked against `protocol::ROWS`/`COLS`, which start above zero.
fn nz(v: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(v).unwrap_or(std::num::NonZeroU16::MIN)
}

async fn sleep_until(due: Option<Instant>) {
    if let Some(d) = due {
        tokio::time::sleep_until(d).await;
    }
}

/// Whether a tunnel can have a terminal now.
pub(crate) fn usable(status: TunnelStatus) -> bool {
    status == TunnelStatus::Open
}

#[cfg(test)]
#[path = "upgrade_tests.rs"]
mod upgrade_tests;
