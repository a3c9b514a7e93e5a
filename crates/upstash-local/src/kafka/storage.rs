//! Partition logs in memory, mirrored to append-only files when a data directory is set.
//!
//! Layout under `<data_dir>/kafka/`:
//! - `topics/<name>/topic.json`: the topic's settings;
//! - `topics/<name>/<partition>.log`: one JSON record per line, in offset order;
//! - `offsets.log`: committed offsets, one JSON line per commit (compacted at start).
//!
//! Lines are written (not fsynced) before a request is answered, so they survive a restart
//! of the process; a torn last line is cut off at load time.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::KafkaTopicConfig;

/// A record header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Header {
    pub key: String,
    pub value: String,
}

/// One stored record.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    pub offset: i64,
    pub timestamp: i64,
    #[serde(default)]
    pub key: String,
    pub value: String,
    #[serde(default)]
    pub headers: Vec<Header>,
}

impl Record {
    /// Bytes counted against limits: key, value, header keys and values.
    pub(crate) fn size(&self) -> usize {
        self.key.len()
            + self.value.len()
            + self
                .headers
                .iter()
                .map(|h| h.key.len() + h.value.len())
                .sum::<usize>()
    }
}

/// One partition: records with dense offsets `start..next`.
#[derive(Debug)]
pub(crate) struct PartitionLog {
    /// Log start offset (the first retained record).
    pub start: i64,
    /// The next offset to be written (high watermark).
    pub next: i64,
    records: VecDeque<Record>,
    file: Option<File>,
}

impl PartitionLog {
    pub(crate) fn new(file: Option<File>) -> PartitionLog {
        PartitionLog {
            start: 0,
            next: 0,
            records: VecDeque::new(),
            file,
        }
    }

    /// A log holding `records` (consecutive offsets), appending to `file`.
    pub(crate) fn from_records(records: Vec<Record>, file: Option<File>) -> PartitionLog {
        let start = records.first().map_or(0, |r| r.offset);
        let next = start + records.len() as i64;
        PartitionLog {
            start,
            next,
            records: records.into(),
            file,
        }
    }

    /// Appends records (their offsets are assigned here) and writes them to the file.
    pub(crate) fn append(&mut self, mut recs: Vec<Record>) -> io::Result<Vec<i64>> {
        let mut offsets = Vec::with_capacity(recs.len());
        for r in &mut recs {
            r.offset = self.next + offsets.len() as i64;
            offsets.push(r.offset);
        }
        if let Some(f) = self.file.as_mut() {
            let mut buf = Vec::new();
            for r in &recs {
                serde_json::to_writer(&mut buf, r).map_err(io::Error::other)?;
                buf.push(b'\n');
            }
            f.write_all(&buf)?;
        }
        self.next += recs.len() as i64;
        self.records.extend(recs);
        Ok(offsets)
    }

    /// Records from `from` on (clamped to the log start), at most `max` of them and about
    /// `max_bytes` (at least one record when any is available).
    pub(crate) fn read(&self, from: i64, max: usize, max_bytes: usize) -> Vec<Record> {
        let from = from.max(self.start);
        if from >= self.next || max == 0 {
            return Vec::new();
        }
        let skip = usize::try_from(from - self.start).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut bytes = 0;
        for r in self.records.range(skip.min(self.records.len())..) {
            if out.len() >= max || (!out.is_empty() && bytes + r.size() > max_bytes) {
                break;
            }
            bytes += r.size();
            out.push(r.clone());
        }
        out
    }

    /// The first offset whose timestamp is at least `ts`, if any.
    pub(crate) fn offset_for_time(&self, ts: i64) -> Option<i64> {
        self.records
            .iter()
            .find(|r| r.timestamp >= ts)
            .map(|r| r.offset)
    }

    /// Drops leading records with a timestamp before `cutoff` (retention).
    pub(crate) fn trim_before(&mut self, cutoff: i64) {
        while self.records.front().is_some_and(|r| r.timestamp < cutoff) {
            self.records.pop_front();
            self.start += 1;
        }
    }
}

/// A committed offset or a topic deletion, as one line of `offsets.log`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum OffsetLine {
    /// `group` committed `offset` for `topic`/`partition`.
    Commit {
        group: String,
        topic: String,
        partition: u32,
        offset: i64,
    },
    /// The topic was deleted: forget its offsets.
    DeleteTopic { topic: String },
}

/// The data directory of the Kafka service.
#[derive(Debug)]
pub(crate) struct Disk {
    root: PathBuf,
    offsets: Option<File>,
}

impl Disk {
    pub(crate) fn open(data_dir: &Path) -> io::Result<Disk> {
        let root = data_dir.join("kafka");
        std::fs::create_dir_all(root.join("topics"))?;
        Ok(Disk {
            root,
            offsets: None,
        })
    }

    fn topic_dir(&self, name: &str) -> PathBuf {
        self.root.join("topics").join(name)
    }

    /// Settings of every stored topic.
    pub(crate) fn load_topics(&self) -> io::Result<Vec<KafkaTopicConfig>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.root.join("topics"))? {
            let path = entry?.path().join("topic.json");
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            match serde_json::from_slice::<KafkaTopicConfig>(&bytes) {
                Ok(c) => out.push(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping an unreadable kafka topic");
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Writes a topic's settings (creating its directory).
    pub(crate) fn save_topic(&self, cfg: &KafkaTopicConfig) -> io::Result<()> {
        let dir = self.topic_dir(&cfg.name);
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join("topic.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(cfg).map_err(io::Error::other)?)?;
        std::fs::rename(tmp, dir.join("topic.json"))
    }

    /// Removes a topic's directory.
    pub(crate) fn delete_topic(&self, name: &str) -> io::Result<()> {
        match std::fs::remove_dir_all(self.topic_dir(name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Reads a partition's records and opens its file for appending. A torn or invalid tail
    /// is cut off.
    pub(crate) fn open_partition(
        &self,
        topic: &str,
        partition: u32,
    ) -> io::Result<(Vec<Record>, File)> {
        let path = self.topic_dir(topic).join(format!("{partition}.log"));
        let mut records: Vec<Record> = Vec::new();
        let mut good_len: u64 = 0;
        let mut total_len: u64 = 0;
        if let Ok(f) = File::open(&path) {
            total_len = f.metadata()?.len();
            let mut reader = BufReader::new(f);
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = reader.read_until(b'\n', &mut line)?;
                if n == 0 || line.last() != Some(&b'\n') {
                    break;
                }
                let Ok(r) = serde_json::from_slice::<Record>(&line) else {
                    break;
                };
                let expected = records.last().map(|l| l.offset + 1);
                if expected.is_some_and(|e| e != r.offset) || r.offset < 0 {
                    break;
                }
                good_len += n as u64;
                records.push(r);
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        if good_len < total_len {
            tracing::warn!(path = %path.display(), "cutting off a torn kafka log tail");
            file.set_len(good_len)?;
        }
        Ok((records, file))
    }

    /// Reads every committed-offset line, then rewrites the file with `compacted` (called
    /// by the loader with the replayed state) and keeps it open for appending.
    pub(crate) fn read_offsets(&self) -> io::Result<Vec<OffsetLine>> {
        let path = self.root.join("offsets.log");
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for line in BufReader::new(f).lines() {
            let Ok(line) = line else { break };
            match serde_json::from_str::<OffsetLine>(&line) {
                Ok(l) => out.push(l),
                Err(_) => break,
            }
        }
        Ok(out)
    }

    /// Replaces `offsets.log` with `lines` and opens it for appending.
    pub(crate) fn rewrite_offsets(&mut self, lines: &[OffsetLine]) -> io::Result<()> {
        let path = self.root.join("offsets.log");
        let tmp = self.root.join("offsets.log.tmp");
        let mut buf = Vec::new();
        for l in lines {
            serde_json::to_writer(&mut buf, l).map_err(io::Error::other)?;
            buf.push(b'\n');
        }
        std::fs::write(&tmp, buf)?;
        std::fs::rename(&tmp, &path)?;
        self.offsets = Some(OpenOptions::new().append(true).open(&path)?);
        Ok(())
    }

    /// Appends offset lines.
    pub(crate) fn append_offsets(&mut self, lines: &[OffsetLine]) -> io::Result<()> {
        let Some(f) = self.offsets.as_mut() else {
            return Ok(());
        };
        let mut buf = Vec::new();
        for l in lines {
            serde_json::to_writer(&mut buf, l).map_err(io::Error::other)?;
            buf.push(b'\n');
        }
        f.write_all(&buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ts: i64, v: &str) -> Record {
        Record {
            offset: 0,
            timestamp: ts,
            key: String::new(),
            value: v.into(),
            headers: Vec::new(),
        }
    }

    #[test]
    fn read_caps_and_retention() {
        let mut log = PartitionLog::new(None);
        let offs = log
            .append(vec![rec(10, "a"), rec(20, "bb"), rec(30, "ccc")])
            .unwrap();
        assert_eq!(offs, vec![0, 1, 2]);
        assert_eq!(log.read(1, 10, 1 << 20).len(), 2);
        assert_eq!(log.read(0, 2, 1 << 20).len(), 2);
        // The byte cap still returns at least one record.
        assert_eq!(log.read(2, 10, 1).len(), 1);
        assert_eq!(log.read(0, 10, 3).len(), 2);
        assert!(log.read(3, 10, 1 << 20).is_empty());
        assert_eq!(log.offset_for_time(15), Some(1));
        assert_eq!(log.offset_for_time(31), None);
        log.trim_before(25);
        assert_eq!((log.start, log.next), (2, 3));
        assert_eq!(log.read(0, 10, 1 << 20)[0].value, "ccc");
    }

    #[test]
    fn torn_tail_is_cut_off() {
        let dir = std::env::temp_dir().join(format!("kafka-storage-{:016x}", fastrand::u64(..)));
        let disk = Disk::open(&dir).unwrap();
        disk.save_topic(&KafkaTopicConfig::new("t", 1)).unwrap();
        {
            let (recs, file) = disk.open_partition("t", 0).unwrap();
            assert!(recs.is_empty());
            let mut log = PartitionLog::from_records(recs, Some(file));
            log.append(vec![rec(1, "one"), rec(2, "two")]).unwrap();
        }
        let path = dir.join("kafka/topics/t/0.log");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"offset\":2,\"timest").unwrap();
        drop(f);
        let (recs, file) = disk.open_partition("t", 0).unwrap();
        assert_eq!(recs.len(), 2);
        let mut log = PartitionLog::from_records(recs, Some(file));
        assert_eq!(log.append(vec![rec(3, "three")]).unwrap(), vec![2]);
        let (recs, _) = disk.open_partition("t", 0).unwrap();
        assert_eq!(
            recs.iter().map(|r| r.value.as_str()).collect::<Vec<_>>(),
            ["one", "two", "three"]
        );
        assert_eq!(disk.load_topics().unwrap()[0].name, "t");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
