//! The fleet console, an open Fleet Hub: pages rendered on the server from Shoal's services,
//! served under `/console` on the API port with their CSS and JavaScript embedded in the
//! binary. Sign-in takes an access key and its secret and gives a session cookie (HttpOnly,
//! SameSite=Strict); every change is a POST carrying the session's CSRF token, and a
//! read-only key's session may change nothing. Every list is paged by the service underneath,
//! so a page costs the same at a million things.
//!
//! Owns: the pages, their forms, the session cookie and the terminals' counts. Must not use:
//! the store, HTTP clients, MQTT. The terminal (`terminal/`) is the exception, on purpose:
//! a client of the tunneling endpoint (the tunnel's source side) and of SSH. Layers: `shoal-api` hands it every `/console` request; it calls `shoal-services`.

mod assets;
mod form;
mod html;
mod pages;
mod respond;
pub mod terminal;

use bytes::Bytes;
use form::Form;
use html::Frame;
use http::{Method, Response};
use http_body_util::Full;
use respond::{forbidden, redirect};
use shoal_domain::Partition;
use shoal_services::console::{Session, Sessions};
use std::sync::Arc;

/// The services the pages read and change.
pub struct Deps {
    pub sessions: Arc<Sessions>,
    pub registry: Arc<shoal_services::Registry>,
    pub identity: Arc<shoal_services::Identity>,
    pub shadows: Arc<shoal_services::Shadows>,
    pub messaging: Arc<shoal_services::Messaging>,
    pub fleet: shoal_services::FleetIndexing,
    pub jobs: Arc<shoal_services::Jobs>,
    pub cloudwatch: Arc<shoal_services::CloudWatch>,
    pub logs: Arc<shoal_services::DeviceLogs>,
    pub tunnels: Arc<shoal_services::Tunnels>,
    /// The region the sign-in form offers first.
    pub default_region: String,
}

pub struct Console {
    deps: Deps,
    terminals: Arc<terminal::Terminals>,
}

/// The answer to a terminal's WebSocket upgrade.
pub enum Upgrade {
    /// 101, and the terminal to run once the connection is handed over.
    Accept(Response<Full<Bytes>>, Box<terminal::Pending>),
    /// A plain answer, before any upgrade.
    Refuse(Response<Full<Bytes>>),
}

/// The cookie that carries a session's token.
const COOKIE: &str = "shoal_console";

/// One request to a page, with its session.
pub(crate) struct Ctx<'a> {
    pub deps: &'a Deps,
    pub session: &'a Session,
    pub part: Partition,
    pub query: Form,
    pub form: Form,
    /// The request's `Cookie` header(s), joined with `; ` (saved queries live in one).
    pub cookies: String,
}

impl Ctx<'_> {
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            account: &self.session.account,
            region: &self.session.region,
            csrf: &self.session.csrf,
            read_only: self.session.read_only,
        }
    }

    /// A page in the frame.
    pub fn page(&self, title: &str, section: &str, body: &str) -> Response<Full<Bytes>> {
        respond::html(
            http::StatusCode::OK,
            html::page(title, section, Some(&self.frame()), body),
        )
    }
}

fn cookie_token(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Whether a request comes from the console's own pages (or from no page at all, as a script
/// or a test client): not `Sec-Fetch-Site: cross-site`/`same-site`, and any `Origin` names
/// the `Host` it was sent to.
fn same_origin(headers: &http::HeaderMap) -> bool {
    let get = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    if matches!(get("sec-fetch-site"), Some("cross-site" | "same-site")) {
        return false;
    }
    match (get("origin"), get("host")) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, o)| o.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

impl Console {
    pub fn new(deps: Deps) -> Arc<Console> {
        Arc::new(Console {
            deps,
            terminals: Arc::default(),
        })
    }

    /// Where this node's tunneling endpoint listens, for the terminal (known once it listens).
    pub fn set_tunnel_endpoint(
        &self,
        addr: std::net::SocketAddr,
        ca_pem: &str,
    ) -> Result<(), String> {
        self.terminals.set_endpoint(addr, ca_pem)
    }

    /// The tunnel a terminal's WebSocket path names (`/console/tunnels/ID/terminal`).
    pub fn terminal_tunnel(path: &str) -> Option<&str> {
        path.strip_prefix("/console/tunnels/")?
            .strip_suffix("/terminal")
            .filter(|id| !id.is_empty() && !id.contains('/'))
    }

    /// A terminal's WebSocket upgrade: the 101 answer and the terminal to run on the
    /// connection, or the plain answer that refuses it (before any upgrade).
    pub fn terminal(&self, path: &str, headers: &http::HeaderMap) -> Upgrade {
        let Some(id) = Console::terminal_tunnel(path) else {
            return Upgrade::Refuse(respond::not_found());
        };
        let Some(accept) = respond::websocket_accept(headers) else {
            return Upgrade::Refuse(respond::plain(
                http::StatusCode::BAD_REQUEST,
                "The terminal is a WebSocket: GET with Upgrade: websocket",
            ));
        };
        // Browsers always send Origin on a WebSocket; another site's page is refused.
        if !headers.contains_key(http::header::ORIGIN) || !same_origin(headers) {
            return Upgrade::Refuse(forbidden("Open the terminal from the console's own page."));
        }
        let session = match cookie_token(headers).map(|t| self.deps.sessions.session(&t)) {
            Some(Ok(Some(s))) => s,
            Some(Err(e)) => return Upgrade::Refuse(respond::error_page(&e.message)),
            _ => return Upgrade::Refuse(forbidden("Sign in first.")),
        };
        if session.read_only {
            return Upgrade::Refuse(forbidden(
                "This access key is read-only: it cannot open a terminal.",
            ));
        }
        let part = match session.partition() {
            Ok(p) => p,
            Err(e) => return Upgrade::Refuse(respond::error_page(&e.message)),
        };
        let tunnel = match self.deps.tunnels.describe(&part, id) {
            Ok(t) => t,
            Err(e) if e.kind == shoal_domain::ErrorKind::NotFound => {
                return Upgrade::Refuse(respond::not_found())
            }
            Err(e) => return Upgrade::Refuse(respond::error_page(&e.message)),
        };
        if !terminal::usable(tunnel.status) {
            return Upgrade::Refuse(respond::plain(
                http::StatusCode::CONFLICT,
                "The tunnel is closed.",
            ));
        }
        let Some(endpoint) = self.terminals.endpoint() else {
            return Upgrade::Refuse(respond::plain(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "The tunneling endpoint is not listening yet.",
            ));
        };
        let Some(slot) = self.terminals.take(&part) else {
            return Upgrade::Refuse(respond::plain(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "Too many terminals are open; close one first.",
            ));
        };
        let pending = terminal::Pending {
            tunnels: self.deps.tunnels.clone(),
            endpoint,
            part,
            tunnel_id: id.to_string(),
            services: tunnel.services().to_vec(),
            csrf: session.csrf.clone(),
            _slot: slot,
        };
        Upgrade::Accept(respond::switching_protocols(&accept), Box::new(pending))
    }

    /// Answers a request whose path starts with `/console`.
    pub async fn handle(
        &self,
        method: &Method,
        path: &str,
        query: &str,
        headers: &http::HeaderMap,
        body: Bytes,
    ) -> Response<Full<Bytes>> {
        let rest = path.strip_prefix("/console").unwrap_or(path);
        if let Some(asset) = rest.strip_prefix("/assets/") {
            return assets::serve(asset);
        }
        match (method, rest) {
            (&Method::GET, "/login") => return pages::login::form(&self.deps, None),
            (&Method::POST, "/login") => {
                // Sign-in carries no CSRF token (there is no session yet): a form posted from
                // another site is told apart by the browser's Sec-Fetch-Site and Origin.
                if !same_origin(headers) {
                    return forbidden("Sign in from the console's own page.");
                }
                return pages::login::submit(&self.deps, &Form::from_body(&body)).await;
            }
            _ => {}
        }
        let token = cookie_token(headers);
        let session = match token.as_deref().map(|t| self.deps.sessions.session(t)) {
            Some(Ok(Some(s))) => s,
            Some(Err(e)) => return respond::error_page(&e.message),
            _ => {
                return if method == Method::GET {
                    redirect("/console/login")
                } else {
                    forbidden("Sign in first.")
                }
            }
        };
        let part = match session.partition() {
            Ok(p) => p,
            Err(e) => return respond::error_page(&e.message),
        };
        let form = if method == Method::POST {
            let form = Form::from_body(&body);
            // Every change carries the session's CSRF token; a read-only key changes nothing.
            if form.get("csrf") != session.csrf {
                return forbidden("The form's CSRF token is missing or not this session's.");
            }
            if rest == "/logout" {
                if let Some(t) = &token {
                    let _ = self.deps.sessions.sign_out(t).await;
                }
                return respond::signed_out();
            }
            if session.read_only {
                return forbidden("This access key is read-only: it cannot change anything.");
            }
            form
        } else if method == Method::GET {
            Form(Vec::new())
        } else {
            return respond::not_found();
        };
        let ctx = Ctx {
            deps: &self.deps,
            session: &session,
            part,
            query: Form::from_query(query),
            form,
            cookies: headers
                .get_all(http::header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join("; "),
        };
        pages::route(&ctx, method, rest).await
    }
}

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
