//! The broker state: topics with partition logs, consumer groups with instances, committed
//! offsets. Everything here is synchronous and runs under one lock.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::config::KafkaTopicConfig;
use super::partitioner::partition_for_key;
use super::storage::{Disk, Header, OffsetLine, PartitionLog, Record};
use super::KafkaErr;

/// Most records one fetch or consume answer carries.
pub(crate) const MAX_RECORDS: usize = 500;
/// About the most bytes one fetch or consume answer carries.
pub(crate) const MAX_BYTES: usize = 1024 * 1024;

/// `(topic, partition)`.
pub(crate) type Tp = (String, u32);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn io_err(e: std::io::Error) -> KafkaErr {
    tracing::error!(error = %e, "kafka storage error");
    KafkaErr::new(500, format!("storage error: {e}"))
}

/// A topic and its partitions.
#[derive(Debug)]
pub(crate) struct Topic {
    pub cfg: KafkaTopicConfig,
    pub parts: Vec<PartitionLog>,
    /// Next partition for a message with neither key nor partition (round-robin).
    rr: u32,
}

/// One message to produce, already checked for shape.
#[derive(Debug)]
pub(crate) struct NewMessage {
    pub topic: String,
    pub partition: Option<i64>,
    pub timestamp: Option<i64>,
    pub key: Option<String>,
    pub value: String,
    pub headers: Vec<Header>,
}

/// Where a produced message went.
#[derive(Debug, Serialize)]
pub(crate) struct Metadata {
    pub topic: String,
    pub partition: u32,
    pub offset: i64,
    pub timestamp: i64,
}

/// A message as fetch and consume return it.
#[derive(Debug, Serialize)]
pub(crate) struct OutMessage {
    pub topic: String,
    pub partition: u32,
    pub offset: i64,
    pub timestamp: i64,
    pub key: String,
    pub value: String,
    pub headers: Vec<Header>,
}

impl OutMessage {
    fn new(topic: &str, partition: u32, r: Record) -> OutMessage {
        OutMessage {
            topic: topic.to_string(),
            partition,
            offset: r.offset,
            timestamp: r.timestamp,
            key: r.key,
            value: r.value,
            headers: r.headers,
        }
    }
}

/// `Kafka-Auto-Offset-Reset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reset {
    Earliest,
    Latest,
    None,
}

/// Settings of a consumer instance, fixed by its first request.
#[derive(Clone, Debug)]
pub(crate) struct InstanceOpts {
    pub auto_commit: bool,
    pub auto_commit_interval: Duration,
    pub reset: Reset,
    pub session_timeout: Duration,
}

#[derive(Debug)]
struct Instance {
    opts: InstanceOpts,
    topics: Vec<String>,
    assigned: Vec<Tp>,
    positions: HashMap<Tp, i64>,
    last_seen: Instant,
    /// End of the long-poll in progress: an instance is not idle while it waits.
    busy_until: Instant,
    last_commit: Instant,
    /// Rotates the partition read first, so a busy partition cannot starve the others.
    cursor: usize,
}

#[derive(Debug, Default)]
struct Group {
    committed: BTreeMap<Tp, i64>,
    instances: BTreeMap<String, Instance>,
}

/// `/offsets/{ts}` target.
#[derive(Clone, Copy, Debug)]
pub(crate) enum OffsetSpec {
    Earliest,
    Latest,
    Time(i64),
}

/// `GET /consumers` item.
#[derive(Debug, Serialize)]
pub(crate) struct GroupAssignments {
    name: String,
    instances: Vec<InstanceAssignments>,
}

#[derive(Debug, Serialize)]
struct InstanceAssignments {
    name: String,
    topics: Vec<TopicAssignments>,
}

#[derive(Debug, Serialize)]
struct TopicAssignments {
    topic: String,
    partitions: Vec<u32>,
}

/// `{topic, partition, offset}`.
#[derive(Debug, Serialize)]
pub(crate) struct TopicPartitionOffset {
    pub topic: String,
    pub partition: u32,
    pub offset: i64,
}

/// Topics, groups, and the optional data directory.
#[derive(Debug)]
pub(crate) struct Broker {
    topics: BTreeMap<String, Topic>,
    groups: BTreeMap<String, Group>,
    disk: Option<Disk>,
}

fn unknown_topic(t: &str) -> KafkaErr {
    KafkaErr::new(404, format!("topic {t:?} does not exist"))
}

impl Broker {
    /// Opens the broker: stored topics and offsets (when `disk` is set), then the configured
    /// topics (created when missing; a larger partition count adds partitions).
    pub(crate) fn open(
        disk: Option<Disk>,
        configured: &[KafkaTopicConfig],
    ) -> Result<Broker, crate::Error> {
        let mut b = Broker {
            topics: BTreeMap::new(),
            groups: BTreeMap::new(),
            disk,
        };
        let stored = match &b.disk {
            Some(d) => d.load_topics()?,
            None => Vec::new(),
        };
        for cfg in stored {
            if cfg.check().is_err() {
                continue;
            }
            b.open_topic(cfg)?;
        }
        for cfg in configured {
            let mut cfg = cfg.clone();
            if let Some(t) = b.topics.get(&cfg.name) {
                if cfg.partitions < t.cfg.partitions {
                    tracing::warn!(topic = %cfg.name, stored = t.cfg.partitions, configured = cfg.partitions,
                        "kafka partitions cannot shrink; keeping the stored count");
                    cfg.partitions = t.cfg.partitions;
                }
            }
            if let Some(d) = &b.disk {
                d.save_topic(&cfg)?;
            }
            b.open_topic(cfg)?;
        }
        if let Some(d) = b.disk.as_mut() {
            let mut committed: BTreeMap<(String, String, u32), i64> = BTreeMap::new();
            for line in d.read_offsets()? {
                match line {
                    OffsetLine::Commit {
                        group,
                        topic,
                        partition,
                        offset,
                    } => {
                        committed.insert((group, topic, partition), offset);
                    }
                    OffsetLine::DeleteTopic { topic } => committed.retain(|k, _| k.1 != topic),
                }
            }
            committed.retain(|(_, t, p), _| b.topics.get(t).is_some_and(|t| *p < t.cfg.partitions));
            let lines: Vec<OffsetLine> = committed
                .into_iter()
                .map(|((group, topic, partition), offset)| OffsetLine::Commit {
                    group,
                    topic,
                    partition,
                    offset,
                })
                .collect();
            d.rewrite_offsets(&lines)?;
            for l in lines {
                if let OffsetLine::Commit {
                    group,
                    topic,
                    partition,
                    offset,
                } = l
                {
                    b.groups
                        .entry(group)
                        .or_default()
                        .committed
                        .insert((topic, partition), offset);
                }
            }
        }
        Ok(b)
    }

    /// Opens (or replaces the settings of) a topic, reading its partition files.
    fn open_topic(&mut self, cfg: KafkaTopicConfig) -> Result<(), std::io::Error> {
        let existing = self.topics.remove(&cfg.name);
        let mut parts = existing.map(|t| t.parts).unwrap_or_default();
        for p in parts.len() as u32..cfg.partitions {
            let log = match &self.disk {
                Some(d) => {
                    let (records, file) = d.open_partition(&cfg.name, p)?;
                    PartitionLog::from_records(records, Some(file))
                }
                None => PartitionLog::new(None),
            };
            parts.push(log);
        }
        let mut t = Topic { cfg, parts, rr: 0 };
        apply_retention(&mut t);
        self.topics.insert(t.cfg.name.clone(), t);
        Ok(())
    }

    /// Creates a topic; 409 when it exists.
    pub(crate) fn create_topic(&mut self, cfg: KafkaTopicConfig) -> Result<(), KafkaErr> {
        cfg.check().map_err(|m| KafkaErr::new(400, m))?;
        if self.topics.contains_key(&cfg.name) {
            return Err(KafkaErr::new(
                409,
                format!("topic {:?} already exists", cfg.name),
            ));
        }
        if let Some(d) = &self.disk {
            d.delete_topic(&cfg.name).map_err(io_err)?;
            d.save_topic(&cfg).map_err(io_err)?;
        }
        self.open_topic(cfg).map_err(io_err)?;
        self.rebalance_all();
        Ok(())
    }

    /// Deletes a topic, its data and its committed offsets.
    pub(crate) fn delete_topic(&mut self, name: &str) -> Result<(), KafkaErr> {
        if self.topics.remove(name).is_none() {
            return Err(unknown_topic(name));
        }
        for g in self.groups.values_mut() {
            g.committed.retain(|(t, _), _| t != name);
            for i in g.instances.values_mut() {
                i.positions.retain(|(t, _), _| t != name);
            }
        }
        if let Some(d) = self.disk.as_mut() {
            d.delete_topic(name).map_err(io_err)?;
            d.append_offsets(&[OffsetLine::DeleteTopic {
                topic: name.to_string(),
            }])
            .map_err(io_err)?;
        }
        self.rebalance_all();
        Ok(())
    }

    /// Topic name → partition count.
    pub(crate) fn topic_partitions(&self) -> BTreeMap<String, u32> {
        self.topics
            .iter()
            .map(|(n, t)| (n.clone(), t.cfg.partitions))
            .collect()
    }

    /// Settings and offsets of every topic (`GET /_local/kafka/topics`).
    pub(crate) fn describe_topics(&self) -> Vec<serde_json::Value> {
        self.topics
            .values()
            .map(|t| {
                serde_json::json!({
                    "name": t.cfg.name,
                    "partitions": t.cfg.partitions,
                    "retention_ms": t.cfg.retention_ms,
                    "max_message_size": t.cfg.max_message_size,
                    "offsets": t.parts.iter().enumerate().map(|(i, p)| serde_json::json!({
                        "partition": i, "earliest": p.start, "latest": p.next
                    })).collect::<Vec<_>>(),
                })
            })
            .collect()
    }

    fn topic(&self, name: &str) -> Result<&Topic, KafkaErr> {
        self.topics.get(name).ok_or_else(|| unknown_topic(name))
    }

    fn partition(&self, topic: &str, partition: i64) -> Result<&PartitionLog, KafkaErr> {
        let t = self.topic(topic)?;
        usize::try_from(partition)
            .ok()
            .and_then(|p| t.parts.get(p))
            .ok_or_else(|| bad_partition(t, partition))
    }

    /// Appends messages (all checked before any is written) and returns their metadata in
    /// request order.
    pub(crate) fn produce(&mut self, msgs: Vec<NewMessage>) -> Result<Vec<Metadata>, KafkaErr> {
        // Check everything first so a bad message rejects the whole request.
        for m in &msgs {
            let t = self.topic(&m.topic)?;
            if let Some(p) = m.partition {
                if p < 0 || p >= i64::from(t.cfg.partitions) {
                    return Err(bad_partition(t, p));
                }
            }
            if m.timestamp.is_some_and(|ts| ts < 0) {
                return Err(KafkaErr::new(400, "timestamp must not be negative"));
            }
            let size = m.key.as_ref().map_or(0, String::len)
                + m.value.len()
                + m.headers
                    .iter()
                    .map(|h| h.key.len() + h.value.len())
                    .sum::<usize>();
            if size > t.cfg.max_message_size {
                return Err(KafkaErr::new(
                    400,
                    format!(
                        "message of {size} bytes is larger than the max message size of topic {:?} ({} bytes)",
                        m.topic, t.cfg.max_message_size
                    ),
                ));
            }
        }
        let now = now_ms();
        let mut placed: Vec<(String, u32, i64)> = Vec::with_capacity(msgs.len());
        let mut batches: BTreeMap<(String, u32), Vec<(usize, Record)>> = BTreeMap::new();
        for (i, m) in msgs.into_iter().enumerate() {
            let t = self
                .topics
                .get_mut(&m.topic)
                .ok_or_else(|| unknown_topic(&m.topic))?;
            let n = t.cfg.partitions;
            let p = match (m.partition, &m.key) {
                (Some(p), _) => u32::try_from(p).unwrap_or(0),
                (None, Some(k)) => partition_for_key(k.as_bytes(), n),
                (None, None) => {
                    let p = t.rr % n;
                    t.rr = t.rr.wrapping_add(1);
                    p
                }
            };
            let ts = m.timestamp.unwrap_or(now);
            placed.push((m.topic.clone(), p, ts));
            batches.entry((m.topic, p)).or_default().push((
                i,
                Record {
                    offset: 0,
                    timestamp: ts,
                    key: m.key.unwrap_or_default(),
                    value: m.value,
                    headers: m.headers,
                },
            ));
        }
        let mut offsets = vec![0i64; placed.len()];
        for ((topic, p), recs) in batches {
            let Some(t) = self.topics.get_mut(&topic) else {
                continue;
            };
            let Some(log) = t.parts.get_mut(p as usize) else {
                continue;
            };
            let (idx, recs): (Vec<usize>, Vec<Record>) = recs.into_iter().unzip();
            let offs = log.append(recs).map_err(io_err)?;
            for (i, o) in idx.into_iter().zip(offs) {
                offsets[i] = o;
            }
            apply_retention(t);
        }
        Ok(placed
            .into_iter()
            .zip(offsets)
            .map(|((topic, partition, timestamp), offset)| Metadata {
                topic,
                partition,
                offset,
                timestamp,
            })
            .collect())
    }

    /// Records of one partition from `offset` on (inclusive).
    pub(crate) fn fetch(
        &self,
        topic: &str,
        partition: i64,
        offset: i64,
        max: usize,
    ) -> Result<Vec<OutMessage>, KafkaErr> {
        if offset < 0 {
            return Err(KafkaErr::new(400, "offset must not be negative"));
        }
        let log = self.partition(topic, partition)?;
        let p = u32::try_from(partition).unwrap_or(0);
        Ok(log
            .read(offset, max, MAX_BYTES)
            .into_iter()
            .map(|r| OutMessage::new(topic, p, r))
            .collect())
    }

    /// `/offsets/{ts}` for one partition.
    pub(crate) fn list_offset(
        &self,
        topic: &str,
        partition: i64,
        spec: OffsetSpec,
    ) -> Result<i64, KafkaErr> {
        let log = self.partition(topic, partition)?;
        Ok(match spec {
            OffsetSpec::Earliest => log.start,
            OffsetSpec::Latest => log.next,
            // Kafka's ListOffsets sentinels: -1 latest, -2 earliest.
            OffsetSpec::Time(-1) => log.next,
            OffsetSpec::Time(-2) => log.start,
            OffsetSpec::Time(ts) => log.offset_for_time(ts).unwrap_or(log.next),
        })
    }

    /// One consume call: joins (or refreshes) the instance, subscribes it to `topics`,
    /// auto-commits when due, and reads from its assigned partitions. Returns the messages
    /// and whether the group was rebalanced.
    pub(crate) fn consume(
        &mut self,
        group: &str,
        instance: &str,
        topics: &[String],
        opts: &InstanceOpts,
        now: Instant,
        poll_until: Instant,
    ) -> Result<(Vec<OutMessage>, bool), KafkaErr> {
        for t in topics {
            self.topic(t)?;
        }
        let g = self.groups.entry(group.to_string()).or_default();
        let mut changed = false;
        let inst = g.instances.entry(instance.to_string()).or_insert_with(|| {
            changed = true;
            Instance {
                opts: opts.clone(),
                topics: Vec::new(),
                assigned: Vec::new(),
                positions: HashMap::new(),
                last_seen: now,
                busy_until: poll_until,
                last_commit: now,
                cursor: 0,
            }
        });
        inst.last_seen = now;
        inst.busy_until = poll_until;
        let mut wanted: Vec<String> = topics.to_vec();
        wanted.sort();
        wanted.dedup();
        if inst.topics != wanted {
            inst.topics = wanted;
            changed = true;
        }
        if changed {
            self.rebalance(group)?;
        }
        // Auto-commit what earlier calls returned.
        let due = self
            .groups
            .get(group)
            .and_then(|g| g.instances.get(instance))
            .is_some_and(|i| {
                i.opts.auto_commit
                    && now.duration_since(i.last_commit) >= i.opts.auto_commit_interval
            });
        if due {
            self.commit_positions(group, instance)?;
            if let Some(i) = self
                .groups
                .get_mut(group)
                .and_then(|g| g.instances.get_mut(instance))
            {
                i.last_commit = now;
            }
        }
        let msgs = self.read_assigned(group, instance)?;
        Ok((msgs, changed))
    }

    /// Marks the end of a consume request: the session timeout runs from now.
    pub(crate) fn poll_done(&mut self, group: &str, instance: &str, now: Instant) {
        if let Some(i) = self
            .groups
            .get_mut(group)
            .and_then(|g| g.instances.get_mut(instance))
        {
            i.last_seen = now;
            i.busy_until = now;
        }
    }

    fn read_assigned(&mut self, group: &str, instance: &str) -> Result<Vec<OutMessage>, KafkaErr> {
        let Some(g) = self.groups.get_mut(group) else {
            return Ok(Vec::new());
        };
        let Some(inst) = g.instances.get_mut(instance) else {
            return Ok(Vec::new());
        };
        let n = inst.assigned.len();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        if n == 0 {
            return Ok(out);
        }
        let first = inst.cursor % n;
        inst.cursor = inst.cursor.wrapping_add(1);
        for k in 0..n {
            let tp = inst.assigned[(first + k) % n].clone();
            let Some(log) = self
                .topics
                .get(&tp.0)
                .and_then(|t| t.parts.get(tp.1 as usize))
            else {
                continue;
            };
            let pos = match inst.positions.get(&tp) {
                Some(p) => *p,
                None => {
                    let start = match g.committed.get(&tp) {
                        Some(&c) if c >= 0 => c.clamp(log.start, log.next),
                        _ => match inst.opts.reset {
                            Reset::Earliest => log.start,
                            Reset::Latest => log.next,
                            Reset::None => {
                                return Err(KafkaErr::new(
                                    400,
                                    format!(
                                        "no committed offset for partition {} of topic {:?} and Kafka-Auto-Offset-Reset is none",
                                        tp.1, tp.0
                                    ),
                                ))
                            }
                        },
                    };
                    inst.positions.insert(tp.clone(), start);
                    start
                }
            };
            // A position behind the log start (retention) moves up to it.
            let pos = pos.max(log.start);
            if out.len() >= MAX_RECORDS || bytes >= MAX_BYTES {
                inst.positions.insert(tp, pos);
                continue;
            }
            let recs = log.read(pos, MAX_RECORDS - out.len(), MAX_BYTES - bytes);
            let next = recs.last().map_or(pos, |r| r.offset + 1);
            for r in recs {
                bytes += r.size();
                out.push(OutMessage::new(&tp.0, tp.1, r));
            }
            inst.positions.insert(tp, next);
        }
        Ok(out)
    }

    /// Stores the instance's current positions as the group's committed offsets.
    fn commit_positions(&mut self, group: &str, instance: &str) -> Result<(), KafkaErr> {
        let Some(g) = self.groups.get(group) else {
            return Ok(());
        };
        let Some(i) = g.instances.get(instance) else {
            return Ok(());
        };
        let list: Vec<(Tp, i64)> = i.positions.iter().map(|(k, v)| (k.clone(), *v)).collect();
        self.store_commits(group, list)
    }

    fn store_commits(&mut self, group: &str, list: Vec<(Tp, i64)>) -> Result<(), KafkaErr> {
        if list.is_empty() {
            return Ok(());
        }
        let g = self.groups.entry(group.to_string()).or_default();
        let mut lines = Vec::with_capacity(list.len());
        for ((topic, partition), offset) in list {
            if g.committed.get(&(topic.clone(), partition)) == Some(&offset) {
                continue;
            }
            g.committed.insert((topic.clone(), partition), offset);
            lines.push(OffsetLine::Commit {
                group: group.to_string(),
                topic,
                partition,
                offset,
            });
        }
        if let Some(d) = self.disk.as_mut() {
            d.append_offsets(&lines).map_err(io_err)?;
        }
        Ok(())
    }

    /// `/commit/{group}/{instance}`: the given offsets, or (when `None`) the instance's
    /// current positions.
    pub(crate) fn commit(
        &mut self,
        group: &str,
        instance: &str,
        offsets: Option<Vec<(String, i64, i64)>>,
    ) -> Result<(), KafkaErr> {
        match offsets {
            None => {
                let known = self
                    .groups
                    .get(group)
                    .is_some_and(|g| g.instances.contains_key(instance));
                if !known {
                    return Err(unknown_instance(group, instance));
                }
                self.commit_positions(group, instance)
            }
            Some(list) => {
                let mut checked = Vec::with_capacity(list.len());
                for (topic, partition, offset) in list {
                    self.partition(&topic, partition)?;
                    if offset < 0 {
                        return Err(KafkaErr::new(400, "offset must not be negative"));
                    }
                    checked.push(((topic, u32::try_from(partition).unwrap_or(0)), offset));
                }
                self.store_commits(group, checked)
            }
        }
    }

    /// `/committed/{group}/{instance}`: stored offsets, `-1` when none.
    pub(crate) fn committed(
        &self,
        group: &str,
        tps: Vec<(String, i64)>,
    ) -> Result<Vec<TopicPartitionOffset>, KafkaErr> {
        let mut out = Vec::with_capacity(tps.len());
        for (topic, partition) in tps {
            self.partition(&topic, partition)?;
            let p = u32::try_from(partition).unwrap_or(0);
            let offset = self
                .groups
                .get(group)
                .and_then(|g| g.committed.get(&(topic.clone(), p)))
                .copied()
                .unwrap_or(-1);
            out.push(TopicPartitionOffset {
                topic,
                partition: p,
                offset,
            });
        }
        Ok(out)
    }

    /// Stops and removes an instance (auto-commit instances commit first).
    pub(crate) fn remove_instance(&mut self, group: &str, instance: &str) -> Result<(), KafkaErr> {
        let auto = self
            .groups
            .get(group)
            .and_then(|g| g.instances.get(instance))
            .map(|i| i.opts.auto_commit)
            .ok_or_else(|| unknown_instance(group, instance))?;
        if auto {
            self.commit_positions(group, instance)?;
        }
        if let Some(g) = self.groups.get_mut(group) {
            g.instances.remove(instance);
        }
        self.rebalance(group)
    }

    /// Removes instances idle longer than their session timeout; true when any was.
    pub(crate) fn expire(&mut self, now: Instant) -> bool {
        let mut dead: Vec<(String, String)> = Vec::new();
        for (gn, g) in &self.groups {
            for (iname, i) in &g.instances {
                let seen = i.last_seen.max(i.busy_until);
                if now.saturating_duration_since(seen) > i.opts.session_timeout {
                    dead.push((gn.clone(), iname.clone()));
                }
            }
        }
        for (g, i) in &dead {
            tracing::debug!(group = %g, instance = %i, "kafka consumer instance expired");
            if let Err(e) = self.remove_instance(g, i) {
                tracing::warn!(error = %e.msg, "expiring a kafka consumer instance");
            }
        }
        !dead.is_empty()
    }

    /// `GET /consumers`: groups with at least one instance, with assignments.
    pub(crate) fn consumers(&self) -> Vec<GroupAssignments> {
        self.groups
            .iter()
            .filter(|(_, g)| !g.instances.is_empty())
            .map(|(name, g)| GroupAssignments {
                name: name.clone(),
                instances: g
                    .instances
                    .iter()
                    .map(|(iname, i)| {
                        let mut by_topic: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
                        for t in &i.topics {
                            by_topic.entry(t).or_default();
                        }
                        for (t, p) in &i.assigned {
                            by_topic.entry(t).or_default().push(*p);
                        }
                        InstanceAssignments {
                            name: iname.clone(),
                            topics: by_topic
                                .into_iter()
                                .map(|(t, mut ps)| {
                                    ps.sort_unstable();
                                    TopicAssignments {
                                        topic: t.to_string(),
                                        partitions: ps,
                                    }
                                })
                                .collect(),
                        }
                    })
                    .collect(),
            })
            .collect()
    }

    fn rebalance_all(&mut self) {
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for g in names {
            if let Err(e) = self.rebalance(&g) {
                tracing::warn!(group = %g, error = %e.msg, "kafka rebalance");
            }
        }
    }

    /// Range-assigns every subscribed topic's partitions over the group's instances (sorted
    /// by name, like Kafka's RangeAssignor). Partitions that move are committed first when
    /// their owner auto-commits, and their positions are dropped.
    fn rebalance(&mut self, group: &str) -> Result<(), KafkaErr> {
        let Some(g) = self.groups.get(group) else {
            return Ok(());
        };
        let mut new: BTreeMap<String, Vec<Tp>> = g
            .instances
            .keys()
            .map(|k| (k.clone(), Vec::new()))
            .collect();
        let mut subscribed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (iname, i) in &g.instances {
            for t in &i.topics {
                subscribed.entry(t).or_default().push(iname);
            }
        }
        for (topic, members) in subscribed {
            let Some(t) = self.topics.get(topic) else {
                continue;
            };
            let n = t.cfg.partitions as usize;
            let c = members.len();
            let (per, extra) = (n / c, n % c);
            let mut p = 0usize;
            for (idx, m) in members.iter().enumerate() {
                let count = per + usize::from(idx < extra);
                if let Some(list) = new.get_mut(*m) {
                    for q in p..p + count {
                        list.push((topic.to_string(), q as u32));
                    }
                }
                p += count;
            }
        }
        let mut revoked_commits: Vec<(Tp, i64)> = Vec::new();
        if let Some(g) = self.groups.get_mut(group) {
            for (iname, i) in g.instances.iter_mut() {
                let assigned = new.remove(iname).unwrap_or_default();
                let lost: Vec<Tp> = i
                    .positions
                    .keys()
                    .filter(|tp| !assigned.contains(tp))
                    .cloned()
                    .collect();
                for tp in lost {
                    if let Some(pos) = i.positions.remove(&tp) {
                        if i.opts.auto_commit {
                            revoked_commits.push((tp, pos));
                        }
                    }
                }
                i.assigned = assigned;
            }
        }
        self.store_commits(group, revoked_commits)
    }
}

fn unknown_instance(group: &str, instance: &str) -> KafkaErr {
    KafkaErr::new(
        404,
        format!("consumer instance {instance:?} of group {group:?} does not exist"),
    )
}

fn bad_partition(t: &Topic, partition: i64) -> KafkaErr {
    KafkaErr::new(
        400,
        format!(
            "partition {partition} does not exist in topic {:?} ({} partitions)",
            t.cfg.name, t.cfg.partitions
        ),
    )
}

fn apply_retention(t: &mut Topic) {
    if let Some(ms) = t.cfg.retention_ms {
        let cutoff = now_ms().saturating_sub(i64::try_from(ms).unwrap_or(i64::MAX));
        for p in &mut t.parts {
            p.trim_before(cutoff);
        }
    }
}
