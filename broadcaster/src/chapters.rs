//! The chapter sidecar log: one JSON line per [`ChapterEvent`], appended and
//! `fdatasync`ed the moment it happens, so a crash (or power cut) loses no chapter.
//! Reading tolerates a torn last line, the only damage an append-only log can take.

use content::broadcast::{Chapter, ChapterEvent, ChapterKind};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct ChapterLog {
    file: File,
    path: PathBuf,
}

impl ChapterLog {
    /// Opens (or creates) the log for appending; a resumed recording keeps its events.
    pub fn open(path: &Path) -> std::io::Result<ChapterLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(ChapterLog {
            file,
            path: path.to_owned(),
        })
    }

    pub fn append(&mut self, event: &ChapterEvent) -> std::io::Result<()> {
        let mut line = serde_json::to_string(event).expect("chapter events serialise");
        line.push('\n');
        // One write call per line, so a crash leaves whole lines and at most a torn tail.
        self.file.write_all(line.as_bytes())?;
        self.file.sync_data()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Every event in the log; a line that does not parse ends the reading (a torn
/// last write), and is reported in the second value.
pub fn read(path: &Path) -> std::io::Result<(Vec<ChapterEvent>, Option<String>)> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), None)),
        Err(e) => return Err(e),
    };
    let mut events = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(e) => events.push(e),
            Err(e) => return Ok((events, Some(format!("line {}: {e}", n + 1)))),
        }
    }
    Ok((events, None))
}

/// The agenda chapters: each item event starts a chapter that ends where the next
/// begins (or at `duration_ms`). Going back to an item makes a second chapter for
/// it, which is what happened in the room.
pub fn agenda_chapters(events: &[ChapterEvent], duration_ms: u64) -> Vec<Chapter> {
    let mut chapters: Vec<Chapter> = Vec::new();
    for e in events {
        if let ChapterKind::Item {
            number,
            title,
            public,
        } = &e.kind
        {
            let start = e.offset_ms.min(duration_ms);
            if let Some(last) = chapters.last_mut() {
                last.end_ms = start;
            }
            chapters.push(Chapter {
                number: number.clone(),
                title: title.clone(),
                public: *public,
                start_ms: start,
                end_ms: duration_ms,
            });
        }
    }
    chapters.retain(|c| c.end_ms > c.start_ms);
    chapters
}

/// WebVTT chapters (`kind="chapters"` track): "TOP 3: Haushalt".
pub fn webvtt(chapters: &[Chapter]) -> String {
    let mut out = String::from("WEBVTT\n");
    for (i, c) in chapters.iter().enumerate() {
        out.push_str(&format!(
            "\n{}\n{} --> {}\nTOP {}: {}\n",
            i + 1,
            vtt_time(c.start_ms),
            vtt_time(c.end_ms),
            c.number,
            // A cue's text ends at a blank line; titles never span lines here.
            c.title.replace('\n', " ")
        ));
    }
    out
}

fn vtt_time(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn item(offset_ms: u64, number: &str) -> ChapterEvent {
        ChapterEvent {
            meeting_id: "m".into(),
            offset_ms,
            at: DateTime::UNIX_EPOCH,
            kind: ChapterKind::Item {
                number: number.into(),
                title: format!("Punkt {number}"),
                public: true,
            },
        }
    }

    #[test]
    fn a_torn_last_line_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chapters.jsonl");
        let mut log = ChapterLog::open(&path).unwrap();
        log.append(&item(0, "1")).unwrap();
        log.append(&item(5000, "2")).unwrap();
        drop(log);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"meeting_id\":\"m\",\"offs").unwrap();
        let (events, torn) = read(&path).unwrap();
        assert_eq!(events.len(), 2);
        assert!(torn.unwrap().starts_with("line 3"));
    }

    #[test]
    fn chapters_end_where_the_next_begins() {
        let events = [item(0, "1"), item(61_500, "2")];
        let chapters = agenda_chapters(&events, 3_723_004);
        assert_eq!(chapters[0].end_ms, 61_500);
        assert_eq!(chapters[1].end_ms, 3_723_004);
        let vtt = webvtt(&chapters);
        assert!(vtt.starts_with("WEBVTT\n\n1\n00:00:00.000 --> 00:01:01.500\nTOP 1: Punkt 1\n"));
        assert!(vtt.contains("00:01:01.500 --> 01:02:03.004"));
    }
}
