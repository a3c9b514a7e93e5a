//! upstash-ratelimit on a real Redis Cluster (three private redis-servers, every slot
//! covered; see `upstash_local::testing::redis_cluster`) through the `redis` crate's cluster
//! connection (feature `resp-cluster`).
//!
//! With hash-tagged keys every key of an identifier shares one slot, so every algorithm works
//! and decides exactly as on one server. Without them, a batch of fixed-window decisions on one
//! identifier shares one slot and runs as a batch; one spanning several identifiers is refused
//! with `CROSSSLOT` before it runs, and the store falls back to single runs for good.
#![allow(clippy::unwrap_used)]

use upstash_local::testing;
use upstash_ratelimit::redis;
use upstash_ratelimit::{Algorithm, ManualClock, Ratelimit, RespStore, Store};

use crate::ratelimit_common as common;

type ClusterStore = RespStore<redis::cluster_async::ClusterConnection>;

async fn cluster_store() -> ClusterStore {
    let client = redis::cluster::ClusterClient::new(testing::redis_cluster().urls()).unwrap();
    RespStore::new(client.get_async_connection().await.unwrap())
}

#[tokio::test]
async fn hash_tagged_keys_decide_on_a_cluster_as_on_one_server() {
    let store = cluster_store().await;
    for algo in [
        Algorithm::fixed_window(5, "1 h").unwrap(),
        Algorithm::sliding_window(5, "1 h").unwrap(),
        Algorithm::token_bucket(2, "1 h", 5).unwrap(),
        Algorithm::cached_fixed_window(5, "1 h").unwrap(),
    ] {
        let prefix = testing::prefix("rl-cluster");
        common::scenario_matches_memory(std::sync::Arc::new(store.clone()), algo, true, &prefix)
            .await;
    }
}

#[tokio::test]
async fn concurrent_calls_admit_exactly_the_limit_on_a_cluster() {
    let store = cluster_store().await;
    let prefix = testing::prefix("rl-cluster-conc");
    for (i, algo) in [
        Algorithm::fixed_window(20, "1 h").unwrap(),
        Algorithm::sliding_window(20, "1 h").unwrap(),
        Algorithm::token_bucket(1, "1 h", 20).unwrap(),
    ]
    .into_iter()
    .enumerate()
    {
        let rl = Ratelimit::builder(store.clone(), algo)
            .prefix(format!("{prefix}:{i}"))
            .hash_tagged_keys(true)
            .clock(ManualClock::new(common::scenario_start()))
            .timeout(None)
            .build()
            .unwrap();
        // 30 identifiers (their slots spread over the three nodes), 50 calls each, at once.
        let admitted = common::admitted_per_id(&rl, 1500, 30).await;
        assert_eq!(admitted, [20; 30], "{algo:?}");
    }
}

#[tokio::test]
async fn untagged_batches_fall_back_to_single_runs_on_a_cluster() {
    let store = cluster_store().await;
    assert!(store.batches());
    let rl = Ratelimit::builder(store.clone(), Algorithm::fixed_window(5, "1 h").unwrap())
        .prefix(testing::prefix("rl-cluster-untagged"))
        .clock(ManualClock::new(common::scenario_start()))
        .timeout(None)
        .build()
        .unwrap();
    // Rounds of concurrent calls on 40 identifiers until one batch spanned slots (the first
    // round almost surely does); every identifier must still admit exactly 5.
    let mut admitted = [0usize; 40];
    for _ in 0..4 {
        for (total, round) in admitted
            .iter_mut()
            .zip(common::admitted_per_id(&rl, 200, 40).await)
        {
            *total += round;
        }
        if !store.batches() {
            break;
        }
    }
    assert!(
        !store.batches(),
        "a batch over several slots was refused and batching turned off"
    );
    assert!(rl.metrics().batched > 0, "batches were tried first");
    assert_eq!(
        admitted, [5; 40],
        "each round brings 5 calls per identifier"
    );
    // Further calls go one by one and stay exact: every identifier is now at its limit.
    assert_eq!(common::admitted_per_id(&rl, 80, 40).await, [0; 40]);
}

#[tokio::test]
async fn a_batch_within_one_slot_runs_on_a_cluster() {
    // One identifier, fixed window: every call of a batch has the same key, so the batch
    // script runs on the node owning that slot and no CROSSSLOT arises.
    let store = cluster_store().await;
    let rl = Ratelimit::builder(store.clone(), Algorithm::fixed_window(100, "1 h").unwrap())
        .prefix(testing::prefix("rl-cluster-one-slot"))
        .clock(ManualClock::new(common::scenario_start()))
        .timeout(None)
        .build()
        .unwrap();
    assert_eq!(common::admitted_per_id(&rl, 1000, 1).await, [100]);
    assert!(rl.metrics().batched > 0, "decisions were batched");
    assert!(store.batches(), "no batch was refused");
}
