//! Topic names, topic filters and how they match (§4.7 of MQTT 3.1.1 and 5.0), Shared
//! Subscriptions (MQTT 5.0 §4.8.2, which AWS IoT Core also offers to MQTT 3.1.1 clients), and
//! AWS IoT Core's limits on topics. Reserved `$aws/...` topics and what they mean are the
//! broker's business, not this module's.
//!
//! Everything here works on `&str` without allocating, so the broker can call it per message.

/// The longest topic the MQTT string encoding can carry (§1.5.4).
pub const MAX_TOPIC_LEN: usize = 65_535;

/// AWS IoT Core: a topic, or topic filter, is at most 256 bytes of UTF-8.
pub const AWS_MAX_TOPIC_BYTES: usize = 256;

/// AWS IoT Core: at most 7 forward slashes, i.e. 8 levels.
pub const AWS_MAX_TOPIC_SLASHES: usize = 7;

const SHARE_PREFIX: &str = "$share/";

/// Whether `t` is a valid Topic Name (§4.7.3): at least one character, no wildcard characters
/// `+` or `#` ([MQTT-3.3.2-2], §4.7.1), no U+0000 ([MQTT-4.7.3-2]) and within the string
/// length limit.
pub fn valid_topic_name(t: &str) -> bool {
    !t.is_empty() && t.len() <= MAX_TOPIC_LEN && !t.contains(['+', '#', '\0'])
}

/// Whether `f` is a valid Topic Filter (§4.7.1, §4.7.3): at least one character, no U+0000,
/// `#` only as a whole level and the last one ([MQTT-4.7.1-1]), `+` only as a whole level
/// ([MQTT-4.7.1-2]). A filter starting with `$share/` must also be a well-formed Shared
/// Subscription (see [`shared_subscription`]).
pub fn valid_topic_filter(f: &str) -> bool {
    if f.is_empty() || f.len() > MAX_TOPIC_LEN || f.contains('\0') {
        return false;
    }
    if f.starts_with(SHARE_PREFIX) {
        return shared_subscription(f).is_some_and(|(_, inner)| valid_levels(inner));
    }
    valid_levels(f)
}

/// The wildcard rules of §4.7.1, level by level.
fn valid_levels(f: &str) -> bool {
    let mut levels = f.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return false;
        }
        if level.contains('+') && level != "+" {
            return false;
        }
    }
    true
}

/// Whether the topic name `topic` matches the topic filter `filter` (§4.7.1, §4.7.2): `+`
/// matches exactly one level (which may be empty), `#` matches the level it stands in, all the
/// levels below it, and also the parent level ("sport/#" matches "sport"). A topic starting
/// with `$` is not matched by a filter starting with a wildcard ([MQTT-4.7.2-1]), so `#` does
/// not see `$SYS/...` or `$aws/...`.
///
/// Both arguments are assumed valid (see [`valid_topic_name`], [`valid_topic_filter`]); a
/// shared subscription is matched with the filter part that [`shared_subscription`] returns.
/// Matching walks both strings once and allocates nothing.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    // Levels split on the byte: `/` is never part of a longer UTF-8 character, and a byte
    // loop is cheaper than a char searcher on names this short (every message meets this).
    let mut f = filter.as_bytes().split(|&b| b == b'/');
    let mut t = topic.as_bytes().split(|&b| b == b'/');
    loop {
        match (f.next(), t.next()) {
            (Some(b"#"), _) => return true,
            (Some(b"+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Splits a Shared Subscription `$share/{ShareName}/{filter}` (MQTT 5.0 §4.8.2) into
/// `(ShareName, filter)`. `None` if `filter` is not one, or is ill-formed: the ShareName must
/// be at least one character without `/`, `+` or `#`, and be followed by `/` and a non-empty
/// filter ([MQTT-4.8.2-1], [MQTT-4.8.2-2]). The returned filter is not otherwise validated.
pub fn shared_subscription(filter: &str) -> Option<(&str, &str)> {
    let rest = filter.strip_prefix(SHARE_PREFIX)?;
    let (group, inner) = rest.split_once('/')?;
    if group.is_empty() || group.contains(['+', '#']) || inner.is_empty() {
        return None;
    }
    Some((group, inner))
}

/// AWS IoT Core's limits on a topic name or topic filter: at most [`AWS_MAX_TOPIC_BYTES`] bytes
/// and at most [`AWS_MAX_TOPIC_SLASHES`] forward slashes. AWS does not count the prefix of a
/// Basic Ingest topic (`$aws/rules/{rule}/`); the broker strips it before asking.
pub fn aws_topic_ok(t: &str) -> Result<(), &'static str> {
    if t.len() > AWS_MAX_TOPIC_BYTES {
        return Err("topic longer than 256 bytes");
    }
    if t.bytes().filter(|&b| b == b'/').count() > AWS_MAX_TOPIC_SLASHES {
        return Err("topic has more than 7 forward slashes");
    }
    Ok(())
}
