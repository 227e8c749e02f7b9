//! Reading the signature out of a request: either the `Authorization` header
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>,
//! "Add the signature to the request") or the presigned query-string form
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html#sigv4-add-signature-querystring>).
//!
//! Parsing borrows from the request; nothing here can panic on hostile input.

use crate::error::AuthError;
use crate::time::parse_amz_date;
use crate::{RequestParts, ALGORITHM};

/// What a parsed Authorization header or presigned query says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuth<'a> {
    pub access_key_id: &'a str,
    /// Credential scope date, `yyyymmdd`.
    pub date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    /// `yyyymmddThhmmssZ` from the X-Amz-Date header or query parameter.
    pub amz_date: &'a str,
    /// As listed by the client, in its order (normally lowercase and sorted).
    pub signed_headers: Vec<&'a str>,
    pub signature: &'a str,
    /// `Some(X-Amz-Expires seconds)` for the presigned query form.
    pub presigned: Option<u64>,
}

/// Lifetime assumed for presigned URLs that carry no `X-Amz-Expires`. AWS IoT
/// WebSocket signers commonly leave it out; fifteen minutes matches the clock
/// skew allowed for header-signed requests.
pub const DEFAULT_PRESIGNED_EXPIRES: u64 = 900;

/// Find the signature in `req`: the Authorization header wins; otherwise a
/// query with `X-Amz-Algorithm` is a presigned request; otherwise the request
/// is unauthenticated ([`AuthError::Missing`]).
pub fn parse<'a>(req: &RequestParts<'a>) -> Result<ParsedAuth<'a>, AuthError> {
    let mut authorization = req
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"));
    if let Some(&(_, value)) = authorization.next() {
        if authorization.next().is_some() {
            return Err(incomplete(
                "Only one Authorization header may be present in the request.",
            ));
        }
        return parse_header(value, req.headers);
    }
    if query_pairs(req.query).any(|(n, _)| n == "X-Amz-Algorithm") {
        return parse_query(req.query);
    }
    Err(AuthError::Missing)
}

fn incomplete(msg: impl Into<String>) -> AuthError {
    AuthError::Incomplete(msg.into())
}

fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=…`
fn parse_header<'a>(
    value: &'a str,
    headers: &'a [(&'a str, &'a str)],
) -> Result<ParsedAuth<'a>, AuthError> {
    let value = value.trim();
    let (algorithm, rest) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in rest.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let Some((key, val)) = component.split_once('=') else {
            continue;
        };
        let slot = match key.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(val.trim()).is_some() {
            return Err(incomplete(format!(
                "Authorization header has a duplicate '{}' parameter. Authorization={value}",
                key.trim()
            )));
        }
    }

    let mut amz_dates = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("x-amz-date"))
        .map(|(_, v)| v.trim());
    let amz_date = amz_dates.next();
    if amz_dates.next().is_some() {
        return Err(incomplete(
            "Only one X-Amz-Date header may be present in the request.",
        ));
    }

    // AWS reports every missing part at once, then echoes the header.
    let mut missing = String::new();
    for (present, what) in [
        (credential.is_some(), "requires 'Credential' parameter"),
        (signature.is_some(), "requires 'Signature' parameter"),
        (
            signed_headers.is_some(),
            "requires 'SignedHeaders' parameter",
        ),
        (
            amz_date.is_some(),
            "requires existence of either a 'X-Amz-Date' or a 'Date' header",
        ),
    ] {
        if !present {
            missing.push_str("Authorization header ");
            missing.push_str(what);
            missing.push_str(". ");
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature), Some(amz_date)) =
        (credential, signed_headers, signature, amz_date)
    else {
        return Err(incomplete(format!("{missing}Authorization={value}")));
    };
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'. Only '{ALGORITHM}' is supported."
        )));
    }

    let (access_key_id, date, region, service) = parse_credential(credential, None)?;
    let signed_headers = parse_signed_headers(signed_headers, None)?;
    check_common(amz_date, signature)?;
    Ok(ParsedAuth {
        access_key_id,
        date,
        region,
        service,
        amz_date,
        signed_headers,
        signature,
        presigned: None,
    })
}

/// `X-Amz-Algorithm=…&X-Amz-Credential=…&X-Amz-Date=…&X-Amz-Expires=…&X-Amz-SignedHeaders=…&X-Amz-Signature=…`
fn parse_query(query: &str) -> Result<ParsedAuth<'_>, AuthError> {
    let (mut algorithm, mut credential, mut amz_date) = (None, None, None);
    let (mut expires, mut signed_headers, mut signature) = (None, None, None);
    for (name, value) in query_pairs(query) {
        let slot = match name {
            "X-Amz-Algorithm" => &mut algorithm,
            "X-Amz-Credential" => &mut credential,
            "X-Amz-Date" => &mut amz_date,
            "X-Amz-Expires" => &mut expires,
            "X-Amz-SignedHeaders" => &mut signed_headers,
            "X-Amz-Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(incomplete(format!(
                "AWS query-string parameters must not repeat '{name}'. Re-examine the query-string parameters."
            )));
        }
    }

    let mut missing = String::new();
    for (present, name) in [
        (algorithm.is_some(), "X-Amz-Algorithm"),
        (credential.is_some(), "X-Amz-Credential"),
        (signature.is_some(), "X-Amz-Signature"),
        (signed_headers.is_some(), "X-Amz-SignedHeaders"),
        (amz_date.is_some(), "X-Amz-Date"),
    ] {
        if !present {
            missing.push_str("AWS query-string parameters must include '");
            missing.push_str(name);
            missing.push_str("'. ");
        }
    }
    let (Some(algorithm), Some(credential), Some(signature), Some(signed_headers), Some(amz_date)) =
        (algorithm, credential, signature, signed_headers, amz_date)
    else {
        return Err(incomplete(format!(
            "{missing}Re-examine the query-string parameters."
        )));
    };
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "X-Amz-Algorithm only supports '{ALGORITHM}'."
        )));
    }
    let expires = match expires {
        None => DEFAULT_PRESIGNED_EXPIRES,
        Some(e) if !e.is_empty() && e.len() <= 19 && e.bytes().all(|b| b.is_ascii_digit()) => {
            e.parse().map_err(|_| expires_error(e))?
        }
        Some(e) => return Err(expires_error(e)),
    };

    // Values stay percent-encoded (ParsedAuth borrows from the request), so
    // the separators are accepted both literally and as %2F / %3B. The parts
    // themselves (key ids, regions, services, header names) never need escapes.
    let (access_key_id, date, region, service) = parse_credential(credential, Some("%2F"))?;
    let signed_headers = parse_signed_headers(signed_headers, Some("%3B"))?;
    check_common(amz_date, signature)?;
    Ok(ParsedAuth {
        access_key_id,
        date,
        region,
        service,
        amz_date,
        signed_headers,
        signature,
        presigned: Some(expires),
    })
}

fn expires_error(raw: &str) -> AuthError {
    incomplete(format!(
        "X-Amz-Expires should be a number of seconds, not '{raw}'."
    ))
}

/// Split on the ASCII byte `literal` and, when given, also on its
/// percent-encoded spelling `encoded` (matched in any hex case).
fn split_sep<'a>(
    s: &'a str,
    literal: u8,
    encoded: Option<&'static str>,
) -> impl Iterator<Item = &'a str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let cur = rest?;
        for (i, b) in cur.bytes().enumerate() {
            let width = if b == literal {
                1
            } else if b == b'%'
                && encoded.is_some_and(|enc| {
                    cur.get(i..i + enc.len())
                        .is_some_and(|e| e.eq_ignore_ascii_case(enc))
                })
            {
                encoded.map_or(1, str::len)
            } else {
                continue;
            };
            // Both spellings are ASCII, so `i` and `i + width` are char boundaries.
            rest = cur.get(i + width..);
            return cur.get(..i);
        }
        rest = None;
        Some(cur)
    })
}

/// Key ids, regions and services are plain printable ASCII; anything else
/// (escapes, spaces, control bytes) means the credential was mangled.
fn is_scope_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && b != b'%')
}

type CredentialParts<'a> = (&'a str, &'a str, &'a str, &'a str);

/// `AKID/yyyymmdd/region/service/aws4_request`.
fn parse_credential<'a>(
    credential: &'a str,
    encoded_sep: Option<&'static str>,
) -> Result<CredentialParts<'a>, AuthError> {
    let mut parts = split_sep(credential, b'/', encoded_sep);
    let (Some(akid), Some(date), Some(region), Some(service), Some(terminator), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(incomplete(format!(
            "Credential should be of the form 'access-key-id/yyyymmdd/region/service/aws4_request', not '{credential}'."
        )));
    };
    if !is_scope_token(akid) {
        return Err(incomplete("Credential should name a valid access key id."));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(incomplete(format!(
            "Invalid credential date \"{date}\". It must be in yyyyMMdd format."
        )));
    }
    if !is_scope_token(region) {
        return Err(incomplete("Credential should be scoped to a valid region."));
    }
    if !is_scope_token(service) {
        return Err(incomplete(
            "Credential should be scoped to a valid service.",
        ));
    }
    if terminator != "aws4_request" {
        return Err(incomplete(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
        )));
    }
    Ok((akid, date, region, service))
}

/// `host;x-amz-date;…`; `host` must be among them because it binds the
/// signature to the endpoint it was meant for.
fn parse_signed_headers<'a>(
    list: &'a str,
    encoded_sep: Option<&'static str>,
) -> Result<Vec<&'a str>, AuthError> {
    let names: Vec<&str> = split_sep(list, b';', encoded_sep).collect();
    if names
        .iter()
        .any(|n| n.is_empty() || n.bytes().any(|b| b <= b' ' || b == b'%' || b == b':'))
    {
        return Err(incomplete(format!(
            "SignedHeaders should be a ';'-separated list of header names, not '{list}'."
        )));
    }
    if !names.iter().any(|n| n.eq_ignore_ascii_case("host")) {
        return Err(incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    Ok(names)
}

fn check_common(amz_date: &str, signature: &str) -> Result<(), AuthError> {
    if parse_amz_date(amz_date).is_none() {
        return Err(incomplete(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
        ));
    }
    if signature.is_empty() {
        return Err(incomplete("Signature must not be empty."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn req<'a>(query: &'a str, headers: &'a [(&'a str, &'a str)]) -> RequestParts<'a> {
        RequestParts {
            method: "GET",
            path: "/",
            query,
            headers,
            payload_sha256_hex: HASH,
        }
    }

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    #[test]
    fn header_form() {
        let headers = [
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("authorization", GOOD),
        ];
        let auth = parse(&req("", &headers)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(auth.access_key_id, "AKIDEXAMPLE");
        assert_eq!(auth.date, "20150830");
        assert_eq!(auth.region, "us-east-1");
        assert_eq!(auth.service, "service");
        assert_eq!(auth.amz_date, "20150830T123600Z");
        assert_eq!(auth.signed_headers, ["host", "x-amz-date"]);
        assert_eq!(auth.presigned, None);
        assert!(auth.signature.starts_with("5fa00fa3"));
    }

    #[test]
    fn header_form_without_spaces_after_commas() {
        let value = GOOD.replace(", ", ",");
        let headers = [
            ("host", "h"),
            ("x-amz-date", "20150830T123600Z"),
            ("Authorization", value.as_str()),
        ];
        assert!(parse(&req("", &headers)).is_ok());
    }

    #[test]
    fn missing() {
        assert_eq!(
            parse(&req("a=b", &[("host", "h")])),
            Err(AuthError::Missing)
        );
        assert_eq!(parse(&req("", &[])), Err(AuthError::Missing));
    }

    fn incomplete_msg(query: &str, headers: &[(&str, &str)]) -> String {
        match parse(&req(query, headers)) {
            Err(AuthError::Incomplete(msg)) => msg,
            other => panic!("expected Incomplete, got {other:?}"),
        }
    }

    #[test]
    fn garbage_lists_every_missing_part() {
        let msg = incomplete_msg("", &[("Authorization", "garbage")]);
        assert!(msg.contains("requires 'Credential' parameter"), "{msg}");
        assert!(msg.contains("requires 'Signature' parameter"), "{msg}");
        assert!(msg.contains("requires 'SignedHeaders' parameter"), "{msg}");
        assert!(msg.contains("'X-Amz-Date'"), "{msg}");
        assert!(msg.ends_with("Authorization=garbage"), "{msg}");
    }

    #[test]
    fn malformed_header_variants() {
        let date = ("x-amz-date", "20150830T123600Z");
        for bad in [
            "",
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host",
            "AWS4-HMAC-SHA512 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request/x, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKID/2015083/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830//service/aws4_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1//aws4_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws5_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=x-amz-date, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;;x-amz-date, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=",
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKID/2015083ሴ/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00",
        ] {
            incomplete_msg("", &[date, ("Authorization", bad)]);
        }
        // No X-Amz-Date header.
        incomplete_msg("", &[("Authorization", GOOD)]);
        // Unparseable X-Amz-Date.
        incomplete_msg("", &[("x-amz-date", "2015-08-30"), ("Authorization", GOOD)]);
        // Repeated headers are ambiguous.
        incomplete_msg(
            "",
            &[date, ("Authorization", GOOD), ("authorization", GOOD)],
        );
        incomplete_msg("", &[date, date, ("Authorization", GOOD)]);
    }

    const PRESIGNED: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host%3Bx-amz-date&X-Amz-Signature=abcd";

    #[test]
    fn query_form() {
        let auth = parse(&req(PRESIGNED, &[("host", "h")])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(auth.access_key_id, "AKIDEXAMPLE");
        assert_eq!(auth.date, "20150830");
        assert_eq!(auth.region, "us-east-1");
        assert_eq!(auth.service, "service");
        assert_eq!(auth.amz_date, "20150830T123600Z");
        assert_eq!(auth.signed_headers, ["host", "x-amz-date"]);
        assert_eq!(auth.signature, "abcd");
        assert_eq!(auth.presigned, Some(3600));
    }

    #[test]
    fn query_form_separators_in_any_spelling() {
        let q = PRESIGNED
            .replacen("%2F", "/", 1)
            .replacen("%2F", "%2f", 1)
            .replace("%3B", "%3b");
        let auth = parse(&req(&q, &[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (auth.access_key_id, auth.date, auth.region, auth.service),
            ("AKIDEXAMPLE", "20150830", "us-east-1", "service")
        );
        assert_eq!(auth.signed_headers, ["host", "x-amz-date"]);
        let q = PRESIGNED.replace("%3B", ";");
        let auth = parse(&req(&q, &[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(auth.signed_headers, ["host", "x-amz-date"]);
    }

    #[test]
    fn query_form_without_expires_gets_default() {
        let q = PRESIGNED.replace("&X-Amz-Expires=3600", "");
        let auth = parse(&req(&q, &[])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(auth.presigned, Some(DEFAULT_PRESIGNED_EXPIRES));
    }

    #[test]
    fn malformed_query_variants() {
        for (from, to) in [
            (
                "X-Amz-Algorithm=AWS4-HMAC-SHA256",
                "X-Amz-Algorithm=AWS4-HMAC-SHA1",
            ),
            ("&X-Amz-Signature=abcd", ""),
            ("&X-Amz-Date=20150830T123600Z", ""),
            ("X-Amz-Date=20150830T123600Z", "X-Amz-Date=20150830"),
            ("&X-Amz-SignedHeaders=host%3Bx-amz-date", ""),
            (
                "X-Amz-SignedHeaders=host%3Bx-amz-date",
                "X-Amz-SignedHeaders=x-amz-date",
            ),
            ("%2Faws4_request", "%2Faws4_request%2Fextra"),
            ("%2Fservice", ""),
            ("X-Amz-Expires=3600", "X-Amz-Expires=-1"),
            ("X-Amz-Expires=3600", "X-Amz-Expires=1h"),
            ("X-Amz-Expires=3600", "X-Amz-Expires="),
            (
                "X-Amz-Expires=3600",
                "X-Amz-Expires=99999999999999999999999",
            ),
            ("X-Amz-Expires=3600", "X-Amz-Expires=3600&X-Amz-Expires=60"),
            ("us-east-1", "us%2Deast-1"),
            (
                "AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request",
                "",
            ),
            ("AKIDEXAMPLE", "AKID%20EXAMPLE"),
        ] {
            let q = PRESIGNED.replace(from, to);
            let got = parse(&req(&q, &[]));
            assert!(matches!(got, Err(AuthError::Incomplete(_))), "{q}: {got:?}");
        }
    }

    #[test]
    fn header_form_wins_over_query() {
        let headers = [("x-amz-date", "20150830T123600Z"), ("Authorization", GOOD)];
        let auth = parse(&req(PRESIGNED, &headers)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(auth.presigned, None);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let nasty = [
            "%",
            "%2",
            "%2F",
            "%%%",
            "/",
            ";",
            "=",
            "&",
            "ሴ",
            "\u{0}",
            "%E1%88",
            "Credential=",
            "Credential=%2F%2F%2F%2F",
            "AWS4-HMAC-SHA256 ,,,,",
            "AWS4-HMAC-SHA256 =,=,=",
            "AWS4-HMAC-SHA256\tCredential=a/b/c/d/e",
        ];
        for a in nasty {
            for b in nasty {
                let value = format!("{a}{b}");
                let headers = [("authorization", value.as_str()), ("x-amz-date", a)];
                let _ = parse(&req("", &headers));
                let q = format!("X-Amz-Algorithm={a}&X-Amz-Credential={b}&X-Amz-SignedHeaders={a}{b}&X-Amz-Date={b}&X-Amz-Signature={a}&X-Amz-Expires={b}");
                let _ = parse(&req(&q, &[]));
            }
        }
    }
}
