//! The request context: where policy variables and condition keys get their
//! values, and the canonical spelling of the keys AWS IoT defines.

use std::collections::HashMap;

/// Values of policy variables and condition keys for one request, such as
/// `iot:ClientId`, `iot:Connection.Thing.ThingName`,
/// `iot:Connection.Thing.Attributes[color]`, `iot:Connection.Thing.IsAttached`,
/// `iot:Certificate.Subject.CommonName` or `aws:SourceIp`.
///
/// Keys are asked for in the spelling AWS documents (the parser rewrites the
/// known keys to it, since IAM treats key names as case-insensitive), so an
/// implementation can match them exactly. `None` means the value is not
/// available, e.g. no thing is attached to the principal; a variable without a
/// value makes the pattern using it fail to match, as on AWS.
///
/// Evaluation calls this for every packet, so implementations should answer
/// without allocating.
pub trait Context {
    /// The value of `key`, or `None` when the request has none.
    fn get(&self, key: &str) -> Option<&str>;

    /// Visits every value of a multi-valued key (e.g. `iot:ConnectAttributes`
    /// or `iot:Certificate.Subject.Organization.List`) for the `ForAnyValue:` and
    /// `ForAllValues:` condition qualifiers, stopping when `visit` returns
    /// `false`. Returns whether the key is present at all.
    ///
    /// The default treats every key as single-valued and visits `get(key)`.
    /// For a multi-valued key, `get` should return the first value, which is
    /// what AWS substitutes for a certificate attribute with several values
    /// (<https://docs.aws.amazon.com/iot/latest/developerguide/cert-policy-variables.html>).
    fn for_each_value(&self, key: &str, visit: &mut dyn FnMut(&str) -> bool) -> bool {
        match self.get(key) {
            Some(value) => {
                visit(value);
                true
            }
            None => false,
        }
    }
}

/// A map-backed [`Context`] for tests and for `TestAuthorization`, where the
/// caller states the context explicitly. Every key is single-valued.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapContext(pub HashMap<String, String>);

impl MapContext {
    /// An empty context: every variable and condition key is unavailable.
    pub fn new() -> Self {
        MapContext(HashMap::new())
    }

    /// Adds or replaces one key, for building contexts fluently.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(key.into(), value.into());
        self
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for MapContext {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        MapContext(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl Context for MapContext {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

impl Context for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<&str> {
        HashMap::get(self, key).map(String::as_str)
    }
}

/// Keys whose whole name AWS IoT defines, in the documented spelling.
/// Basic: <https://docs.aws.amazon.com/iot/latest/developerguide/basic-policy-variables.html>;
/// thing: <https://docs.aws.amazon.com/iot/latest/developerguide/thing-policy-variables.html>;
/// connect attributes and last will:
/// <https://docs.aws.amazon.com/iot/latest/developerguide/connect-policy.html>.
const FIXED_KEYS: &[&str] = &[
    "aws:SourceIp",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:SecureTransport",
    "iot:ClientId",
    "iot:DomainName",
    "iot:CertificateId",
    "iot:ConnectAttributes",
    "iot:LastWillTopic",
    "iot:Connection.Thing.ThingName",
    "iot:Connection.Thing.ThingTypeName",
    "iot:Connection.Thing.IsAttached",
    "iot:Certificate.SerialNumber",
    "iot:Certificate.AvailableKeys",
];

/// The thing-attribute variable is this prefix, the attribute name (kept as
/// written: attribute names are case-sensitive) and `]`.
const THING_ATTRIBUTES: &str = "iot:Connection.Thing.Attributes[";

/// Certificate fields, after `iot:Certificate.Subject.` or
/// `iot:Certificate.Issuer.`; each may be followed by `.N` (zero-based index)
/// or `.List` (all values), which are kept as written.
/// <https://docs.aws.amazon.com/iot/latest/developerguide/cert-policy-variables.html>
const CERTIFICATE_FIELDS: &[&str] = &[
    "AlternativeName.RFC822Name",
    "AlternativeName.DNSName",
    "AlternativeName.DirectoryName",
    "AlternativeName.UniformResourceIdentifier",
    "AlternativeName.IPAddress",
    "DistinguishedNameQualifier",
    "Country",
    "Organization",
    "OrganizationalUnit",
    "State",
    "CommonName",
    "SerialNumber",
    "Title",
    "Surname",
    "GivenName",
    "Initials",
    "Pseudonym",
    "GenerationQualifier",
];

const CERTIFICATE_PARTS: &[&str] = &["iot:Certificate.Subject.", "iot:Certificate.Issuer."];

/// Rewrites a key to the documented spelling when it is one AWS IoT defines;
/// other keys are kept as written. Done once at parse time so that contexts
/// can compare keys exactly on the hot path.
pub(crate) fn canonical_key(key: &str) -> String {
    if let Some(known) = FIXED_KEYS.iter().find(|k| k.eq_ignore_ascii_case(key)) {
        return (*known).to_string();
    }
    if let Some(rest) = strip_prefix_ignore_case(key, THING_ATTRIBUTES) {
        return format!("{THING_ATTRIBUTES}{rest}");
    }
    for part in CERTIFICATE_PARTS {
        if let Some(rest) = strip_prefix_ignore_case(key, part) {
            // Longest field first, so "SerialNumber" is not taken for a
            // prefix of something longer and "AlternativeName.*" wins.
            let field = CERTIFICATE_FIELDS
                .iter()
                .filter(|f| {
                    strip_prefix_ignore_case(rest, f)
                        .is_some_and(|tail| tail.is_empty() || tail.starts_with('.'))
                })
                .max_by_key(|f| f.len());
            if let Some(field) = field {
                let tail = rest.get(field.len()..).unwrap_or("");
                return format!("{part}{field}{tail}");
            }
        }
    }
    key.to_string()
}

/// Whether AWS IoT defines `key` (as the parser spells it): one of the fixed keys, a thing
/// attribute, or a certificate field (with `.N` or `.List`). A request context that supplies
/// them all leaves no condition of an IoT policy without a value.
pub fn is_iot_key(key: &str) -> bool {
    if FIXED_KEYS.contains(&key) {
        return true;
    }
    if key.starts_with(THING_ATTRIBUTES) && key.ends_with(']') {
        return true;
    }
    CERTIFICATE_PARTS.iter().any(|part| {
        key.strip_prefix(part).is_some_and(|field| {
            let field = match field.rsplit_once('.') {
                Some((f, last)) if last == "List" || last.parse::<u32>().is_ok() => f,
                _ => field,
            };
            CERTIFICATE_FIELDS.contains(&field)
        })
    })
}

/// `s` without `prefix`, compared ignoring ASCII case.
pub(crate) fn strip_prefix_ignore_case<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_take_the_documented_spelling() {
        assert_eq!(canonical_key("IOT:clientid"), "iot:ClientId");
        assert_eq!(
            canonical_key("iot:connection.thing.thingname"),
            "iot:Connection.Thing.ThingName"
        );
        assert_eq!(
            canonical_key("iot:Connection.Thing.attributes[Color]"),
            "iot:Connection.Thing.Attributes[Color]"
        );
        assert_eq!(
            canonical_key("iot:certificate.subject.organization.List"),
            "iot:Certificate.Subject.Organization.List"
        );
        assert_eq!(
            canonical_key("iot:Certificate.Issuer.alternativename.dnsname"),
            "iot:Certificate.Issuer.AlternativeName.DNSName"
        );
        assert_eq!(canonical_key("custom:Key"), "custom:Key");
        assert_eq!(
            canonical_key("iot:Certificate.Subject.CommonNameX"),
            "iot:Certificate.Subject.CommonNameX"
        );
    }

    #[test]
    fn the_keys_aws_iot_defines() {
        for k in [
            "aws:SourceIp",
            "aws:CurrentTime",
            "iot:ConnectAttributes",
            "iot:Connection.Thing.Attributes[color]",
            "iot:Certificate.Subject.CommonName",
            "iot:Certificate.Issuer.Organization.List",
            "iot:Certificate.Subject.Country.0",
            "iot:Certificate.Subject.AlternativeName.DNSName.List",
        ] {
            assert!(is_iot_key(k), "{k}");
        }
        for k in [
            "aws:UserAgent",
            "aws:PrincipalTag/team",
            "iot:Certificate.Subject.Colour",
            "iot:Certificate.Subject.AlternativeName.Phone",
            "custom:Key",
        ] {
            assert!(!is_iot_key(k), "{k}");
        }
    }

    #[test]
    fn map_context_answers_exact_keys() {
        let ctx = MapContext::new().with("iot:ClientId", "c1");
        assert_eq!(ctx.get("iot:ClientId"), Some("c1"));
        assert_eq!(ctx.get("iot:clientid"), None);
        let mut seen = Vec::new();
        assert!(ctx.for_each_value("iot:ClientId", &mut |v| {
            seen.push(v.to_string());
            true
        }));
        assert_eq!(seen, ["c1"]);
        assert!(!ctx.for_each_value("missing", &mut |_| true));
    }
}
