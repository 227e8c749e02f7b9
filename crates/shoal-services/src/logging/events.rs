//! Reading records back: DescribeLogStreams, GetLogEvents (one stream, by file position) and
//! FilterLogEvents (every stream of a group merged by time, with a filter pattern)
//! (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html).
//! Reads first flush the writer, so a record a device caused before the request is found.
//! Pages hold at most 10,000 events and 1 MB of messages, as AWS's do.

use super::groups::cutoff;
use super::DeviceLogs;
use shoal_domain::error::Result;
use shoal_domain::{Partition, ServiceError};
use shoal_logsquery::pattern::Pattern;
use shoal_logstore::{SegmentRef, StreamInfo};
use std::cmp::Ordering;

/// The most events and message bytes one page carries.
pub const MAX_EVENTS: usize = 10_000;
const MAX_PAGE_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub stream: String,
    pub timestamp: i64,
    pub ingestion_time: i64,
    pub message: String,
    /// Where it is: (segment, offset) in its stream.
    pub seq: u32,
    pub offset: u64,
}

impl LogEvent {
    /// A unique id (FilterLogEvents' `eventId`): the time and the place, as digits.
    pub fn event_id(&self) -> String {
        let h = crc32(self.stream.as_bytes());
        format!(
            "{:020}{h:010}{:08}{:016}",
            self.timestamp.max(0),
            self.seq,
            self.offset
        )
    }

    fn key(&self) -> (i64, &str, u32, u64) {
        (self.timestamp, &self.stream, self.seq, self.offset)
    }
}

fn crc32(b: &[u8]) -> u32 {
    // FNV-1a: only needs to tell streams apart inside an id.
    b.iter().fold(0x811c_9dc5u32, |h, &c| {
        (h ^ u32::from(c)).wrapping_mul(0x0100_0193)
    })
}

/// A FilterLogEvents request.
#[derive(Debug, Default)]
pub struct FilterRequest {
    pub group: String,
    pub streams: Option<Vec<String>>,
    pub stream_prefix: Option<String>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub pattern: Option<String>,
    pub limit: Option<usize>,
    pub token: Option<String>,
}

/// A GetLogEvents request.
#[derive(Debug, Default)]
pub struct GetRequest {
    pub group: String,
    pub stream: String,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub limit: Option<usize>,
    pub from_head: Option<bool>,
    pub token: Option<String>,
}

pub struct LogEventsPage {
    pub events: Vec<LogEvent>,
    pub next: Option<String>,
    pub backward: Option<String>,
}

fn missing_group() -> ServiceError {
    ServiceError::not_found("The specified log group does not exist.")
}

fn bad_token() -> ServiceError {
    ServiceError::invalid("The specified nextToken is invalid.")
}

/// A FilterLogEvents token: the last event returned, `TS/SEQ/OFFSET/HEX(STREAM)`.
fn encode_after(e: &LogEvent) -> String {
    format!(
        "{}/{}/{}/{}",
        e.timestamp,
        e.seq,
        e.offset,
        hex::encode(&e.stream)
    )
}

fn decode_after(t: &str) -> Result<(i64, String, u32, u64)> {
    let mut it = t.splitn(4, '/');
    let ts = it
        .next()
        .and_then(|x| x.parse().ok())
        .ok_or_else(bad_token)?;
    let seq = it
        .next()
        .and_then(|x| x.parse().ok())
        .ok_or_else(bad_token)?;
    let off = it
        .next()
        .and_then(|x| x.parse().ok())
        .ok_or_else(bad_token)?;
    let stream = it
        .next()
        .and_then(|x| hex::decode(x).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad_token)?;
    Ok((ts, stream, seq, off))
}

impl DeviceLogs {
    /// DescribeLogStreams: the group's streams; None when the group does not exist.
    pub async fn describe_streams(&self, part: &Partition, group: &str) -> Result<Vec<StreamInfo>> {
        self.flush().await;
        self.logs
            .streams(&part.key(), group)
            .ok_or_else(missing_group)
    }

    fn segments_of(
        &self,
        part: &Partition,
        group: &str,
        wanted: impl Fn(&str) -> bool,
        start: i64,
        end: i64,
    ) -> Result<(Vec<SegmentRef>, i64)> {
        let scope = part.key();
        let cut = cutoff(
            self.store.as_ref(),
            &scope,
            group,
            self.clock.now().millis(),
        );
        let start = start.max(cut);
        let segs = self
            .logs
            .segments(&scope, group, wanted, start, end)
            .ok_or_else(missing_group)?;
        Ok((segs, start))
    }

    /// FilterLogEvents: events of every chosen stream in `[start, end)` that match the
    /// pattern, in time order across streams.
    pub async fn filter_events(
        &self,
        part: &Partition,
        req: FilterRequest,
    ) -> Result<LogEventsPage> {
        if req.streams.is_some() && req.stream_prefix.is_some() {
            return Err(ServiceError::invalid(
                "logStreamNames and logStreamNamePrefix are mutually exclusive",
            ));
        }
        let pattern = match req.pattern.as_deref().filter(|p| !p.trim().is_empty()) {
            Some(p) => Some(
                shoal_logsquery::pattern::parse(p)
                    .map_err(|e| ServiceError::invalid(e.to_string()))?,
            ),
            None => None,
        };
        let limit = req.limit.unwrap_or(MAX_EVENTS).clamp(1, MAX_EVENTS);
        let after = req.token.as_deref().map(decode_after).transpose()?;
        self.flush().await;
        let streams = req.streams.clone();
        let prefix = req.stream_prefix.clone();
        let wanted = move |s: &str| {
            streams.as_ref().is_none_or(|l| l.iter().any(|x| x == s))
                && prefix.as_ref().is_none_or(|p| s.starts_with(p.as_str()))
        };
        let start = req.start.unwrap_or(i64::MIN);
        let from = after.as_ref().map_or(start, |a| a.0.max(start));
        let end = req.end.unwrap_or(i64::MAX);
        let (segs, from) = self.segments_of(part, &req.group, wanted, from, end)?;
        tokio::task::spawn_blocking(move || {
            filter_blocking(&segs, pattern.as_ref(), from, end, after, limit)
        })
        .await
        .map_err(|_| ServiceError::internal("An internal error occurred"))?
    }

    /// GetLogEvents: one stream's events by file position, newest page first unless
    /// `from_head`; the tokens are `f/...` and `b/...` positions.
    pub async fn get_events(&self, part: &Partition, req: GetRequest) -> Result<LogEventsPage> {
        let GetRequest {
            group,
            stream,
            start,
            end,
            limit,
            from_head,
            token,
        } = req;
        let (group, stream, token) = (group.as_str(), stream.as_str(), token.as_deref());
        let limit = limit.unwrap_or(MAX_EVENTS).clamp(1, MAX_EVENTS);
        // A token says its direction; without one, startFromHead does (default: backward).
        let (forward, pos) = match token {
            Some(t) => {
                let (dir, rest) = t.split_at(t.len().min(2));
                let pos = parse_pos(rest).ok_or_else(bad_token)?;
                match dir {
                    "f/" => (true, Some(pos)),
                    "b/" => (false, Some(pos)),
                    _ => return Err(bad_token()),
                }
            }
            None => (from_head.unwrap_or(false), None),
        };
        self.flush().await;
        if self.logs.streams(&part.key(), group).is_none() {
            return Err(missing_group());
        }
        let exists = self
            .logs
            .streams(&part.key(), group)
            .is_some_and(|l| l.iter().any(|s| s.name == stream));
        if !exists {
            return Err(ServiceError::not_found(
                "The specified log stream does not exist.",
            ));
        }
        let (segs, start) = self.segments_of(
            part,
            group,
            |s| s == stream,
            start.unwrap_or(i64::MIN),
            end.unwrap_or(i64::MAX),
        )?;
        let end = end.unwrap_or(i64::MAX);
        let page = tokio::task::spawn_blocking(move || {
            get_blocking(&segs, start, end, forward, pos, limit)
        })
        .await
        .map_err(|_| ServiceError::internal("An internal error occurred"))??;
        let first = page.first().map(|e| (e.seq, e.offset));
        let last = page.last().map(|e| (e.seq, e.offset));
        let same = token.map(str::to_string);
        let fwd = last
            .map(|p| format!("f/{}", fmt_pos(p)))
            .or_else(|| same.clone().filter(|t| t.starts_with("f/")))
            .unwrap_or_else(|| format!("f/{}", fmt_pos(pos.unwrap_or((0, 0)))));
        let back = first
            .map(|p| format!("b/{}", fmt_pos(p)))
            .or_else(|| same.filter(|t| t.starts_with("b/")))
            .unwrap_or_else(|| format!("b/{}", fmt_pos(pos.unwrap_or((0, 0)))));
        Ok(LogEventsPage {
            events: page,
            next: Some(fwd),
            backward: Some(back),
        })
    }
}

fn fmt_pos((seq, off): (u32, u64)) -> String {
    format!("{seq:010}{off:020}")
}

fn parse_pos(s: &str) -> Option<(u32, u64)> {
    if s.len() != 30 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((s[..10].parse().ok()?, s[10..].parse().ok()?))
}

fn io_error(e: std::io::Error) -> ServiceError {
    tracing::error!(error = %e, "reading device logs");
    ServiceError::internal("An internal error occurred")
}

fn filter_blocking(
    segs: &[SegmentRef],
    pattern: Option<&Pattern>,
    start: i64,
    end: i64,
    after: Option<(i64, String, u32, u64)>,
    limit: usize,
) -> Result<LogEventsPage> {
    // Each stream is in time order, so its first `limit` matches after the token are all that
    // the merged page can need from it.
    let mut found: Vec<LogEvent> = Vec::new();
    let mut i = 0;
    while i < segs.len() {
        let stream = segs[i].stream.clone();
        let mut taken = 0;
        let mut bytes = 0;
        while i < segs.len() && segs[i].stream == stream {
            let seg = &segs[i];
            i += 1;
            if taken >= limit || bytes >= MAX_PAGE_BYTES {
                continue;
            }
            seg.read(0, |r| {
                if r.timestamp < start || r.timestamp >= end {
                    return true;
                }
                if let Some(a) = &after {
                    let k = (r.timestamp, &*stream, seg.seq, r.offset);
                    if k.cmp(&(a.0, a.1.as_str(), a.2, a.3)) != Ordering::Greater {
                        return true;
                    }
                }
                if pattern.is_some_and(|p| !p.matches(r.message)) {
                    return true;
                }
                found.push(LogEvent {
                    stream: stream.to_string(),
                    timestamp: r.timestamp,
                    ingestion_time: r.ingestion_time,
                    message: r.message.to_string(),
                    seq: seg.seq,
                    offset: r.offset,
                });
                taken += 1;
                bytes += r.message.len();
                taken < limit && bytes < MAX_PAGE_BYTES
            })
            .map_err(io_error)?;
        }
    }
    found.sort_by(|a, b| a.key().cmp(&b.key()));
    let mut bytes = 0;
    let mut keep = 0;
    for e in &found {
        if keep == limit || (keep > 0 && bytes + e.message.len() > MAX_PAGE_BYTES) {
            break;
        }
        bytes += e.message.len();
        keep += 1;
    }
    let more = keep < found.len();
    found.truncate(keep);
    // A full page may have more behind it; AWS omits nextToken only when the search is done.
    let next = (more || keep == limit)
        .then(|| found.last().map(encode_after))
        .flatten();
    Ok(LogEventsPage {
        events: found,
        next,
        backward: None,
    })
}

fn get_blocking(
    segs: &[SegmentRef],
    start: i64,
    end: i64,
    forward: bool,
    pos: Option<(u32, u64)>,
    limit: usize,
) -> Result<Vec<LogEvent>> {
    let mut out: std::collections::VecDeque<LogEvent> = Default::default();
    let mut bytes = 0usize;
    for seg in segs {
        if forward && pos.is_some_and(|(s, _)| seg.seq < s) {
            continue;
        }
        if !forward && pos.is_some_and(|(s, _)| seg.seq > s) {
            break;
        }
        let mut full = false;
        seg.read(0, |r| {
            let here = (seg.seq, r.offset);
            if r.timestamp < start || r.timestamp >= end {
                return true;
            }
            match pos {
                Some(p) if forward && here <= p => return true,
                Some(p) if !forward && here >= p => return false,
                _ => {}
            }
            out.push_back(LogEvent {
                stream: seg.stream.to_string(),
                timestamp: r.timestamp,
                ingestion_time: r.ingestion_time,
                message: r.message.to_string(),
                seq: seg.seq,
                offset: r.offset,
            });
            bytes += r.message.len();
            if forward {
                full = out.len() >= limit || bytes >= MAX_PAGE_BYTES;
                !full
            } else {
                while out.len() > limit || (out.len() > 1 && bytes > MAX_PAGE_BYTES) {
                    if let Some(e) = out.pop_front() {
                        bytes -= e.message.len();
                    }
                }
                true
            }
        })
        .map_err(io_error)?;
        if full {
            break;
        }
    }
    Ok(out.into())
}
