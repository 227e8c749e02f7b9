//! Which MQTT the broker speaks. The `aws` profile (the default) is AWS IoT Core's: QoS 0 and 1,
//! retained messages only for exact filters, keep-alive clamped to 30..1200 s, no `$` topics
//! but the reserved ones, no subscription identifiers, wills published at once, and AWS's
//! quotas (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits;
//! https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-differences). The
//! `standard` profile is a full MQTT 3.1.1 / 5.0 broker for sites where Shoal is the only one,
//! with identity, policies and shadows kept; the quotas become settings with AWS's values as
//! defaults.

use shoal_mqtt::QoS;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProfileKind {
    #[default]
    Aws,
    Standard,
}

impl ProfileKind {
    pub fn parse(s: &str) -> Result<ProfileKind, String> {
        match s {
            "aws" => Ok(ProfileKind::Aws),
            "standard" => Ok(ProfileKind::Standard),
            other => Err(format!(
                "unknown MQTT profile {other:?} (\"aws\" or \"standard\")"
            )),
        }
    }
}

/// The limits that are AWS quotas; settings in the standard profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest PUBLISH payload: 128 KB on AWS.
    pub max_payload: usize,
    /// Most forward slashes in a topic or filter: 7 on AWS (8 levels).
    pub max_topic_slashes: usize,
    /// Topic filters in one SUBSCRIBE: 8 on AWS.
    pub max_filters: usize,
    /// Unacknowledged QoS > 0 publishes each way (the Receive Maximum both sides announce):
    /// 100 on AWS ("Maximum in-flight unacknowledged messages").
    pub inflight: u16,
    /// The longest keep-alive a client gets (Server Keep Alive when it asks for more, or for
    /// none). AWS: 1200 s.
    pub max_keep_alive: u16,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_payload: 128 * 1024,
            max_topic_slashes: shoal_mqtt::topic::AWS_MAX_TOPIC_SLASHES,
            max_filters: 8,
            inflight: 100,
            max_keep_alive: 1200,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    pub kind: ProfileKind,
    pub limits: Limits,
}

/// AWS IoT's shortest keep-alive; shorter requests are raised to it.
const AWS_MIN_KEEP_ALIVE: u16 = 30;
/// AWS IoT's topic alias maximum for MQTT 5 clients ("a default limit of 8 topic aliases").
const AWS_TOPIC_ALIASES: u16 = 8;
/// Topic aliases a standard-profile client may set.
const STANDARD_TOPIC_ALIASES: u16 = 64;

impl Profile {
    pub fn aws() -> Profile {
        Profile::default()
    }

    pub fn standard(limits: Limits) -> Profile {
        Profile {
            kind: ProfileKind::Standard,
            limits,
        }
    }

    fn standard_mode(&self) -> bool {
        self.kind == ProfileKind::Standard
    }

    /// The largest packet accepted or sent: the payload quota plus room for the topic and
    /// properties.
    pub fn max_packet(&self) -> usize {
        self.limits.max_payload + 1024
    }

    /// The highest QoS granted and delivered: AWS IoT has no QoS 2.
    pub fn max_qos(&self) -> QoS {
        if self.standard_mode() {
            QoS::ExactlyOnce
        } else {
            QoS::AtLeastOnce
        }
    }

    /// Whether a new subscription with wildcards gets the retained messages it matches. AWS
    /// sends them only to a filter naming the topic exactly.
    pub fn retained_for_wildcards(&self) -> bool {
        self.standard_mode()
    }

    /// Whether clients may use `$` topics other than AWS's reserved ones (policies permitting).
    pub fn dollar_topics(&self) -> bool {
        self.standard_mode()
    }

    /// MQTT 5 subscription identifiers (§3.8.2.1.2); AWS IoT has none.
    pub fn subscription_identifiers(&self) -> bool {
        self.standard_mode()
    }

    /// MQTT 5 Will Delay Interval (§3.1.3.2.2). AWS documents no will delay and publishes the
    /// will when the connection ends
    /// (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-lwt).
    pub fn will_delay(&self) -> bool {
        self.standard_mode()
    }

    /// Topic aliases from the server to MQTT 5 clients that accept them (§3.3.2.3.4).
    pub fn server_topic_aliases(&self) -> bool {
        self.standard_mode()
    }

    /// The Topic Alias Maximum announced in CONNACK: aliases a client may set.
    pub fn topic_alias_maximum(&self) -> u16 {
        if self.standard_mode() {
            STANDARD_TOPIC_ALIASES
        } else {
            AWS_TOPIC_ALIASES
        }
    }

    /// The keep-alive a client asking for `secs` gets; `None` is no keep-alive at all.
    /// AWS: 30..=1200 s, and 0 means the maximum
    /// (https://docs.aws.amazon.com/general/latest/gr/iot-core.html, "Keep-alive period").
    /// Standard: as asked (0 is none, §3.1.2.10), capped by the configured maximum, which a
    /// client asking for none also gets unless the maximum is 65,535.
    pub fn keep_alive(&self, secs: u16) -> Option<Duration> {
        let max = self.limits.max_keep_alive;
        let s = if self.standard_mode() {
            match secs {
                0 if max == u16::MAX => return None,
                0 => max,
                s => s.min(max),
            }
        } else {
            match secs {
                0 => max,
                s => s.clamp(AWS_MIN_KEEP_ALIVE, max),
            }
        };
        Some(Duration::from_secs(u64::from(s)))
    }

    /// Whether a topic name or filter is within the topic limits: AWS's 256 bytes, and the
    /// configured number of levels.
    pub fn topic_ok(&self, t: &str) -> bool {
        t.len() <= shoal_mqtt::topic::AWS_MAX_TOPIC_BYTES
            && t.bytes().filter(|&b| b == b'/').count() <= self.limits.max_topic_slashes
    }

    /// Topics a client may publish to: valid, within the limits, and not `$`-reserved
    /// (`$aws/...` requests go to their services before this is asked). In the standard profile
    /// other `$` topics are ordinary topics.
    pub fn topic_publishable(&self, topic: &str) -> bool {
        shoal_mqtt::valid_topic_name(topic)
            && self.topic_ok(topic)
            && (!topic.starts_with('$') || (self.dollar_topics() && !reserved(topic)))
    }

    /// Filters a client may subscribe to: its own topics, and the reserved families AWS lets
    /// clients subscribe to (lifecycle events; thing topics such as shadow responses; the
    /// fleet-provisioning answers).
    /// https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html
    pub fn filter_subscribable(&self, filter: &str) -> bool {
        !filter.starts_with('$')
            || filter.starts_with("$aws/events/")
            || filter.starts_with("$aws/things/")
            || filter.starts_with("$aws/certificates/")
            || filter.starts_with("$aws/provisioning-templates/")
            || (self.dollar_topics() && !reserved(filter))
    }
}

/// AWS's reserved topics, which keep AWS's rules in every profile, and `$share`, which names
/// shared subscriptions, not topics (MQTT 5 §4.8.2).
fn reserved(t: &str) -> bool {
    t.starts_with("$aws/") || t == "$aws" || t.starts_with("$share/") || t == "$share"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aws_profile_keeps_aws_rules() {
        let p = Profile::aws();
        assert_eq!(p.max_qos(), QoS::AtLeastOnce);
        assert_eq!(p.keep_alive(0), Some(Duration::from_secs(1200)));
        assert_eq!(p.keep_alive(5), Some(Duration::from_secs(30)));
        assert_eq!(p.keep_alive(5000), Some(Duration::from_secs(1200)));
        assert!(p.topic_publishable("a/b"));
        assert!(!p.topic_publishable("$SYS/x"));
        assert!(!p.topic_publishable("a/b/c/d/e/f/g/h/i"));
        assert!(p.filter_subscribable("$aws/events/presence/connected/+"));
        assert!(!p.filter_subscribable("$SYS/#"));
        assert!(!p.retained_for_wildcards());
    }

    #[test]
    fn the_standard_profile_is_mqtt() {
        let p = Profile::standard(Limits {
            max_keep_alive: u16::MAX,
            max_topic_slashes: 20,
            ..Limits::default()
        });
        assert_eq!(p.max_qos(), QoS::ExactlyOnce);
        assert_eq!(p.keep_alive(0), None);
        assert_eq!(p.keep_alive(5), Some(Duration::from_secs(5)));
        assert!(p.topic_publishable("$SYS/x"));
        assert!(!p.topic_publishable("$aws/things/x/shadow/get"));
        assert!(!p.topic_publishable("$share/g/t"));
        assert!(p.topic_publishable("a/b/c/d/e/f/g/h/i"));
        assert!(p.filter_subscribable("$SYS/#"));
        assert!(p.filter_subscribable("$aws/things/x/shadow/#"));
        assert!(p.filter_subscribable("$aws/certificates/create/json/+"));
        assert!(p.filter_subscribable("$aws/provisioning-templates/t/provision/json/+"));
        assert!(!p.filter_subscribable("$aws/rules/x"));
        let capped = Profile::standard(Limits {
            max_keep_alive: 600,
            ..Limits::default()
        });
        assert_eq!(capped.keep_alive(0), Some(Duration::from_secs(600)));
        assert_eq!(capped.keep_alive(900), Some(Duration::from_secs(600)));
    }
}
