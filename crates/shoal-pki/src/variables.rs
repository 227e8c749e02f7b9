//! The values of a device certificate that AWS IoT policies can name: `iot:Certificate.*`
//! (https://docs.aws.amazon.com/iot/latest/developerguide/cert-policy-variables.html). Each
//! subject and issuer attribute, each alternative name: the plain key has the first value,
//! `.N` the value at index N, and `.List` every value (for `ForAnyValue`/`ForAllValues`);
//! `iot:Certificate.SerialNumber` is the serial number in decimal, and
//! `iot:Certificate.AvailableKeys` lists every key the certificate gives a value to.

use crate::{PkiError, Result};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// Distinguished-name attributes by OID, with the names AWS gives them.
const ATTRIBUTES: &[(&str, &str)] = &[
    ("2.5.4.3", "CommonName"),
    ("2.5.4.4", "Surname"),
    ("2.5.4.5", "SerialNumber"),
    ("2.5.4.6", "Country"),
    ("2.5.4.8", "State"),
    ("2.5.4.10", "Organization"),
    ("2.5.4.11", "OrganizationalUnit"),
    ("2.5.4.12", "Title"),
    ("2.5.4.42", "GivenName"),
    ("2.5.4.43", "Initials"),
    ("2.5.4.44", "GenerationQualifier"),
    ("2.5.4.46", "DistinguishedNameQualifier"),
    ("2.5.4.65", "Pseudonym"),
];

/// (key, values) pairs; keys appear once, in a stable order.
pub type Variables = Vec<(String, Vec<String>)>;

/// The certificate's policy variables from its DER encoding.
pub fn policy_variables(der: &[u8]) -> Result<Variables> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| {
        PkiError::Invalid("The certificate is not a valid X.509 certificate".into())
    })?;
    let mut out: Variables = Vec::new();
    let mut add = |key: String, value: String| match out.iter_mut().find(|(k, _)| *k == key) {
        Some((_, values)) => values.push(value),
        None => out.push((key, vec![value])),
    };
    add(
        "iot:Certificate.SerialNumber".into(),
        cert.tbs_certificate.serial.to_string(),
    );
    for (part, name) in [("Subject", cert.subject()), ("Issuer", cert.issuer())] {
        name_values(part, name, &mut add);
    }
    for ext in cert.extensions() {
        let (part, names) = match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => ("Subject", &san.general_names),
            ParsedExtension::IssuerAlternativeName(ian) => ("Issuer", &ian.general_names),
            _ => continue,
        };
        for n in names {
            let (kind, value) = match n {
                GeneralName::RFC822Name(v) => ("RFC822Name", v.to_string()),
                GeneralName::DNSName(v) => ("DNSName", v.to_string()),
                GeneralName::URI(v) => ("UniformResourceIdentifier", v.to_string()),
                GeneralName::DirectoryName(v) => ("DirectoryName", v.to_string()),
                GeneralName::IPAddress(b) => match ip(b) {
                    Some(v) => ("IPAddress", v),
                    None => continue,
                },
                _ => continue,
            };
            add(
                format!("iot:Certificate.{part}.AlternativeName.{kind}"),
                value,
            );
        }
    }
    // Indexed and `.List` forms of every multi-valued key, then the list of keys itself.
    let mut expanded: Variables = Vec::new();
    for (key, values) in &out {
        expanded.push((key.clone(), vec![values[0].clone()]));
        if key != "iot:Certificate.SerialNumber" {
            for (i, v) in values.iter().enumerate() {
                expanded.push((format!("{key}.{i}"), vec![v.clone()]));
            }
            expanded.push((format!("{key}.List"), values.clone()));
        }
    }
    let available: Vec<String> = out.iter().map(|(k, _)| k.clone()).collect();
    expanded.push(("iot:Certificate.AvailableKeys".into(), available));
    Ok(expanded)
}

fn name_values(part: &str, name: &X509Name<'_>, add: &mut impl FnMut(String, String)) {
    for attr in name.iter_attributes() {
        let oid = attr.attr_type().to_id_string();
        let Some((_, field)) = ATTRIBUTES.iter().find(|(o, _)| *o == oid) else {
            continue;
        };
        if let Ok(v) = attr.as_str() {
            add(format!("iot:Certificate.{part}.{field}"), v.to_string());
        }
    }
}

fn ip(b: &[u8]) -> Option<String> {
    match b.len() {
        4 => Some(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()),
        16 => {
            let a: [u8; 16] = b.try_into().ok()?;
            Some(std::net::Ipv6Addr::from(a).to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_issuer_and_alternative_names() {
        let mut params = rcgen::CertificateParams::new(vec![
            "device.example.com".to_string(),
            "second.example.com".to_string(),
        ])
        .unwrap();
        let dn = &mut params.distinguished_name;
        dn.push(rcgen::DnType::CommonName, "LightBulb Device Cert");
        dn.push(rcgen::DnType::OrganizationName, "IoT Devices");
        dn.push(rcgen::DnType::CountryName, "US");
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress("1.2.3.4".parse().unwrap()));
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let vars = policy_variables(cert.der()).unwrap();
        let get = |k: &str| {
            vars.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(
            get("iot:Certificate.Subject.CommonName"),
            ["LightBulb Device Cert"]
        );
        assert_eq!(
            get("iot:Certificate.Issuer.Organization"),
            ["IoT Devices"],
            "self-signed: the issuer is the subject"
        );
        assert_eq!(
            get("iot:Certificate.Subject.AlternativeName.DNSName"),
            ["device.example.com"]
        );
        assert_eq!(
            get("iot:Certificate.Subject.AlternativeName.DNSName.1"),
            ["second.example.com"]
        );
        assert_eq!(
            get("iot:Certificate.Subject.AlternativeName.DNSName.List"),
            ["device.example.com", "second.example.com"]
        );
        assert_eq!(
            get("iot:Certificate.Subject.AlternativeName.IPAddress"),
            ["1.2.3.4"]
        );
        assert_eq!(get("iot:Certificate.SerialNumber").len(), 1);
        let keys = get("iot:Certificate.AvailableKeys");
        assert!(keys.contains(&"iot:Certificate.Subject.Country".to_string()));
        assert!(!keys.iter().any(|k| k.ends_with(".List")));
    }
}
