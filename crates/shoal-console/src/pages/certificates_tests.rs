//! The certificates pages over the real identity service: the list sorted by expiry, the
//! expiring section as the clock moves, the CAs, one certificate's page, status changes read
//! back from the service, paging, and a read-only session refused.

use crate::testkit::Kit;
use shoal_domain::identity::{Certificate, CertificateStatus};
use shoal_domain::{ThingName, Timestamp};
use shoal_services::identity::{RegisterCa, ThingPrincipalType};
use shoal_services::registry::CreateThing;

const DAY: i64 = 86_400;

/// A device certificate signed by Shoal's root (valid until the end of 2049).
async fn issued(k: &Kit) -> Certificate {
    k.identity
        .create_keys_and_certificate(&k.part, true)
        .await
        .unwrap()
        .certificate
}

/// A certificate with another expiry: a new self-signed one, registered without a CA
/// (valid 25 years from the real clock, so past 2049).
async fn registered(k: &Kit) -> Certificate {
    let other = shoal_pki::Authority::generate("Elsewhere").unwrap();
    k.identity
        .register_certificate_without_ca(&k.part, &other.cert_pem, CertificateStatus::Active)
        .await
        .unwrap()
}

/// The HTML from `id="ID"` to the end of that table.
fn table<'a>(body: &'a str, id: &str) -> &'a str {
    let from = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {body}"));
    let rest = &body[from..];
    &rest[..rest.find("</table>").unwrap_or(rest.len())]
}

fn short(c: &Certificate) -> &str {
    &c.id[..12]
}

#[tokio::test]
async fn the_list_is_sorted_by_expiry_with_the_expiring_ones_and_the_cas() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    let near = issued(&k).await;
    let far = registered(&k).await;
    let ca = shoal_pki::Authority::generate("Fleet CA").unwrap();
    let ca = k
        .identity
        .register_ca_certificate(
            &k.part,
            RegisterCa {
                ca_pem: &ca.cert_pem,
                verification_pem: None,
                set_as_active: true,
                allow_auto_registration: false,
                registration_config: None,
                sni_only: true,
            },
        )
        .await
        .unwrap();
    let a = k.get("/console/certificates").await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Newest first from the service, then sorted by expiry on the page: 2049 before 2051.
    let list = table(&a.body, "certificates");
    let (n, f) = (
        list.find(short(&near)).unwrap(),
        list.find(short(&far)).unwrap(),
    );
    assert!(n < f, "{list}");
    assert!(list.contains("2049-12-31"), "{list}");
    assert!(table(&a.body, "expiring").contains("Nothing here."));
    let cas = table(&a.body, "cas");
    assert!(
        cas.contains(&ca.id[..12]) && cas.contains("SNI_ONLY"),
        "{cas}"
    );
    assert!(!a.body.contains("id=\"next-page\""));

    // Ten days before the end of 2049 the root's certificate is expiring, the other is not.
    k.clock.set(Timestamp::from_secs(near.not_after - 10 * DAY));
    k.sign_in(false).await;
    let a = k.get("/console/certificates").await;
    let soon = table(&a.body, "expiring");
    assert!(soon.contains(short(&near)), "{soon}");
    assert!(soon.contains("in 10 days"), "{soon}");
    assert!(!soon.contains(short(&far)), "{soon}");
    // A revoked certificate is no longer a concern; an expired one still is.
    k.identity
        .update_certificate(&k.part, &near.id, CertificateStatus::Revoked)
        .await
        .unwrap();
    let a = k.get("/console/certificates").await;
    assert!(table(&a.body, "expiring").contains("Nothing here."));
    k.clock.set(Timestamp::from_secs(far.not_after + 2 * DAY));
    k.sign_in(false).await;
    let a = k.get("/console/certificates").await;
    let soon = table(&a.body, "expiring");
    assert!(
        soon.contains(short(&far)) && soon.contains("expired 2 days ago"),
        "{soon}"
    );
}

#[tokio::test]
async fn a_certificate_page_shows_its_things_policies_and_sets_its_status() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    let cert = issued(&k).await;
    let arn = k.part.arn("cert", &cert.id);
    let thing = ThingName::parse("dev-1").unwrap();
    k.registry
        .create_thing(
            &k.part,
            CreateThing {
                name: thing.clone(),
                type_name: None,
                attributes: Default::default(),
                billing_group: None,
            },
        )
        .await
        .unwrap();
    k.identity
        .attach_thing_principal(&k.part, &thing, &arn, ThingPrincipalType::NonExclusive)
        .await
        .unwrap();
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#;
    k.identity
        .create_policy(&k.part, "connect-any", doc)
        .await
        .unwrap();
    k.identity
        .attach_policy(&k.part, "connect-any", &arn)
        .await
        .unwrap();
    let path = format!("/console/certificates/{}", cert.id);
    let a = k.get(&path).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("<span id=\"status\">ACTIVE</span>"));
    assert!(
        a.body.contains("<span id=\"not-after\">2049-12-31"),
        "{}",
        a.body
    );
    assert!(a.body.contains("BEGIN CERTIFICATE"));
    assert!(table(&a.body, "things").contains(">dev-1</a>"));
    assert!(table(&a.body, "policies").contains("connect-any"));

    let a = k.post(&format!("{path}/status"), "status=INACTIVE").await;
    assert_eq!(a.status, 303);
    assert!(
        a.location().starts_with(&format!("{path}?ok=")),
        "{}",
        a.location()
    );
    let read = k.identity.describe_certificate(&k.part, &cert.id).unwrap();
    assert_eq!(read.status, CertificateStatus::Inactive);
    let a = k.get(a.location()).await;
    assert!(a.body.contains("<span id=\"status\">INACTIVE</span>"));
    assert!(a.body.contains("notice ok"));

    k.post(&format!("{path}/status"), "status=REVOKED").await;
    // A revoked certificate stays revoked: the service's refusal is the notice.
    let a = k.post(&format!("{path}/status"), "status=ACTIVE").await;
    assert!(a.location().contains("error="), "{}", a.location());
    let a = k.get(a.location()).await;
    assert!(a.body.contains("revoked"), "{}", a.body);
    let read = k.identity.describe_certificate(&k.part, &cert.id).unwrap();
    assert_eq!(read.status, CertificateStatus::Revoked);
    // What a user typed comes back escaped.
    let a = k
        .post(&format!("{path}/status"), "status=%3Cb%3Ebold%3C%2Fb%3E")
        .await;
    let a = k.get(a.location()).await;
    assert!(a.body.contains("&lt;b&gt;bold&lt;/b&gt;"), "{}", a.body);
    assert!(!a.body.contains("<b>bold</b>"));
    // An unknown certificate is not found, its id not echoed.
    let a = k.get("/console/certificates/%3Cscript%3E").await;
    assert_eq!(a.status, 404);
    assert!(!a.body.contains("<script>"));
}

#[tokio::test]
async fn certificates_are_paged_by_fifty() {
    let mut k = Kit::new().await;
    k.sign_in(false).await;
    for _ in 0..51 {
        registered(&k).await;
    }
    let a = k.get("/console/certificates").await;
    let rows = |body: &str| table(body, "certificates").matches("<tr><td>").count();
    assert_eq!(rows(&a.body), 50);
    let marker = "id=\"next-page\" href=\"";
    let at = a.body.find(marker).expect("a next page") + marker.len();
    let href = &a.body[at..];
    let href = href[..href.find('"').unwrap()].replace("&amp;", "&");
    let a = k.get(&href).await;
    assert_eq!(rows(&a.body), 1, "{}", a.body);
}

#[tokio::test]
async fn a_read_only_session_cannot_change_a_status() {
    let mut k = Kit::new().await;
    k.sign_in(true).await;
    let cert = issued(&k).await;
    let path = format!("/console/certificates/{}", cert.id);
    let a = k.get(&path).await;
    assert_eq!(a.status, 200);
    assert!(!a.body.contains("id=\"set-status\""));
    let a = k.post(&format!("{path}/status"), "status=REVOKED").await;
    assert_eq!(a.status, 403);
    let read = k.identity.describe_certificate(&k.part, &cert.id).unwrap();
    assert_eq!(read.status, CertificateStatus::Active);
}
