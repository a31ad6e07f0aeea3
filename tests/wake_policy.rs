//! The wake policies (issue #11): each keeps Python's pool behaviour, and none leaves a worker
//! spinning once the pool is idle. What each costs and gains is measured by the harness
//! (`docs/sleep.md`, "Wake policies"), not here.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{ThreadPoolExecutor, WakePolicy, as_completed};
use std::thread;

const POLICIES: [WakePolicy; 3] = [
    WakePolicy::Latency,
    WakePolicy::Balanced,
    WakePolicy::Efficiency,
];

fn pool(n: usize, policy: WakePolicy) -> ThreadPoolExecutor {
    ThreadPoolExecutor::builder()
        .max_workers(n)
        .wake_policy(policy)
        .build()
        .unwrap()
}

#[test]
fn the_default_policy_is_balanced_and_the_pool_shows_its_policy() {
    let p = ThreadPoolExecutor::new(2).unwrap();
    assert_eq!(p.wake_policy(), WakePolicy::Balanced);
    assert_eq!(WakePolicy::default(), WakePolicy::Balanced);
    let e = pool(1, WakePolicy::Efficiency);
    assert!(
        format!("{e:?}").contains("wake_policy: Efficiency"),
        "{e:?}"
    );
    let b = ThreadPoolExecutor::builder().wake_policy(WakePolicy::Latency);
    assert!(format!("{b:?}").contains("wake_policy: Latency"), "{b:?}");
}

/// CPython's `test_idle_thread_reuse`, under every policy: sequential submit-and-wait calls
/// use one thread, whether the worker spins or sleeps between them.
#[test]
fn every_policy_reuses_the_idle_thread() {
    for policy in POLICIES {
        let p = pool(4, policy);
        for i in 0..200u32 {
            assert_eq!(*p.submit(move || i * 2).unwrap().result().unwrap(), i * 2);
        }
        assert_eq!(p.threads_started(), 1, "{policy:?}");
    }
}

/// An idle pool's workers end up asleep, not spinning, under every policy, also after a
/// `Balanced` worker learned to spin fully (a burst of back-to-back round trips).
#[test]
fn every_policy_lets_an_idle_pool_sleep() {
    for policy in POLICIES {
        let p = pool(2, policy);
        for i in 0..1000u64 {
            p.submit(move || i).unwrap().result().unwrap();
        }
        let futs: Vec<_> = (0..100u64).map(|i| p.submit(move || i).unwrap()).collect();
        assert_eq!(as_completed(&futs).count(), 100);
        let started = p.threads_started();
        until("every started worker is asleep", || {
            p.idle_counts() == (0, started)
        });
    }
}

/// A `Balanced` worker that has stopped spinning (tasks far apart) still takes every task
/// and still wakes for the next one, also when tasks then come back to back.
#[test]
fn balanced_keeps_up_when_the_pace_changes() {
    let p = pool(1, WakePolicy::Balanced);
    let tid = p
        .submit(|| thread::current().id())
        .unwrap()
        .result()
        .unwrap()
        .to_owned();
    for i in 0..30u64 {
        // Far apart: the worker sleeps between tasks, and its spin shrinks.
        until("the worker is asleep", || p.idle_counts() == (0, 1));
        assert_eq!(*p.submit(move || i).unwrap().result().unwrap(), i);
    }
    for i in 0..2000u64 {
        assert_eq!(*p.submit(move || i).unwrap().result().unwrap(), i);
    }
    let same = p.submit(|| thread::current().id()).unwrap();
    assert_eq!(*same.result().unwrap(), tid);
    assert_eq!(p.threads_started(), 1);
}
