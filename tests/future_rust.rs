//! The Rust-only parts of the future's contract: moving values out, identity, drop counts,
//! and `.await` (in tokio too).

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{Error, Future};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

// ----- Rust-only: moving out, identity, drops, await -----

/// Counts clones and drops of itself.
#[derive(Debug)]
struct Counted {
    clones: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, Ordering::SeqCst);
        Counted {
            clones: self.clones.clone(),
            drops: self.drops.clone(),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn counted() -> (Counted, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let (c, d) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    (
        Counted {
            clones: c.clone(),
            drops: d.clone(),
        },
        c,
        d,
    )
}

#[test]
fn into_result_moves_when_sole_handle_and_clones_otherwise() {
    let (v, clones, drops) = counted();
    let f = Future::new();
    f.set_result(v).unwrap();
    let moved = f.into_result().unwrap();
    assert_eq!(
        clones.load(Ordering::SeqCst),
        0,
        "sole handle: moved, not cloned"
    );
    drop(moved);
    assert_eq!(drops.load(Ordering::SeqCst), 1);

    let (v, clones, drops) = counted();
    let f = Future::new();
    f.set_result(v).unwrap();
    let other = f.clone();
    let copy = f.into_result().unwrap();
    assert_eq!(clones.load(Ordering::SeqCst), 1, "shared: cloned");
    drop(copy);
    drop(other);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2,
        "the clone and the stored value"
    );
}

#[test]
fn into_result_blocks_until_set_from_another_thread() {
    let f = Future::<Vec<u8>>::new();
    let setter = f.clone();
    let t = thread::spawn(move || {
        until("blocked", || setter.has_waiters());
        setter.set_result(vec![1, 2]).unwrap();
        // `setter` drops here, after which `f` may be the only handle.
    });
    assert_eq!(f.into_result().unwrap(), vec![1, 2]);
    t.join().unwrap();
}

#[test]
fn try_into_result_reports_errors_and_returns_shared_handles() {
    let c = cancelled::<String>();
    assert!(matches!(c.try_into_result(), Ok(Err(Error::Cancelled))));
    let r = raised::<String>();
    let _other = r.clone();
    assert!(matches!(r.try_into_result(), Ok(Err(Error::Exception(_)))));
}

#[test]
fn values_are_dropped_exactly_once_in_every_ending() {
    // Finished and never read; refused second value; pending future dropped.
    let (v1, _, d1) = counted();
    let (v2, _, d2) = counted();
    let f = Future::new();
    f.set_result(v1).unwrap();
    assert!(f.set_result(v2).is_err());
    assert_eq!(
        d2.load(Ordering::SeqCst),
        1,
        "the refused value is dropped at once"
    );
    let g = f.clone();
    drop(f);
    assert_eq!(d1.load(Ordering::SeqCst), 0);
    drop(g);
    assert_eq!(d1.load(Ordering::SeqCst), 1);
    // A pending future with callbacks registered is dropped without running them.
    let (v3, _, d3) = counted();
    let p = Future::<u8>::new();
    p.add_done_callback(move |_| drop(v3));
    drop(p);
    assert_eq!(
        d3.load(Ordering::SeqCst),
        1,
        "the unrun callback (and its capture) dropped"
    );
}

#[test]
fn a_long_list_of_unrun_callbacks_drops_without_recursion() {
    let f = Future::<u8>::new();
    let captured = Arc::new(());
    for _ in 0..200_000 {
        let c = captured.clone();
        f.add_done_callback(move |_| drop(c));
    }
    drop(f); // would overflow the test thread's stack if the list dropped recursively
    assert_eq!(
        Arc::strong_count(&captured),
        1,
        "every callback was dropped"
    );
}

#[test]
fn identity_equality_and_hash() {
    let a = Future::<u8>::new();
    let b = Future::<u8>::new();
    let a2 = a.clone();
    assert_eq!(a, a2);
    assert_ne!(a, b);
    let set: HashSet<Future<u8>> = [a.clone(), a2, b.clone()].into_iter().collect();
    assert_eq!(set.len(), 2);
}

#[test]
fn futures_are_send_and_sync_when_t_is() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Future<u64>>();
    assert_send_sync::<Future<String>>();
    assert_send_sync::<concurrent_futures::Error>();
    assert_send_sync::<concurrent_futures::Exception>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_borrowed_and_owned_in_tokio() {
    let f = Future::<String>::new();
    let setter = f.clone();
    let t = thread::spawn(move || {
        until("the task is registered", || setter.has_waiters());
        setter.set_result("hi".into()).unwrap();
    });
    assert_eq!((&f).await.unwrap(), "hi");
    t.join().unwrap();

    // Owned, with the value set from a tokio task while the await is pending.
    let g = Future::<Vec<u32>>::new();
    let setter = g.clone();
    let task = tokio::spawn(async move {
        tokio::task::yield_now().await;
        setter.set_result(vec![4, 5]).unwrap();
    });
    assert_eq!(g.await.unwrap(), vec![4, 5]);
    task.await.unwrap();

    // Errors come through await too.
    let c = cancelled::<u8>();
    assert!(matches!((&c).await, Err(Error::Cancelled)));
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_a_pending_await_unregisters_it() {
    let f = Future::<u8>::new();
    let r = tokio::time::timeout(Duration::from_millis(5), (&f).into_future_ref()).await;
    assert!(r.is_err(), "not set yet: the await times out");
    assert!(!f.has_waiters(), "the dropped await unlinked its node");
    f.set_result(3).unwrap();
    assert_eq!((&f).await.unwrap(), &3);
}

/// `IntoFuture` on `&Future` spelled as a method, for `tokio::time::timeout`.
trait IntoFutureRef<'a, T> {
    fn into_future_ref(self) -> concurrent_futures::ResultFuture<'a, T>;
}
impl<'a, T> IntoFutureRef<'a, T> for &'a Future<T> {
    fn into_future_ref(self) -> concurrent_futures::ResultFuture<'a, T> {
        std::future::IntoFuture::into_future(self)
    }
}
