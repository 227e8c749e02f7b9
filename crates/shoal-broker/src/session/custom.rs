//! A custom-authorized connection over time: it ends when its function's
//! `disconnectAfterInSeconds` runs out (lifecycle reason CUSTOMAUTH_TTL_EXPIRATION, MQTT 5
//! DISCONNECT 0xA0), and after `refreshAfterInSeconds` the function is asked again: new
//! policies, or the end when it now refuses
//! (https://docs.aws.amazon.com/iot/latest/developerguide/config-custom-auth.html). Times are
//! read on the `Clock`; a timer and every packet are the moments it is looked at.

use super::*;
use crate::principal::Principal;

impl Session {
    /// When (tokio time) to look at the connection's authorization next; `None` for
    /// connections that are not custom-authorized.
    pub(super) fn custom_wake(&self) -> Option<Instant> {
        let Principal::Custom(c) = &self.principal else {
            return None;
        };
        let wait = (c.next_check() - self.now()).max(0) as u64;
        Some(Instant::now() + Duration::from_millis(wait))
    }

    /// Whether a custom-authorized connection's end or refresh is due (cheap: no clock read
    /// for other connections).
    pub(super) fn custom_check_due(&self) -> bool {
        match &self.principal {
            Principal::Custom(c) => self.now() >= c.next_check(),
            _ => false,
        }
    }

    /// Ends the connection (`Some`) when its time is up or a refresh is refused; refreshes its
    /// policies when due.
    pub(super) async fn custom_due<W: AsyncWrite + Unpin>(
        &mut self,
        wr: &mut W,
    ) -> SessionResult<Option<EndReason>> {
        let now = self.now();
        let (ended, refresh) = match &self.principal {
            Principal::Custom(c) => (now >= c.disconnect_at, now >= c.refresh_at),
            _ => return Ok(None),
        };
        if ended {
            self.end(wr, reason::MAXIMUM_CONNECT_TIME).await?;
            return Ok(Some(EndReason::CustomAuthTtl));
        }
        if !refresh {
            return Ok(None);
        }
        let Principal::Custom(c) = &self.principal else {
            return Ok(None);
        };
        let (part, request) = (c.partition.clone(), c.request.clone());
        match self.gw.authorizers.authenticate(&part, &request).await {
            Ok(a) => {
                if let Principal::Custom(c) = &mut self.principal {
                    c.refreshed(a, self.gw.messaging.now());
                }
                // The next check rebuilds the authorizer from the new policies.
                self.authorizer = None;
                Ok(None)
            }
            Err(e) => {
                tracing::info!(conn = self.conn, reason = %e.message, "custom authorization refused on refresh");
                self.end(wr, reason::NOT_AUTHORIZED).await?;
                Ok(Some(EndReason::AuthError))
            }
        }
    }
}
