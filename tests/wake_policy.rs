//! The wake policies (issue #11): each keeps Python's pool behaviour, and none leaves a worker
//! spinning once the pool is idle. What each costs and gains is measured by the harness
//! (`docs/sleep.md`, "Wake policies"), not here.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{ThreadPoolExecutor, WakePolicy, as_completed};
use std::thread;
use std::time::Duration;

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

fn has_a_second_cpu() -> bool {
    thread::available_parallelism().map_or(1, |n| n.get()) > 1
}

/// What each policy does shows in the pool's spin counts: `Efficiency` never spins,
/// `Latency` spins whenever it finds the queue empty.
#[test]
fn efficiency_never_spins_and_latency_spins_after_every_task() {
    let (e, l) = (
        pool(1, WakePolicy::Efficiency),
        pool(1, WakePolicy::Latency),
    );
    for i in 0..2000u64 {
        l.submit(move || i).unwrap().result().unwrap();
    }
    for i in 0..2000u64 {
        e.submit(move || i).unwrap().result().unwrap();
    }
    let (me, ml) = (e.metrics(), l.metrics());
    assert_eq!((me.spins_caught, me.spins_missed), (0, 0), "{me}");
    if has_a_second_cpu() {
        // Caught or missed depends on how busy the machine is; that it spun does not.
        assert!(ml.spins_caught + ml.spins_missed > 0, "{ml}");
    } else {
        assert_eq!(
            (ml.spins_caught, ml.spins_missed),
            (0, 0),
            "no spin on one CPU: {ml}"
        );
    }
}

/// A `Balanced` worker whose spins go unanswered (tasks far apart) stops spinning: each
/// miss halves the next spin, so 30 far-apart tasks cost at most a dozen missed spins,
/// where `Latency` misses every time. It still takes every task and wakes for the next
/// one, also when tasks then come back to back.
#[test]
fn balanced_keeps_up_when_the_pace_changes() {
    let p = pool(1, WakePolicy::Balanced);
    let l = pool(1, WakePolicy::Latency);
    l.submit(|| ()).unwrap().result().unwrap(); // its worker started
    let tid = p
        .submit(|| thread::current().id())
        .unwrap()
        .result()
        .unwrap()
        .to_owned();
    for i in 0..30u64 {
        // Far apart: each task comes a millisecond after the worker fell asleep, much later
        // than any spin lasts (the pace is the scenario, not a synchronization: the
        // worker's state is probed first).
        until("the worker is asleep", || p.idle_counts() == (0, 1));
        thread::sleep(Duration::from_millis(1));
        assert_eq!(*p.submit(move || i).unwrap().result().unwrap(), i);
        until("the Latency worker is asleep", || l.idle_counts() == (0, 1));
        thread::sleep(Duration::from_millis(1));
        assert_eq!(*l.submit(move || i).unwrap().result().unwrap(), i);
    }
    let (mb, ml) = (p.metrics(), l.metrics());
    assert!(mb.spins_missed <= 12, "{mb}");
    if has_a_second_cpu() {
        assert!(
            ml.spins_missed >= 30,
            "Latency spins before each sleep: {ml}"
        );
    }
    for i in 0..2000u64 {
        assert_eq!(*p.submit(move || i).unwrap().result().unwrap(), i);
    }
    let same = p.submit(|| thread::current().id()).unwrap();
    assert_eq!(*same.result().unwrap(), tid);
    assert_eq!(p.threads_started(), 1);
}
