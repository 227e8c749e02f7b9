//! TCP forwarding through a tunnel for one service, as AWS's local proxy does it: the source
//! accepts local TCP connections and starts a stream for the first (STREAM_START) and a
//! connection of that stream for the others (CONNECTION_START, V3); the destination connects
//! to its local application for each; DATA carries at most 63 KB; a TCP connection that ends
//! sends CONNECTION_RESET, and STREAM_RESET ends them all. Nothing is sent before the
//! endpoint's SERVICE_IDS has arrived.

use crate::client::Conn;
use crate::message::*;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub enum Side {
    /// Accept local connections here.
    Source(TcpListener),
    /// Connect to this local application (`HOST:PORT`).
    Destination(String),
}

struct Link {
    to_tcp: mpsc::Sender<Vec<u8>>,
    reader: JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Waits for SERVICE_IDS: the ids the endpoint lists (empty for a tunnel without any).
pub async fn service_ids(conn: &mut Conn) -> Result<Vec<String>, String> {
    match conn.recv().await {
        Some(m) if m.kind == SERVICE_IDS => Ok(m.available_service_ids),
        Some(m) => Err(format!(
            "the first message was type {}, not SERVICE_IDS",
            m.kind
        )),
        None => Err(format!("closed before SERVICE_IDS ({:?})", conn.close)),
    }
}

/// Forwards `service` until the WebSocket ends (call after `service_ids`).
pub async fn run(conn: Conn, service: &str, side: Side) -> Result<(), String> {
    let Conn {
        ws,
        mut reader,
        mut pending,
        ..
    } = conn;
    let (mut sink, mut stream) = ws.split();
    let (to_ws, mut frames) = mpsc::channel::<Vec<u8>>(64);
    let writer = tokio::spawn(async move {
        let mut ping = tokio::time::interval(crate::client::PING_EVERY);
        loop {
            let next = tokio::select! {
                f = frames.recv() => f,
                _ = ping.tick() => {
                    if sink.send(crate::client::ping()).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            let Some(mut f) = next else { break };
            // Frames queued meanwhile go in the same WebSocket message (at most 131,076 bytes).
            while let Ok(more) = frames.try_recv() {
                let full = f.len() + more.len() > 131_076;
                if full
                    && sink
                        .send(WsMessage::Binary(std::mem::take(&mut f).into()))
                        .await
                        .is_err()
                {
                    return;
                }
                if f.is_empty() {
                    f = more;
                } else {
                    f.extend_from_slice(&more);
                }
            }
            if sink.send(WsMessage::Binary(f.into())).await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    });
    let (ended_tx, mut ended) = mpsc::unbounded_channel::<(i32, u32)>();
    let mut links: HashMap<u32, Link> = HashMap::new();
    let mut stream_id = 0i32;
    let mut active = false;
    let mut next_conn = 0u32;
    // A peer that sends connectionId 0 speaks V2: answer in kind.
    let mut v3 = true;
    let source = match &side {
        Side::Source(l) => Some(l),
        Side::Destination(_) => None,
    };
    loop {
        let msg = if let Some(m) = pending.pop_front() {
            Some(m)
        } else {
            tokio::select! {
                w = stream.next() => match w {
                    Some(Ok(WsMessage::Binary(b))) => {
                        let Some(msgs) = reader.push(&b) else { break };
                        pending.extend(msgs);
                        continue;
                    }
                    Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => continue,
                },
                a = accept(source) => {
                    let Ok(tcp) = a else { continue };
                    let conn_id = if active {
                        next_conn += 1;
                        let m = Msg::control(CONNECTION_START, stream_id, service, next_conn);
                        let _ = to_ws.send(m.frame()).await;
                        next_conn
                    } else {
                        stream_id += 1;
                        active = true;
                        next_conn = 1;
                        let m = Msg::control(STREAM_START, stream_id, service, 1);
                        let _ = to_ws.send(m.frame()).await;
                        1
                    };
                    links.insert(conn_id, link(tcp, stream_id, service, conn_id, &to_ws, &ended_tx));
                    continue;
                }
                e = ended.recv() => {
                    if let Some((s, c)) = e {
                        if s == stream_id {
                            links.remove(&c);
                        }
                    }
                    continue;
                }
            }
        };
        let Some(m) = msg else { break };
        let conn_id = if m.connection_id == 0 {
            1
        } else {
            m.connection_id
        };
        match m.kind {
            DATA if m.stream_id == stream_id && active => {
                if let Some(l) = links.get(&conn_id) {
                    let _ = l.to_tcp.send(m.payload).await;
                }
            }
            STREAM_START => {
                if let Side::Destination(target) = &side {
                    links.clear();
                    stream_id = m.stream_id;
                    active = true;
                    v3 = m.connection_id != 0;
                    open(
                        target, stream_id, service, conn_id, v3, &to_ws, &ended_tx, &mut links,
                    )
                    .await;
                }
            }
            CONNECTION_START if m.stream_id == stream_id => {
                if let Side::Destination(target) = &side {
                    open(
                        target, stream_id, service, conn_id, v3, &to_ws, &ended_tx, &mut links,
                    )
                    .await;
                }
            }
            STREAM_RESET if m.stream_id == stream_id => {
                links.clear();
                active = false;
            }
            CONNECTION_RESET if m.stream_id == stream_id => {
                links.remove(&conn_id);
            }
            SESSION_RESET => {
                links.clear();
                active = false;
            }
            _ => {}
        }
    }
    links.clear();
    drop(to_ws);
    let _ = writer.await;
    Ok(())
}

async fn accept(l: Option<&TcpListener>) -> std::io::Result<TcpStream> {
    match l {
        Some(l) => l.accept().await.map(|(s, _)| s),
        None => std::future::pending().await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn open(
    target: &str,
    stream_id: i32,
    service: &str,
    conn_id: u32,
    v3: bool,
    to_ws: &mpsc::Sender<Vec<u8>>,
    ended: &mpsc::UnboundedSender<(i32, u32)>,
    links: &mut HashMap<u32, Link>,
) {
    match TcpStream::connect(target).await {
        Ok(tcp) => {
            let id = if v3 { conn_id } else { 0 };
            links.insert(conn_id, link(tcp, stream_id, service, id, to_ws, ended));
        }
        Err(_) => {
            let kind = if v3 { CONNECTION_RESET } else { STREAM_RESET };
            let m = Msg::control(kind, stream_id, service, if v3 { conn_id } else { 0 });
            let _ = to_ws.send(m.frame()).await;
        }
    }
}

/// Starts the two halves of a TCP connection's forwarding.
fn link(
    tcp: TcpStream,
    stream_id: i32,
    service: &str,
    conn_id: u32,
    to_ws: &mpsc::Sender<Vec<u8>>,
    ended: &mpsc::UnboundedSender<(i32, u32)>,
) -> Link {
    let _ = tcp.set_nodelay(true);
    let (mut rd, mut wr) = tcp.into_split();
    let (to_tcp, mut from_ws) = mpsc::channel::<Vec<u8>>(64);
    tokio::spawn(async move {
        while let Some(b) = from_ws.recv().await {
            if wr.write_all(&b).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let (to_ws, ended, service) = (to_ws.clone(), ended.clone(), service.to_string());
    let reader = tokio::spawn(async move {
        loop {
            // Read straight behind room for the header: the frame is built around the bytes.
            let mut buf = vec![0u8; DATA_HEADROOM + MAX_PAYLOAD];
            match rd.read(&mut buf[DATA_HEADROOM..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let f = data_frame_in_place(buf, n, stream_id, &service, conn_id);
                    if to_ws.send(f).await.is_err() {
                        return;
                    }
                }
            }
        }
        let kind = if conn_id == 0 {
            STREAM_RESET
        } else {
            CONNECTION_RESET
        };
        let _ = to_ws
            .send(Msg::control(kind, stream_id, &service, conn_id).frame())
            .await;
        let _ = ended.send((stream_id, conn_id.max(1)));
    });
    Link { to_tcp, reader }
}
