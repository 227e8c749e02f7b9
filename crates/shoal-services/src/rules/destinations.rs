//! Topic rule destinations (HTTP): Create/Get/List/Update/DeleteTopicRuleDestination,
//! ConfirmTopicRuleDestination, and the confirmation AWS sends: a POST to the confirmation URL
//! with the token and the `enableUrl` (https://docs.aws.amazon.com/iot/latest/developerguide/http-action-destination.html).
//! A rule whose HTTP action names a confirmation URL no destination has makes one, as AWS does.

use super::actions::HttpRequest;
use super::{Rules, KIND_DESTINATION};
use crate::records::{contention, decode, encode, load, store_error, try_commit, SCHEMA};
use bytes::Bytes;
use shoal_domain::error::Result;
use shoal_domain::page::{decode_token, encode_token};
use shoal_domain::rules::{Action, Destination, DestinationStatus, TopicRule, MAX_DESTINATIONS};
use shoal_domain::{AccountId, ErrorKind, Partition, Region, ServiceError};
use shoal_store::{Batch, Expect};

/// AWS answers a destination that does not exist (or is another account's) as one the
/// caller may not see.
fn no_destination(arn: &str) -> ServiceError {
    ServiceError::new(
        ErrorKind::Unauthorized,
        format!("Access to TopicRuleDestination '{arn}' was denied"),
    )
}

/// The record key of a destination ARN of this partition:
/// `arn:aws:iot:REGION:ACCOUNT:ruledestination/http/ID`.
fn key_of(part: &Partition, arn: &str) -> Result<String> {
    let prefix = part.arn("ruledestination", "http/");
    arn.strip_prefix(&prefix)
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        .map(str::to_string)
        .ok_or_else(|| no_destination(arn))
}

/// A destination's id: a UUID-shaped digest of its confirmation URL.
fn destination_id(url: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(url.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid().to_string()
}

/// A confirmation token: the destination's partition and id (so the unsigned `enableUrl`
/// finds it) and a secret.
fn new_token(part: &Partition, id: &str) -> String {
    let secret: [u8; 24] = rand::random();
    format!(
        "{}.{}",
        hex::encode(format!("{}/{}/{id}", part.account, part.region)),
        hex::encode(secret)
    )
}

/// The partition and destination id a token names.
fn parse_token(token: &str) -> Option<(Partition, String)> {
    let (named, _) = token.split_once('.')?;
    let named = String::from_utf8(hex::decode(named).ok()?).ok()?;
    let mut it = named.splitn(3, '/');
    let account = AccountId::parse(it.next()?).ok()?;
    let region = Region::parse(it.next()?).ok()?;
    let id = it.next()?.to_string();
    Some((Partition::new(account, region), id))
}

impl Rules {
    /// CreateTopicRuleDestination (an HTTP URL): IN_PROGRESS, and the confirmation is sent.
    pub async fn create_destination(
        &self,
        part: &Partition,
        confirmation_url: &str,
    ) -> Result<Destination> {
        shoal_domain::rules::check_url(confirmation_url, "confirmationUrl")?;
        let existing = self.destinations(part)?;
        if let Some(d) = existing
            .iter()
            .find(|d| d.confirmation_url == confirmation_url)
        {
            return Err(ServiceError::new(
                ErrorKind::AlreadyExists {
                    resource_id: d.arn.clone(),
                    resource_arn: d.arn.clone(),
                },
                format!("A topic rule destination for {confirmation_url} already exists"),
            ));
        }
        if existing.len() >= MAX_DESTINATIONS {
            return Err(ServiceError::new(
                ErrorKind::LimitExceeded,
                format!("An account can have at most {MAX_DESTINATIONS} topic rule destinations"),
            ));
        }
        // The id comes from the URL, so two creations of one URL at once (two rules naming
        // it) make one record: the second is refused by the store, not stored twice.
        let id = destination_id(confirmation_url);
        let arn = part.arn("ruledestination", &format!("http/{id}"));
        let d = Destination::new(
            arn,
            confirmation_url.to_string(),
            new_token(part, &id),
            self.clock.now().millis(),
        );
        let batch = Batch::new(part.key()).put(
            KIND_DESTINATION,
            &id,
            SCHEMA,
            encode(&d)?,
            vec![],
            Expect::Absent,
        );
        if !try_commit(self.store.as_ref(), batch).await? {
            return Err(ServiceError::new(
                ErrorKind::AlreadyExists {
                    resource_id: d.arn.clone(),
                    resource_arn: d.arn.clone(),
                },
                format!("A topic rule destination for {confirmation_url} already exists"),
            ));
        }
        self.reload(part);
        self.send_confirmation(part, &id, &d);
        Ok(d)
    }

    /// Every destination of the partition, in key order.
    pub fn destinations(&self, part: &Partition) -> Result<Vec<Destination>> {
        self.store
            .list(
                &part.key(),
                KIND_DESTINATION,
                "",
                None,
                MAX_DESTINATIONS + 10,
            )
            .map_err(store_error)?
            .iter()
            .map(decode)
            .collect()
    }

    /// GetTopicRuleDestination.
    pub fn get_destination(&self, part: &Partition, arn: &str) -> Result<Destination> {
        let key = key_of(part, arn)?;
        load::<Destination>(self.store.as_ref(), &part.key(), KIND_DESTINATION, &key)?
            .map(|l| l.value)
            .ok_or_else(|| no_destination(arn))
    }

    /// ListTopicRuleDestinations.
    pub fn list_destinations(
        &self,
        part: &Partition,
        max: usize,
        token: Option<&str>,
    ) -> Result<(Vec<Destination>, Option<String>)> {
        let after = token.map(decode_token).transpose()?;
        let recs = self
            .store
            .list(&part.key(), KIND_DESTINATION, "", after.as_deref(), max + 1)
            .map_err(store_error)?;
        let more = recs.len() > max;
        let page: Vec<_> = recs.iter().take(max).collect();
        let next = more.then(|| encode_token(&page[page.len() - 1].key));
        Ok((page.into_iter().map(decode).collect::<Result<_>>()?, next))
    }

    /// UpdateTopicRuleDestination.
    pub async fn update_destination(
        &self,
        part: &Partition,
        arn: &str,
        status: DestinationStatus,
    ) -> Result<()> {
        let key = key_of(part, arn)?;
        let now = self.clock.now().millis();
        let (d, resend) = self
            .modify_destination(
                part,
                &key,
                || no_destination(arn),
                |d| d.update(status, new_token(part, &key), now),
            )
            .await?;
        if resend {
            self.send_confirmation(part, &key, &d);
        }
        Ok(())
    }

    /// One destination's read-modify-write; the partition's compiled rules follow it at once.
    async fn modify_destination<O>(
        &self,
        part: &Partition,
        key: &str,
        missing: impl Fn() -> ServiceError,
        change: impl FnMut(&mut Destination) -> Result<O>,
    ) -> Result<(Destination, O)> {
        let out = crate::records::modify(
            self.store.as_ref(),
            &part.key(),
            KIND_DESTINATION,
            key,
            missing,
            |_| vec![],
            change,
        )
        .await?;
        self.reload(part);
        Ok(out)
    }

    /// DeleteTopicRuleDestination.
    pub async fn delete_destination(&self, part: &Partition, arn: &str) -> Result<()> {
        let key = key_of(part, arn)?;
        let l = load::<Destination>(self.store.as_ref(), &part.key(), KIND_DESTINATION, &key)?
            .ok_or_else(|| no_destination(arn))?;
        let batch = Batch::new(part.key()).delete(KIND_DESTINATION, &key, Expect::Rev(l.rev));
        if !try_commit(self.store.as_ref(), batch).await? {
            return Err(contention());
        }
        self.reload(part);
        Ok(())
    }

    /// ConfirmTopicRuleDestination, signed (`caller` is the signer's partition) or through the
    /// unsigned `enableUrl` (`caller` None: the token is the credential).
    pub async fn confirm_destination(&self, caller: Option<&Partition>, token: &str) -> Result<()> {
        let invalid = || ServiceError::invalid("The confirmation token is not valid");
        let (part, key) = parse_token(token).ok_or_else(invalid)?;
        if caller.is_some_and(|c| *c != part) {
            return Err(invalid());
        }
        let now = self.clock.now().millis();
        self.modify_destination(&part, &key, invalid, |d| d.confirm(token, now))
            .await
            .map(|_| ())
    }

    /// Makes a destination for each HTTP action's confirmation URL that has none (AWS creates
    /// them with the rule), and sends their confirmations.
    pub(super) async fn ensure_destinations(
        &self,
        part: &Partition,
        rule: &TopicRule,
    ) -> Result<()> {
        let mut actions = rule.typed_actions()?;
        actions.extend(rule.typed_error_action()?);
        for a in actions {
            let Action::Http(h) = a else { continue };
            if h.confirmation_url.contains("${") {
                continue;
            }
            let known = self
                .destinations(part)?
                .iter()
                .any(|d| d.confirmation_url == h.confirmation_url);
            if !known {
                match self.create_destination(part, &h.confirmation_url).await {
                    Ok(_) => {}
                    Err(e) if matches!(e.kind, ErrorKind::AlreadyExists { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Posts the confirmation in the background; a destination that cannot be reached goes to
    /// ERROR with the reason.
    fn send_confirmation(&self, part: &Partition, key: &str, d: &Destination) {
        let Some(ports) = self.ports().cloned() else {
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let enable_url = format!("{}/confirmdestination/{}", ports.api_base, d.token);
        let body = serde_json::json!({
            "arn": d.arn,
            "confirmationToken": d.token,
            "enableUrl": enable_url,
            "messageType": "DestinationConfirmation",
        });
        let sep = if d.confirmation_url.contains('?') {
            '&'
        } else {
            '?'
        };
        let req = HttpRequest {
            url: format!("{}{sep}confirmationToken={}", d.confirmation_url, d.token),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                (
                    "x-amz-rules-engine-message-type".into(),
                    "DestinationConfirmation".into(),
                ),
                ("x-amz-rules-engine-destination-arn".into(), d.arn.clone()),
            ],
            body: Bytes::from(body.to_string()),
        };
        let (store, clock) = (self.store.clone(), self.clock.clone());
        let http = self.budget(part).http.clone();
        let (part, key, token) = (part.clone(), key.to_string(), d.token.clone());
        rt.spawn(async move {
            // One of the partition's outbound permits, as the HTTP actions take.
            let Ok(_permit) = http.acquire().await else {
                return;
            };
            let reason = match ports.http.post(req, super::worker::HTTP_TIMEOUT).await {
                Ok(s) if (200..300).contains(&s) => return,
                Ok(s) => format!("The confirmation URL answered {s}"),
                Err(e) => format!("The confirmation could not be delivered: {e}"),
            };
            // Only the confirmation this attempt sent is marked failed; a destination since
            // confirmed, updated or deleted is left as it is.
            let now = clock.now().millis();
            let _ = crate::records::modify(
                store.as_ref(),
                &part.key(),
                KIND_DESTINATION,
                &key,
                || ServiceError::invalid("gone"),
                |_| vec![],
                |d: &mut Destination| {
                    if d.token != token || d.status != DestinationStatus::InProgress {
                        return Err(ServiceError::invalid("changed"));
                    }
                    d.status = DestinationStatus::Error;
                    d.status_reason = Some(reason.clone());
                    d.last_updated_at = now;
                    Ok(())
                },
            )
            .await;
        });
    }
}
