//! Races between a waiter's node and the completer's drain.

use super::{outcomes, spawn};
use crate::future::Future;
use crate::future::group::{Group, Mode};
use crate::future::waiters::{Link, Node, Target};

/// A blocked `result()` vs `set_result`: the reader always gets the value; both "linked then
/// woken" and "already terminal when linking" happen.
#[test]
fn link_vs_drain_no_lost_wakeup() {
    let seen = outcomes(|| {
        let f = Future::<u8>::new();
        let g = f.clone();
        let t = spawn(move || g.set_result(7).unwrap());
        let group = Group::new(Mode::FirstCompleted, 1);
        let node = Node::new(Target::Group(&group), 0);
        // SAFETY: the node stays on this frame and is unlinked below.
        let linked = match unsafe { f.header().link(&node) } {
            Link::Linked => {
                group.block(crate::deadline::Deadline::Never, || group.fired());
                // SAFETY: linked above.
                unsafe { f.header().unlink(&node) };
                assert!(node.is_notified(), "woken only by the drain");
                true
            }
            Link::Terminal(s) => {
                assert!(s.is_finished());
                false
            }
        };
        assert_eq!(*f.result().unwrap(), 7);
        t.join();
        assert!(!f.has_waiters());
        linked
    });
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), [false, true]);
}

/// A timed-out waiter unlinking its own node vs the completer draining it: no use after free
/// (the node is dropped right after `unlink`), no double wake, the list ends empty.
#[test]
fn unlink_on_timeout_vs_drain() {
    let seen = outcomes(|| {
        let f = Future::<u8>::new();
        let g = f.clone();
        let group = Group::new(Mode::FirstCompleted, 1);
        let node = Node::new(Target::Group(&group), 0);
        // SAFETY: the node stays on this frame and is unlinked below.
        assert!(matches!(unsafe { f.header().link(&node) }, Link::Linked));
        let t = spawn(move || g.set_result(1).unwrap());
        // Timeout: unlink without blocking, racing the drain.
        // SAFETY: linked above.
        unsafe { f.header().unlink(&node) };
        let woken = node.is_notified();
        // The node is the owner's again (rule 6): it reuses the memory, as a frame that
        // returns and calls again would. A completer still reading the node races this.
        node.reuse();
        drop(node);
        t.join();
        assert!(!f.has_waiters());
        woken
    });
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), [false, true]);
}
