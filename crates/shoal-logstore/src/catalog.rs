//! What is on disk, in memory: groups, their streams and each stream's segments with their
//! extents. Loaded at open (sealed segments from their summary files, the last one of each
//! stream by reading it, which also cuts a torn tail), then kept by `append`.

use crate::segment::{self, Raw, Summary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

const DAY_MS: i64 = 86_400_000;

/// A record to append.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub scope: &'a str,
    pub group: &'a str,
    pub stream: &'a str,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub message: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    pub name: String,
    pub created: i64,
    pub stored_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    pub name: String,
    pub created: i64,
    pub first_timestamp: Option<i64>,
    pub last_timestamp: Option<i64>,
    pub last_ingestion: Option<i64>,
    pub stored_bytes: u64,
    pub records: u64,
}

/// One segment as a reader sees it: read it up to `len`.
#[derive(Debug, Clone)]
pub struct SegmentRef {
    pub stream: Arc<str>,
    pub seq: u32,
    pub path: PathBuf,
    pub len: u64,
    pub records: u64,
    pub first_timestamp: i64,
    pub last_timestamp: i64,
}

impl SegmentRef {
    /// Calls `visit` for each record from byte `from` on, in file order, until it returns false.
    pub fn read(&self, from: u64, visit: impl FnMut(&Raw<'_>) -> bool) -> io::Result<()> {
        match segment::scan(&self.path, from, self.len, visit) {
            Ok(_) => Ok(()),
            // Dropped by retention or a group deletion since the snapshot.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Created {
    created: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct SealedSummary {
    records: u64,
    bytes: u64,
    first: Option<i64>,
    last: Option<i64>,
    ingestion: Option<i64>,
}

struct Segment {
    seq: u32,
    path: PathBuf,
    summary: Summary,
}

struct Stream {
    created: i64,
    dir: PathBuf,
    segments: Vec<Segment>,
    writer: Option<File>,
    /// Whether the last segment takes appends (false once retention dropped it).
    open: bool,
    /// Segment numbers are never reused, so a reader's snapshot never names another file.
    next_seq: u32,
}

struct Group {
    created: i64,
    dir: PathBuf,
    streams: BTreeMap<String, Stream>,
}

/// The log store: see the crate's documentation.
pub struct LogStore {
    root: PathBuf,
    segment_bytes: u64,
    groups: Mutex<BTreeMap<(String, String), Group>>,
}

/// Names become folder names as hex, so any character is safe and names never collide.
fn dir_name(name: &str) -> String {
    hex::encode(name.as_bytes())
}

fn from_dir_name(name: &std::ffi::OsStr) -> Option<String> {
    String::from_utf8(hex::decode(name.to_str()?).ok()?).ok()
}

fn read_created(path: &Path) -> i64 {
    fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Created>(&b).ok())
        .map_or(0, |c| c.created)
}

fn write_created(path: &Path, created: i64) -> io::Result<()> {
    fs::write(path, serde_json::to_vec(&Created { created })?)
}

fn segment_path(dir: &Path, seq: u32) -> PathBuf {
    dir.join(format!("{seq:08}.seg"))
}

fn summary_path(dir: &Path, seq: u32) -> PathBuf {
    dir.join(format!("{seq:08}.sum"))
}

fn subdirs(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            if let Some(name) = from_dir_name(&e.file_name()) {
                out.push((name, e.path()));
            }
        }
    }
    Ok(out)
}

fn load_stream(dir: &Path) -> io::Result<Stream> {
    let mut seqs: Vec<u32> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name();
            let n = n.to_str()?;
            n.strip_suffix(".seg")?.parse().ok()
        })
        .collect();
    seqs.sort_unstable();
    let mut segments = Vec::with_capacity(seqs.len());
    for (i, &seq) in seqs.iter().enumerate() {
        let path = segment_path(dir, seq);
        let last = i + 1 == seqs.len();
        let sealed = (!last)
            .then(|| fs::read(summary_path(dir, seq)).ok())
            .flatten()
            .and_then(|b| serde_json::from_slice::<SealedSummary>(&b).ok());
        let summary = match sealed {
            Some(s) => Summary {
                records: s.records,
                bytes: s.bytes,
                first_timestamp: s.first,
                last_timestamp: s.last,
                last_ingestion: s.ingestion,
            },
            None => segment::repair(&path)?,
        };
        segments.push(Segment { seq, path, summary });
    }
    Ok(Stream {
        created: read_created(&dir.join("stream.json")),
        dir: dir.to_path_buf(),
        open: !segments.is_empty(),
        next_seq: seqs.last().map_or(1, |s| s + 1),
        segments,
        writer: None,
    })
}

impl LogStore {
    /// Opens (or makes) the store in `root`; a new segment starts after `segment_bytes`.
    pub fn open(root: &Path, segment_bytes: u64) -> io::Result<LogStore> {
        fs::create_dir_all(root)?;
        let mut groups = BTreeMap::new();
        for (scope, sdir) in subdirs(root)? {
            for (group, gdir) in subdirs(&sdir)? {
                let mut streams = BTreeMap::new();
                for (stream, dir) in subdirs(&gdir)? {
                    streams.insert(stream, load_stream(&dir)?);
                }
                let created = read_created(&gdir.join("group.json"));
                groups.insert(
                    (scope.clone(), group),
                    Group {
                        created,
                        dir: gdir,
                        streams,
                    },
                );
            }
        }
        Ok(LogStore {
            root: root.to_path_buf(),
            segment_bytes: segment_bytes.max(1 << 16),
            groups: Mutex::new(groups),
        })
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<(String, String), Group>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends `entries` (each stream's records sorted by timestamp first), ingested at `now`,
    /// and fsyncs every segment written before returning. Groups and streams are made as
    /// records first name them.
    pub fn append(&self, entries: &[Entry<'_>], now: i64) -> io::Result<()> {
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&entries[a], &entries[b]);
            (x.scope, x.group, x.stream, x.timestamp).cmp(&(
                y.scope,
                y.group,
                y.stream,
                y.timestamp,
            ))
        });
        let mut groups = self.lock();
        let mut buf = Vec::new();
        let mut i = 0;
        while i < order.len() {
            let first = &entries[order[i]];
            let mut j = i;
            while j < order.len() && {
                let e = &entries[order[j]];
                (e.scope, e.group, e.stream) == (first.scope, first.group, first.stream)
            } {
                j += 1;
            }
            let stream = self.stream_mut(&mut groups, first, now)?;
            // One write per segment touched, not one per record.
            let mut sizes: Vec<(u64, i64)> = Vec::with_capacity(j - i);
            buf.clear();
            buf.reserve(
                order[i..j]
                    .iter()
                    .map(|&k| segment::HEADER + entries[k].message.len())
                    .sum(),
            );
            for &k in &order[i..j] {
                let e = &entries[k];
                let before = buf.len();
                segment::encode(&mut buf, e.timestamp, now, e.message);
                let len = (buf.len() - before) as u64;
                let first = sizes.first().map(|x| x.1);
                if self.needs_roll(stream, before as u64, first, len, e.timestamp) {
                    let record = buf.split_off(before);
                    self.write_pending(stream, &mut buf, &mut sizes, now)?;
                    self.roll(stream)?;
                    buf = record;
                }
                sizes.push((len, e.timestamp));
            }
            self.write_pending(stream, &mut buf, &mut sizes, now)?;
            if let Some(w) = stream.writer.as_mut() {
                w.sync_data()?;
            }
            i = j;
        }
        Ok(())
    }

    fn stream_mut<'g>(
        &self,
        groups: &'g mut BTreeMap<(String, String), Group>,
        e: &Entry<'_>,
        now: i64,
    ) -> io::Result<&'g mut Stream> {
        let key = (e.scope.to_string(), e.group.to_string());
        if !groups.contains_key(&key) {
            let dir = self.root.join(dir_name(e.scope)).join(dir_name(e.group));
            fs::create_dir_all(&dir)?;
            write_created(&dir.join("group.json"), now)?;
            groups.insert(
                key.clone(),
                Group {
                    created: now,
                    dir,
                    streams: BTreeMap::new(),
                },
            );
        }
        let group = groups.get_mut(&key).expect("inserted above");
        if !group.streams.contains_key(e.stream) {
            let dir = group.dir.join(dir_name(e.stream));
            fs::create_dir_all(&dir)?;
            write_created(&dir.join("stream.json"), now)?;
            group.streams.insert(
                e.stream.to_string(),
                Stream {
                    created: now,
                    dir,
                    segments: Vec::new(),
                    writer: None,
                    open: false,
                    next_seq: 1,
                },
            );
        }
        Ok(group.streams.get_mut(e.stream).expect("inserted above"))
    }

    /// Whether a record of `len` bytes at `ts` must start a new segment, `pending` bytes (from
    /// `pending_first`) being queued for the current one. A segment holds one UTC day at most,
    /// so retention can drop whole days.
    fn needs_roll(
        &self,
        s: &Stream,
        pending: u64,
        pending_first: Option<i64>,
        len: u64,
        ts: i64,
    ) -> bool {
        let Some(seg) = s.segments.last().filter(|_| s.open) else {
            return true;
        };
        let first = seg.summary.first_timestamp.or(pending_first);
        let other_day = first.is_some_and(|f| f.div_euclid(DAY_MS) != ts.div_euclid(DAY_MS));
        let used = seg.summary.bytes + pending;
        used > 0 && (other_day || used + len > self.segment_bytes)
    }

    /// Seals the current segment (its summary lets the next start skip reading it) and opens
    /// the next.
    fn roll(&self, s: &mut Stream) -> io::Result<()> {
        if let (true, Some(last)) = (s.open, s.segments.last()) {
            if let Some(w) = s.writer.take() {
                w.sync_data()?;
            }
            let sum = SealedSummary {
                records: last.summary.records,
                bytes: last.summary.bytes,
                first: last.summary.first_timestamp,
                last: last.summary.last_timestamp,
                ingestion: last.summary.last_ingestion,
            };
            fs::write(summary_path(&s.dir, last.seq), serde_json::to_vec(&sum)?)?;
        }
        let seq = s.next_seq;
        s.next_seq += 1;
        s.open = true;
        s.segments.push(Segment {
            seq,
            path: segment_path(&s.dir, seq),
            summary: Summary::default(),
        });
        Ok(())
    }

    /// Writes the queued records (`sizes`: each one's length and timestamp) to the current
    /// segment in one write, and counts them in its summary.
    fn write_pending(
        &self,
        s: &mut Stream,
        bytes: &mut Vec<u8>,
        sizes: &mut Vec<(u64, i64)>,
        now: i64,
    ) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let seg = s.segments.last_mut().expect("a segment is open");
        if s.writer.is_none() {
            s.writer = Some(segment::open_append(&seg.path)?);
        }
        let w = s.writer.as_mut().expect("opened above");
        if let Err(e) = segment::append(w, bytes) {
            // Cut what was half-written so the next append starts on a record boundary.
            s.writer = None;
            let _ = fs::OpenOptions::new()
                .write(true)
                .open(&seg.path)
                .and_then(|f| f.set_len(seg.summary.bytes));
            return Err(e);
        }
        for &(len, ts) in sizes.iter() {
            let raw = Raw {
                offset: seg.summary.bytes,
                timestamp: ts,
                ingestion_time: now,
                message: "",
            };
            let end = seg.summary.bytes + len;
            seg.summary.add(&raw, end);
        }
        bytes.clear();
        sizes.clear();
        Ok(())
    }

    /// The groups of `scope`, by name.
    pub fn groups(&self, scope: &str) -> Vec<GroupInfo> {
        let groups = self.lock();
        groups
            .range((scope.to_string(), String::new())..)
            .take_while(|((s, _), _)| s == scope)
            .map(|((_, name), g)| GroupInfo {
                name: name.clone(),
                created: g.created,
                stored_bytes: g.streams.values().map(stream_bytes).sum(),
            })
            .collect()
    }

    /// The streams of a group, by name; None when the group does not exist.
    pub fn streams(&self, scope: &str, group: &str) -> Option<Vec<StreamInfo>> {
        let groups = self.lock();
        let g = groups.get(&(scope.to_string(), group.to_string()))?;
        Some(
            g.streams
                .iter()
                .map(|(name, s)| StreamInfo {
                    name: name.clone(),
                    created: s.created,
                    first_timestamp: s
                        .segments
                        .iter()
                        .filter_map(|x| x.summary.first_timestamp)
                        .min(),
                    last_timestamp: s
                        .segments
                        .iter()
                        .filter_map(|x| x.summary.last_timestamp)
                        .max(),
                    last_ingestion: s
                        .segments
                        .iter()
                        .filter_map(|x| x.summary.last_ingestion)
                        .max(),
                    stored_bytes: stream_bytes(s),
                    records: s.segments.iter().map(|x| x.summary.records).sum(),
                })
                .collect(),
        )
    }

    /// The segments of the group's streams that `wanted` accepts and that may hold records in
    /// `[start, end)` (milliseconds), in stream then file order; None when the group does not
    /// exist.
    pub fn segments(
        &self,
        scope: &str,
        group: &str,
        wanted: impl Fn(&str) -> bool,
        start: i64,
        end: i64,
    ) -> Option<Vec<SegmentRef>> {
        let groups = self.lock();
        let g = groups.get(&(scope.to_string(), group.to_string()))?;
        let mut out = Vec::new();
        for (name, s) in &g.streams {
            if !wanted(name) {
                continue;
            }
            let name: Arc<str> = Arc::from(name.as_str());
            for seg in &s.segments {
                let (Some(first), Some(last)) =
                    (seg.summary.first_timestamp, seg.summary.last_timestamp)
                else {
                    continue;
                };
                if last < start || first >= end {
                    continue;
                }
                out.push(SegmentRef {
                    stream: name.clone(),
                    seq: seg.seq,
                    path: seg.path.clone(),
                    len: seg.summary.bytes,
                    records: seg.summary.records,
                    first_timestamp: first,
                    last_timestamp: last,
                });
            }
        }
        Some(out)
    }

    /// Deletes a group and its records; false when it did not exist.
    pub fn delete_group(&self, scope: &str, group: &str) -> io::Result<bool> {
        let mut groups = self.lock();
        let Some(g) = groups.remove(&(scope.to_string(), group.to_string())) else {
            return Ok(false);
        };
        drop(groups);
        fs::remove_dir_all(&g.dir)?;
        Ok(true)
    }

    /// Deletes every group of `scope` (an account's reset).
    pub fn delete_scope(&self, scope: &str) -> io::Result<()> {
        let names: Vec<String> = self.groups(scope).into_iter().map(|g| g.name).collect();
        for n in names {
            self.delete_group(scope, &n)?;
        }
        Ok(())
    }

    /// Retention: drops the group's segments whose every record is older than `cutoff`
    /// (milliseconds), whole files at a time. Returns how many were dropped.
    pub fn expire(&self, scope: &str, group: &str, cutoff: i64) -> io::Result<usize> {
        let mut groups = self.lock();
        let Some(g) = groups.get_mut(&(scope.to_string(), group.to_string())) else {
            return Ok(0);
        };
        let mut dropped = 0;
        for s in g.streams.values_mut() {
            let n = s.segments.len();
            let mut keep = Vec::with_capacity(n);
            for (i, seg) in std::mem::take(&mut s.segments).into_iter().enumerate() {
                let old = seg.summary.last_timestamp.is_some_and(|t| t < cutoff);
                if !old {
                    keep.push(seg);
                    continue;
                }
                if i + 1 == n {
                    // The next record starts a new segment.
                    s.writer = None;
                    s.open = false;
                }
                let _ = fs::remove_file(summary_path(&s.dir, seg.seq));
                fs::remove_file(&seg.path)?;
                dropped += 1;
            }
            s.segments = keep;
        }
        Ok(dropped)
    }

    /// Every (scope, group) held, for the retention sweep.
    pub fn all_groups(&self) -> Vec<(String, String)> {
        self.lock().keys().cloned().collect()
    }
}

fn stream_bytes(s: &Stream) -> u64 {
    s.segments.iter().map(|x| x.summary.bytes).sum()
}
