//! One segment file: records appended one after the other, each `[u32 length][i64 timestamp]
//! [i64 ingestion time][message]` (little-endian; the length counts the two times and the
//! message). A segment is only ever appended to by the one writer and read up to a length the
//! catalog recorded after an fsync, so a reader never sees half a record; a crash can leave a
//! torn last record, which `repair` cuts off at start-up.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Bytes before the message.
pub const HEADER: usize = 4 + 8 + 8;
/// The largest message kept (CloudWatch's event size limit is 256 KiB); the writer cuts longer
/// ones, and a length above it in a file marks a torn or foreign record.
pub const MAX_MESSAGE: usize = 256 * 1024;
/// How much a reader asks of the file at a time.
const CHUNK: usize = 4 << 20;

/// A record as read: its place in the segment and its fields.
#[derive(Debug, Clone, Copy)]
pub struct Raw<'a> {
    pub offset: u64,
    pub timestamp: i64,
    pub ingestion_time: i64,
    pub message: &'a str,
}

/// Appends `(timestamp, ingestion time, message)` records to `out` in the segment encoding.
pub fn encode(out: &mut Vec<u8>, timestamp: i64, ingestion_time: i64, message: &str) {
    let message = truncate(message, MAX_MESSAGE);
    let len = (16 + message.len()) as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&timestamp.to_le_bytes());
    out.extend_from_slice(&ingestion_time.to_le_bytes());
    out.extend_from_slice(message.as_bytes());
}

/// `s` cut to at most `max` bytes on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Opens a segment for appending (made if absent).
pub fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

pub fn append(file: &mut File, bytes: &[u8]) -> io::Result<()> {
    file.write_all(bytes)
}

/// What a scan of a whole segment found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub records: u64,
    /// The end of the last whole record.
    pub bytes: u64,
    pub first_timestamp: Option<i64>,
    pub last_timestamp: Option<i64>,
    pub last_ingestion: Option<i64>,
}

impl Summary {
    pub fn add(&mut self, r: &Raw<'_>, end: u64) {
        self.records += 1;
        self.bytes = end;
        self.first_timestamp = Some(
            self.first_timestamp
                .map_or(r.timestamp, |t| t.min(r.timestamp)),
        );
        self.last_timestamp = Some(
            self.last_timestamp
                .map_or(r.timestamp, |t| t.max(r.timestamp)),
        );
        self.last_ingestion = Some(
            self.last_ingestion
                .map_or(r.ingestion_time, |t| t.max(r.ingestion_time)),
        );
    }
}

/// Reads the records of `path` from `from` up to `until` bytes, calling `visit` for each in file
/// order until it returns false. Returns where the last whole record ended. A record that does
/// not decode (torn by a crash, or not UTF-8) ends the scan there.
pub fn scan(
    path: &Path,
    from: u64,
    until: u64,
    mut visit: impl FnMut(&Raw<'_>) -> bool,
) -> io::Result<u64> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(from))?;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK.min((until - from) as usize + 1));
    let mut base = from; // file offset of buf[0]
    let mut pos = 0usize;
    let mut eof = false;
    loop {
        // Decode every whole record in the buffer.
        while buf.len() - pos >= HEADER {
            let len = u32::from_le_bytes(buf[pos..pos + 4].try_into().expect("4 bytes")) as usize;
            if !(16..=16 + MAX_MESSAGE).contains(&len) {
                return Ok(base + pos as u64);
            }
            let end = pos + 4 + len;
            if end > buf.len() {
                break;
            }
            if base + end as u64 > until {
                return Ok(base + pos as u64);
            }
            let timestamp = i64::from_le_bytes(buf[pos + 4..pos + 12].try_into().expect("8"));
            let ingestion_time = i64::from_le_bytes(buf[pos + 12..pos + 20].try_into().expect("8"));
            let Ok(message) = std::str::from_utf8(&buf[pos + HEADER..end]) else {
                return Ok(base + pos as u64);
            };
            let raw = Raw {
                offset: base + pos as u64,
                timestamp,
                ingestion_time,
                message,
            };
            if !visit(&raw) {
                return Ok(base + end as u64);
            }
            pos = end;
        }
        if eof || base + buf.len() as u64 >= until {
            return Ok(base + pos as u64);
        }
        // Keep the partial record, read more.
        buf.drain(..pos);
        base += pos as u64;
        pos = 0;
        let want = CHUNK
            .max(buf.len() + HEADER + MAX_MESSAGE)
            .min((until - base) as usize);
        let have = buf.len();
        if want <= have {
            return Ok(base);
        }
        buf.resize(want, 0);
        let n = read_full(&mut file, &mut buf[have..])?;
        buf.truncate(have + n);
        eof = n == 0 || have + n < want;
    }
}

fn read_full(file: &mut File, mut out: &mut [u8]) -> io::Result<usize> {
    let mut total = 0;
    while !out.is_empty() {
        match file.read(out) {
            Ok(0) => break,
            Ok(n) => {
                total += n;
                out = &mut out[n..];
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// Reads a segment whole and cuts a torn tail off (after a crash mid-append), returning what it
/// holds.
pub fn repair(path: &Path) -> io::Result<Summary> {
    let len = std::fs::metadata(path)?.len();
    let mut s = Summary::default();
    let end = scan(path, 0, len, |r| {
        let end = r.offset + (HEADER + r.message.len()) as u64;
        s.add(r, end);
        true
    })?;
    if end < len {
        tracing::warn!(path = %path.display(), kept = end, len, "cutting a torn log segment tail");
        OpenOptions::new().write(true).open(path)?.set_len(end)?;
    }
    s.bytes = end;
    Ok(s)
}
