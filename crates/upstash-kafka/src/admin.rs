//! The [`Admin`] API: topics, partitions, offsets, consumer groups and lag.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use upstash_core::http::Method;
use upstash_core::Request;

use crate::client::{check_name, json_request, path};
use crate::{
    Error, GroupAssignments, Kafka, OffsetSpec, PartitionLag, Result, TopicPartition,
    TopicPartitionOffset,
};

/// Cluster metadata and consumer-group administration. From [`Kafka::admin`]; cheap to clone.
///
/// The REST API has no endpoint to create or delete topics (Upstash does that through its
/// developer API, `upstash-local` through its config); lag is computed here from the latest
/// and committed offsets.
///
/// ```no_run
/// # async fn demo(kafka: upstash_kafka::Kafka) -> upstash_kafka::Result<()> {
/// use upstash_kafka::OffsetSpec;
/// let admin = kafka.admin();
/// for (topic, partitions) in admin.topics().await? {
///     let ends = admin.offsets(OffsetSpec::Latest, &admin.partitions(&topic).await?).await?;
///     println!("{topic}: {partitions} partitions, ends {ends:?}");
/// }
/// for lag in admin.group_lag("billing").await? {
///     println!("{}/{}: {} behind", lag.topic, lag.partition, lag.lag);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Admin {
    pub(crate) kafka: Kafka,
}

impl Admin {
    /// Every topic with its number of partitions (`GET /topics`).
    pub async fn topics(&self) -> Result<BTreeMap<String, i32>> {
        self.kafka
            .call(Request::new(Method::GET, path(&["topics"])).idempotent(true))
            .await
    }

    /// The partitions of `topic`; [`Error::InvalidInput`] when the topic does not exist.
    pub async fn partitions(&self, topic: &str) -> Result<Vec<TopicPartition>> {
        check_name("topic", topic)?;
        let topics = self.topics().await?;
        let count = topics
            .get(topic)
            .copied()
            .ok_or_else(|| Error::InvalidInput(format!("topic {topic:?} does not exist")))?;
        Ok((0..count).map(|p| TopicPartition::new(topic, p)).collect())
    }

    /// Consumer groups, their instances and assignments, as known to the REST server
    /// (`GET /consumers`).
    pub async fn consumers(&self) -> Result<Vec<GroupAssignments>> {
        self.kafka
            .call(Request::new(Method::GET, path(&["consumers"])).idempotent(true))
            .await
    }

    /// Stops and removes a consumer instance (same as [`crate::Consumer::remove_instance`]).
    pub async fn remove_consumer_instance(&self, group: &str, instance: &str) -> Result<()> {
        self.kafka.consumer().remove_instance(group, instance).await
    }

    /// The group's committed offsets on `partitions`, read through one of its instances.
    pub async fn committed_offsets(
        &self,
        group: &str,
        instance: &str,
        partitions: &[TopicPartition],
    ) -> Result<Vec<TopicPartitionOffset>> {
        self.kafka
            .consumer()
            .committed(group, instance, partitions)
            .await
    }

    /// Offsets of `partitions` at `spec` (`POST /offsets/{earliest|latest|millis}`).
    pub async fn offsets(
        &self,
        spec: OffsetSpec,
        partitions: &[TopicPartition],
    ) -> Result<Vec<TopicPartitionOffset>> {
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        for p in partitions {
            check_name("topic", &p.topic)?;
        }
        let req = json_request(path(&["offsets", &spec.segment()]), &partitions)?.idempotent(true);
        self.kafka.call(req).await
    }

    /// The first offset still stored on each partition.
    pub async fn earliest_offsets(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<Vec<TopicPartitionOffset>> {
        self.offsets(OffsetSpec::Earliest, partitions).await
    }

    /// The next offset to be written on each partition.
    pub async fn latest_offsets(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<Vec<TopicPartitionOffset>> {
        self.offsets(OffsetSpec::Latest, partitions).await
    }

    /// The first offset at or after `millis` (unix ms) on each partition.
    pub async fn offsets_for_time(
        &self,
        millis: i64,
        partitions: &[TopicPartition],
    ) -> Result<Vec<TopicPartitionOffset>> {
        self.offsets(OffsetSpec::Timestamp(millis), partitions)
            .await
    }

    /// The group's lag on `partitions`, read through instance `instance`: latest offset minus
    /// committed offset (minus the earliest offset where nothing was committed).
    pub async fn lag(
        &self,
        group: &str,
        instance: &str,
        partitions: &[TopicPartition],
    ) -> Result<Vec<PartitionLag>> {
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        let (committed, latest, earliest) = tokio::try_join!(
            self.committed_offsets(group, instance, partitions),
            self.latest_offsets(partitions),
            self.earliest_offsets(partitions),
        )?;
        Ok(compute_lag(partitions, &committed, &latest, &earliest))
    }

    /// The lag of every partition assigned to `group`'s instances (from [`Admin::consumers`]);
    /// empty when the REST server knows no instance of the group.
    pub async fn group_lag(&self, group: &str) -> Result<Vec<PartitionLag>> {
        let groups = self.consumers().await?;
        let Some(g) = groups.into_iter().find(|g| g.name == group) else {
            return Ok(Vec::new());
        };
        let Some(first) = g.instances.first() else {
            return Ok(Vec::new());
        };
        let mut partitions = BTreeSet::new();
        for i in &g.instances {
            for t in &i.topics {
                for p in &t.partitions {
                    partitions.insert(TopicPartition::new(t.topic.clone(), *p));
                }
            }
        }
        let partitions: Vec<TopicPartition> = partitions.into_iter().collect();
        self.lag(group, &first.name, &partitions).await
    }
}

fn compute_lag(
    partitions: &[TopicPartition],
    committed: &[TopicPartitionOffset],
    latest: &[TopicPartitionOffset],
    earliest: &[TopicPartitionOffset],
) -> Vec<PartitionLag> {
    let index = |list: &[TopicPartitionOffset]| -> HashMap<TopicPartition, i64> {
        list.iter()
            .map(|o| (o.topic_partition(), o.offset))
            .collect()
    };
    let (committed, latest, earliest) = (index(committed), index(latest), index(earliest));
    partitions
        .iter()
        .map(|tp| {
            let end = latest.get(tp).copied().unwrap_or(0);
            let start = earliest.get(tp).copied().unwrap_or(0);
            let done = committed.get(tp).copied().filter(|o| *o >= 0);
            let from = done.unwrap_or(start);
            PartitionLag {
                topic: tp.topic.clone(),
                partition: tp.partition,
                committed: done,
                latest: end,
                lag: end.saturating_sub(from).max(0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_uses_committed_else_earliest() {
        let tps = [TopicPartition::new("t", 0), TopicPartition::new("t", 1)];
        let committed = [
            TopicPartitionOffset::new("t", 0, 4),
            TopicPartitionOffset::new("t", 1, -1),
        ];
        let latest = [
            TopicPartitionOffset::new("t", 0, 10),
            TopicPartitionOffset::new("t", 1, 7),
        ];
        let earliest = [
            TopicPartitionOffset::new("t", 0, 0),
            TopicPartitionOffset::new("t", 1, 2),
        ];
        let lag = compute_lag(&tps, &committed, &latest, &earliest);
        assert_eq!(lag[0].lag, 6);
        assert_eq!(lag[0].committed, Some(4));
        assert_eq!(lag[1].lag, 5);
        assert_eq!(lag[1].committed, None);
    }

    #[test]
    fn offset_spec_segments() {
        assert_eq!(OffsetSpec::Earliest.segment(), "earliest");
        assert_eq!(OffsetSpec::Latest.segment(), "latest");
        assert_eq!(
            OffsetSpec::Timestamp(1642591892000).segment(),
            "1642591892000"
        );
    }

    #[test]
    fn assignments_decode() {
        let body = r#"[{"name":"mygroup","instances":[{"name":"myconsumer","topics":[{"topic":"mytopic","partitions":[0,1]}]}]}]"#;
        let g: Vec<GroupAssignments> =
            crate::client::decode_body(body.as_bytes()).unwrap_or_default();
        assert_eq!(g[0].instances[0].topics[0].partitions, vec![0, 1]);
        let topics: BTreeMap<String, i32> =
            crate::client::decode_body(br#"{"cities":12,"greetings":1}"#).unwrap_or_default();
        assert_eq!(topics.get("cities"), Some(&12));
    }
}
