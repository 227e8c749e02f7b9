//! Listeners (L2 plumbing): the one accept loop every gateway uses — the AWS API, device HTTPS
//! and the MQTT listeners (DESIGN.md §3: listeners share one accept/limit/timeout/shutdown
//! helper). It owns three things so no gateway has its own copy of them:
//!
//! - a cap on open connections per listener: past it, a new connection is closed at once
//!   instead of costing a task and buffers (one client opening sockets cannot exhaust the
//!   process's file descriptors for every tenant);
//! - the shutdown signal: stopping a listener ends its accept loop, and every connection it
//!   accepted sees the same signal and winds down in its protocol's way (hyper finishes the
//!   request in flight, an MQTT session sends DISCONNECT 0x8B);
//! - the drain: the caller waits until every connection has ended, or a deadline passes.
//!
//! It knows sockets and tasks only: no TLS, HTTP or MQTT, and nothing of the services.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

pub use tokio_util::sync::CancellationToken;

/// One accepted connection's place in its listener: while it lives it holds one of the
/// listener's slots, and `stop` tells it the listener is shutting down. Its fields are private
/// so that a handler holds the whole of it (a closure that moved out only the token would
/// free the slot at once, and the cap would count nothing).
pub struct Conn {
    peer: SocketAddr,
    stop: CancellationToken,
    _slot: OwnedSemaphorePermit,
}

impl Conn {
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Cancelled when the listener is shutting down.
    pub fn stop(&self) -> &CancellationToken {
        &self.stop
    }
}

/// A bound listener with its limits, ready to serve.
pub struct Listener {
    name: &'static str,
    listener: TcpListener,
    max_connections: usize,
}

/// A listener being served: stop it with the token given to `serve`, then `drain`.
pub struct Served {
    name: &'static str,
    accept: JoinHandle<()>,
    tracker: TaskTracker,
    slots: Arc<Semaphore>,
    max_connections: usize,
}

/// After an accept error (such as running out of file descriptors) the loop pauses this long
/// rather than spinning; the listener itself stays up.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

impl Listener {
    pub fn new(name: &'static str, listener: TcpListener, max_connections: usize) -> Listener {
        Listener {
            name,
            listener,
            max_connections: max_connections.max(1),
        }
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `stop` is cancelled, running `handle` for each on a task of
    /// its own. Connections past the cap are closed as soon as they are accepted.
    pub fn serve<H, F>(self, stop: CancellationToken, handle: H) -> Served
    where
        H: Fn(TcpStream, Conn) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let tracker = TaskTracker::new();
        let slots = Arc::new(Semaphore::new(self.max_connections));
        let Listener {
            name,
            listener,
            max_connections,
        } = self;
        let accept = tokio::spawn({
            let (tracker, slots) = (tracker.clone(), slots.clone());
            async move {
                loop {
                    let accepted = tokio::select! {
                        a = listener.accept() => a,
                        () = stop.cancelled() => break,
                    };
                    let (tcp, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(listener = name, error = %e, "accept failed");
                            tokio::time::sleep(ACCEPT_BACKOFF).await;
                            continue;
                        }
                    };
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        tracing::info!(listener = name, %peer, limit = max_connections, "connection limit reached; connection closed");
                        drop(tcp);
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    let conn = Conn {
                        peer,
                        stop: stop.child_token(),
                        _slot: slot,
                    };
                    tracker.spawn(handle(tcp, conn));
                }
                // Dropping the socket here refuses new connections at once, while the ones
                // accepted wind down.
                drop(listener);
            }
        });
        Served {
            name,
            accept,
            tracker,
            slots,
            max_connections,
        }
    }
}

impl Served {
    /// Connections open right now.
    pub fn open(&self) -> usize {
        self.max_connections - self.slots.available_permits()
    }

    /// Waits for the accept loop to end (its stop token must have been cancelled) and then for
    /// every connection to end, up to `deadline`. Returns whether all of them did.
    pub async fn drain(self, deadline: Duration) -> bool {
        let _ = self.accept.await;
        self.tracker.close();
        let done = tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok();
        if !done {
            tracing::warn!(
                listener = self.name,
                open = self.max_connections - self.slots.available_permits(),
                "connections still open after the drain period"
            );
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn bound(max: usize) -> (Listener, SocketAddr) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        (Listener::new("test", l, max), addr)
    }

    /// Echoes one byte, then waits for the stop signal and says goodbye with `b'x'`.
    async fn echo_until_stopped(mut tcp: TcpStream, conn: Conn) {
        let mut b = [0u8; 1];
        if tcp.read_exact(&mut b).await.is_ok() {
            let _ = tcp.write_all(&b).await;
        }
        conn.stop().cancelled().await;
        let _ = tcp.write_all(b"x").await;
    }

    #[tokio::test]
    async fn connections_past_the_cap_are_closed_and_slots_come_back() {
        let (l, addr) = bound(2).await;
        let stop = CancellationToken::new();
        let served = l.serve(stop.clone(), echo_until_stopped);
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(b"a").await.unwrap();
            let mut b = [0u8; 1];
            c.read_exact(&mut b).await.unwrap();
            held.push(c);
        }
        assert_eq!(served.open(), 2);
        let mut third = TcpStream::connect(addr).await.unwrap();
        let mut b = [0u8; 1];
        assert_eq!(
            third.read(&mut b).await.unwrap(),
            0,
            "closed without service"
        );
        stop.cancel();
        for mut c in held {
            let mut b = [0u8; 1];
            c.read_exact(&mut b).await.unwrap();
            assert_eq!(&b, b"x", "each connection saw the stop signal");
        }
        assert!(served.drain(Duration::from_secs(5)).await);
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "the listener is closed"
        );
    }

    #[tokio::test]
    async fn drain_gives_up_at_its_deadline() {
        let (l, addr) = bound(4).await;
        let stop = CancellationToken::new();
        let (started, running) = tokio::sync::oneshot::channel::<()>();
        let started = std::sync::Mutex::new(Some(started));
        let served = l.serve(stop.clone(), move |tcp: TcpStream, _conn: Conn| {
            let started = started.lock().unwrap().take();
            async move {
                if let Some(s) = started {
                    let _ = s.send(());
                }
                // Ignores the stop signal: only the deadline ends the wait.
                std::future::pending::<()>().await;
                drop(tcp);
            }
        });
        let _c = TcpStream::connect(addr).await.unwrap();
        running.await.unwrap();
        stop.cancel();
        assert!(!served.drain(Duration::from_millis(200)).await);
    }
}
