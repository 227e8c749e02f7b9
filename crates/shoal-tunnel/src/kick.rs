//! A connection's "stop now" signal with the close frame it should send: set once (the
//! first reason wins), waited on by the connection's reader.

use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[derive(Clone, Default)]
pub struct Kick(Arc<Inner>);

#[derive(Default)]
struct Inner {
    why: Mutex<Option<(CloseCode, &'static str)>>,
    notify: Notify,
}

impl Kick {
    pub fn kick(&self, code: CloseCode, reason: &'static str) {
        let mut why = self.0.why.lock().unwrap_or_else(|p| p.into_inner());
        if why.is_none() {
            *why = Some((code, reason));
        }
        drop(why);
        self.0.notify.notify_one();
    }

    /// Waits until kicked; the close code and reason.
    pub async fn kicked(&self) -> (CloseCode, &'static str) {
        loop {
            if let Some(w) = *self.0.why.lock().unwrap_or_else(|p| p.into_inner()) {
                return w;
            }
            self.0.notify.notified().await;
        }
    }
}
