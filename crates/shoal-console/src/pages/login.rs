//! Signing in with an access key and its secret (the admin key is in the data folder's
//! `credentials`, and `shoal env` prints it), for one region.

use super::Page;
use crate::form::Form;
use crate::html::{esc, notice, page};
use crate::{respond, Deps};

pub fn form(deps: &Deps, error: Option<&str>) -> Page {
    let body = format!(
        "{}<form method=\"post\" action=\"/console/login\" class=\"box\" id=\"login\">\
         <label>Access key ID <input type=\"text\" name=\"access_key_id\" autocomplete=\"username\" required></label>\
         <label>Secret access key <input type=\"password\" name=\"secret_access_key\" autocomplete=\"current-password\" required></label>\
         <label>Region <input type=\"text\" name=\"region\" value=\"{}\" required></label>\
         <button type=\"submit\">Sign in</button></form>",
        error.map(|e| notice("error", e)).unwrap_or_default(),
        esc(&deps.default_region)
    );
    let status = if error.is_some() {
        http::StatusCode::UNAUTHORIZED
    } else {
        http::StatusCode::OK
    };
    respond::html(status, page("Sign in", "", None, &body))
}

pub async fn submit(deps: &Deps, f: &Form) -> Page {
    let region = f.opt("region").unwrap_or(&deps.default_region);
    match deps
        .sessions
        .sign_in(f.get("access_key_id"), f.get("secret_access_key"), region)
        .await
    {
        Ok((token, _)) => respond::signed_in(&token),
        Err(e) => form(deps, Some(&e.message)),
    }
}
