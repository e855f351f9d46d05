//! Forwards the board's system log to the server. On the kiosk the journal
//! lives in RAM (the SD card is spared), so a reboot would lose what a
//! technician needs; the player sends the warnings and worse of every unit
//! and the kernel (`POST /api/player/logs`) while it is online.
//!
//! A thread follows `journalctl --follow --output=json --priority=warning`
//! into a bounded buffer (the oldest entries go first when the server is
//! out of reach for long). The network side takes batches from it; the
//! journal cursor of the last entry the server accepted is kept in the data
//! directory, so a restarted player goes on after it instead of sending the
//! boot's log again.

use chrono::{DateTime, Utc};
use content::protocol::LogEntry;
use std::collections::VecDeque;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Entries held while the server is out of reach.
const CAPACITY: usize = 2000;
/// A journalctl that ends is started again after this long.
const RESTART: Duration = Duration::from_secs(10);

/// A journal entry with the cursor that finds it again.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub cursor: String,
    pub entry: LogEntry,
}

#[derive(Debug, Default)]
struct Buffer {
    entries: VecDeque<Entry>,
    /// Dropped for want of room since the last batch; told with the next.
    dropped: u64,
}

/// The follower's buffer, shared with the network side.
#[derive(Debug, Clone)]
pub struct Journal {
    buffer: Arc<Mutex<Buffer>>,
    cursor_file: PathBuf,
}

impl Journal {
    /// Starts following the journal (a thread of its own).
    pub fn start(data_dir: &Path) -> Journal {
        let journal = Journal {
            buffer: Arc::default(),
            cursor_file: data_dir.join("journal.cursor"),
        };
        let follower = journal.clone();
        let spawned = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || follower.follow());
        if let Err(e) = spawned {
            tracing::warn!("cannot start the journal thread: {e}");
        }
        journal
    }

    fn follow(&self) {
        let mut after = std::fs::read_to_string(&self.cursor_file)
            .ok()
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty());
        loop {
            let mut cmd = Command::new("journalctl");
            cmd.args([
                "--boot",
                "--follow",
                "--output=json",
                "--priority=warning",
                "--no-pager",
            ]);
            match &after {
                Some(cursor) => cmd.arg(format!("--after-cursor={cursor}")),
                None => cmd.arg("--lines=all"),
            };
            match cmd.stdin(Stdio::null()).stdout(Stdio::piped()).spawn() {
                Ok(mut child) => {
                    let out = child.stdout.take().expect("piped");
                    for line in std::io::BufReader::new(out).lines() {
                        let Ok(line) = line else { break };
                        if let Some(e) = parse(&line) {
                            after = Some(e.cursor.clone());
                            self.push(e);
                        }
                    }
                    let status = child.wait();
                    tracing::warn!("journalctl ended ({status:?}); again in {RESTART:?}");
                }
                Err(e) => tracing::warn!("cannot run journalctl: {e}; again in {RESTART:?}"),
            }
            std::thread::sleep(RESTART);
        }
    }

    fn push(&self, e: Entry) {
        let mut b = self.buffer.lock().expect("journal buffer");
        if b.entries.len() == CAPACITY {
            b.entries.pop_front();
            b.dropped += 1;
        }
        b.entries.push_back(e);
    }

    /// The oldest entries, up to a batch, with a note of any dropped ones.
    pub fn take(&self) -> Vec<Entry> {
        let mut b = self.buffer.lock().expect("journal buffer");
        let n = b.entries.len().min(LogEntry::MAX_BATCH - 1);
        let mut batch: Vec<Entry> = b.entries.drain(..n).collect();
        if b.dropped > 0 && !batch.is_empty() {
            let first = &batch[0];
            batch.insert(
                0,
                Entry {
                    cursor: first.cursor.clone(),
                    entry: LogEntry {
                        at: first.entry.at,
                        priority: 4,
                        source: "player".into(),
                        message: format!(
                            "{} journal entries before this one were dropped (no server)",
                            b.dropped
                        ),
                    },
                },
            );
            b.dropped = 0;
        }
        batch
    }

    /// A batch the server did not take goes back to the front.
    pub fn give_back(&self, batch: Vec<Entry>) {
        let mut b = self.buffer.lock().expect("journal buffer");
        for e in batch.into_iter().rev() {
            if b.entries.len() == CAPACITY {
                b.dropped += 1;
                continue;
            }
            b.entries.push_front(e);
        }
    }

    /// The server has everything up to `cursor`.
    pub fn accepted(&self, cursor: &str) {
        let tmp = self.cursor_file.with_extension("cursor.tmp");
        let saved =
            std::fs::write(&tmp, cursor).and_then(|()| std::fs::rename(&tmp, &self.cursor_file));
        if let Err(e) = saved {
            tracing::warn!("cannot keep the journal cursor: {e}");
        }
    }
}

/// One line of `journalctl --output=json`; `None` for anything else.
pub fn parse(line: &str) -> Option<Entry> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let cursor = v.get("__CURSOR")?.as_str()?.to_owned();
    let micros: i64 = v.get("__REALTIME_TIMESTAMP")?.as_str()?.parse().ok()?;
    let at = DateTime::<Utc>::from_timestamp_micros(micros)?;
    let priority = v
        .get("PRIORITY")
        .and_then(|p| p.as_str()?.parse::<u8>().ok())
        .filter(|p| *p <= 7)
        .unwrap_or(6);
    let source = ["SYSLOG_IDENTIFIER", "_SYSTEMD_UNIT", "_COMM"]
        .iter()
        .find_map(|k| v.get(*k)?.as_str())
        .unwrap_or("?");
    // journalctl gives a message that is not UTF-8 as an array of bytes.
    let message = match v.get("MESSAGE")? {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(bytes) => String::from_utf8_lossy(
            &bytes
                .iter()
                .filter_map(|b| u8::try_from(b.as_u64()?).ok())
                .collect::<Vec<u8>>(),
        )
        .into_owned(),
        _ => return None,
    };
    Some(Entry {
        cursor,
        entry: LogEntry {
            at,
            priority,
            source: cut(source, LogEntry::MAX_SOURCE_CHARS),
            message: cut(&message, LogEntry::MAX_MESSAGE_CHARS),
        },
    })
}

fn cut(s: &str, chars: usize) -> String {
    match s.char_indices().nth(chars) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(extra: &str) -> String {
        format!(
            r#"{{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1795000000123456","PRIORITY":"4",{extra}}}"#
        )
    }

    #[test]
    fn a_journal_line_becomes_an_entry() {
        let e = parse(&line(
            r#""SYSLOG_IDENTIFIER":"kernel","MESSAGE":"EXT4-fs (vda3): Warnung""#,
        ))
        .unwrap();
        assert_eq!(e.cursor, "s=1;i=2");
        assert_eq!(e.entry.priority, 4);
        assert_eq!(e.entry.source, "kernel");
        assert_eq!(e.entry.message, "EXT4-fs (vda3): Warnung");
        assert_eq!(e.entry.at.timestamp_micros(), 1_795_000_000_123_456);
    }

    #[test]
    fn byte_messages_long_messages_and_garbage() {
        let e = parse(&line(
            r#""_SYSTEMD_UNIT":"x.service","MESSAGE":[104,105,255]"#,
        ))
        .unwrap();
        assert_eq!(
            (e.entry.source.as_str(), e.entry.message.as_str()),
            ("x.service", "hi\u{fffd}")
        );
        let long = "ü".repeat(LogEntry::MAX_MESSAGE_CHARS + 5);
        let e = parse(&line(&format!(r#""MESSAGE":"{long}""#))).unwrap();
        assert_eq!(e.entry.message.chars().count(), LogEntry::MAX_MESSAGE_CHARS);
        assert_eq!(e.entry.source, "?");
        assert!(e.entry.problem().is_none());
        assert_eq!(parse("not json"), None);
        assert_eq!(parse(r#"{"MESSAGE":"no cursor"}"#), None);
        assert_eq!(parse(&line(r#""MESSAGE":{"x":1}"#)), None);
    }

    #[test]
    fn a_full_buffer_drops_the_oldest_and_says_so() {
        let j = Journal {
            buffer: Arc::default(),
            cursor_file: PathBuf::from("unused"),
        };
        let entry = |i: usize| Entry {
            cursor: format!("c{i}"),
            entry: parse(&line(&format!(r#""MESSAGE":"m{i}""#))).unwrap().entry,
        };
        for i in 0..CAPACITY + 3 {
            j.push(entry(i));
        }
        let batch = j.take();
        assert_eq!(batch.len(), LogEntry::MAX_BATCH);
        assert!(
            batch[0].entry.message.starts_with("3 journal entries"),
            "{:?}",
            batch[0]
        );
        assert_eq!(batch[1].entry.message, "m3");
        // Refused by the server: back in front, in order.
        j.give_back(batch[1..].to_vec());
        assert_eq!(j.take()[0].entry.message, "m3");
    }
}
