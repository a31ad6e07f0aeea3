//! The intrusive waiter list of a future (its [`Group`], what a blocked thread waits on, is
//! in `group.rs`).
//!
//! A [`Node`] belongs to whoever waits: a thread in `result()` (a one-node group on its
//! stack), a `wait()` call (one node per pending future, in one allocation, all pointing at
//! one group), an `as_completed` iterator (likewise, its group collecting completions in
//! order), or an `.await` (the node lives in the pinned Rust future and carries a `Waker`).
//!
//! The protocol (it follows tokio's `Notify::notify_waiters`; the numbers refer to the rules
//! in `future/mod.rs`):
//!
//! * A node is linked under the word's lock bit, and only while the future is not terminal
//!   (rule 3: the same CAS takes the lock and sets `HAS_WAITERS`).
//! * The completer, holding the lock, pops each node, sets its `notified` flag and takes
//!   from it all it needs to wake its owner (a `Thread` clone or the `Waker`). After the
//!   lock is released it never touches the node again; the wake-ups run outside the lock, in
//!   batches of [`BATCH`] (rule 5).
//! * The owner unlinks its own node under the lock unless `notified` is set; once `notified`
//!   is seen (Acquire) the node is free to reuse or drop (rule 6).

use std::marker::PhantomPinned;
use std::ptr;
use std::task::Waker;

use super::group::Group;
use super::hooks::{RunHooks, UserCode};
use super::state::{HAS_WAITERS, Snapshot, StateWord};
use crate::sync::{AtomicBool, Ordering, Thread, UnsafeCell};

/// How many wake-ups are collected under the lock before it is released to run them.
const BATCH: usize = 32;

/// The part of a future every waiter sees, whatever its output type: the state word and the
/// head of the waiter list. It is the first field of every future allocation (`repr(C)`).
#[repr(C)]
pub struct Header {
    pub(crate) state: StateWord,
    /// Head of the doubly linked waiter list; guarded by `WAITERS_LOCKED`.
    head: UnsafeCell<*const Node>,
    pub(crate) vtable: &'static Vtable,
}

/// Type-specific operations on a future allocation, reached from its [`Header`]. All but
/// `dealloc` are an executor task's (`future/task.rs`); a bare future's never run or decline.
pub(crate) struct Vtable {
    /// An executor's task: the public setters refuse it until it is terminal (rule 8).
    /// Fixed for the allocation's life, so no path that drops a reference can change it.
    pub(crate) owned: bool,
    /// Frees the allocation and drops what it holds.
    pub(crate) dealloc: unsafe fn(ptr::NonNull<Header>),
    /// Runs a queued task and drops the queue's reference.
    pub(crate) run: unsafe fn(ptr::NonNull<Header>, &dyn RunHooks),
    /// Runs the task here if it belongs to executor `current` and has not started.
    pub(crate) run_inline: unsafe fn(ptr::NonNull<Header>, usize) -> bool,
    /// Ends a queued task that has not started (cancelled, or failed with the exception)
    /// without running any user code; the reference stays. `true` if it did.
    pub(crate) end_queued: unsafe fn(ptr::NonNull<Header>, Option<crate::error::Exception>) -> bool,
    /// After `end_queued`: wakes the listeners (when it ended the task), drops the closure of
    /// a task that can no longer run, then drops the queue's reference.
    pub(crate) finish_ended: unsafe fn(ptr::NonNull<Header>, bool),
    /// After [`Future::request_cancel`](super::Future::request_cancel) set the request bit
    /// of a running task: a job whose work runs elsewhere (a worker process) forwards the
    /// request there. A no-op for closures, which read the bit through their token.
    pub(crate) requested: unsafe fn(ptr::NonNull<Header>),
}

// SAFETY: the list head is only touched under the lock bit of `state`; every other field is
// atomic or immutable.
unsafe impl Send for Header {}
// SAFETY: as above.
unsafe impl Sync for Header {}

/// What a completer must do for a node's owner once the lock is released.
pub(super) enum Wake {
    Thread(Thread),
    Waker(Waker),
}

impl Wake {
    /// Runs the wake-up. A `Waker` is user code: its panic is caught and logged, so the
    /// other wake-ups of the batch and the callbacks still run.
    fn run(self, user: &UserCode<'_>) {
        match self {
            Wake::Thread(t) => t.unpark(),
            Wake::Waker(w) => {
                user.enter();
                let woke = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.wake()));
                if let Err(payload) = woke {
                    let message = crate::unwind::payload_message(payload);
                    crate::unwind::report(format_args!("a Waker panicked when woken: {message}"));
                }
            }
        }
    }
}

/// Who a node wakes.
pub(crate) enum Target {
    /// A group of nodes with one blocked owner thread.
    Group(*const Group),
    /// An `.await`: the task's waker (None until the first poll that links the node).
    Waker(Option<Waker>),
}

/// One waiter on one future. Lives on the owner's stack or in memory the owner holds; it must
/// not move while linked (`!Unpin`).
pub(crate) struct Node {
    prev: UnsafeCell<*const Node>,
    next: UnsafeCell<*const Node>,
    /// Set (Release) by the completer under the lock when it takes the node off the list.
    pub(super) notified: AtomicBool,
    /// Guarded by the lock while linked; the owner's alone otherwise.
    target: UnsafeCell<Target>,
    /// Next node on the group's completion stack (`as_completed`).
    pub(super) done_next: UnsafeCell<*const Node>,
    /// Position of the awaited future in the owner's list.
    pub(crate) index: usize,
    _pin: PhantomPinned,
}

// SAFETY: the raw pointers are only followed under the future's lock bit or by the owner
// (rule 6); `Target::Waker` is Send, and `Target::Group` points at a `Group` that is Sync.
unsafe impl Send for Node {}
// SAFETY: as above.
unsafe impl Sync for Node {}

impl Node {
    /// A model's stand-in for the owner reusing a node it has back (rule 6): it rewrites
    /// the node's target, which races any completer still reading it.
    #[cfg(all(test, concurrent_futures_loom))]
    pub(crate) fn reuse(&self) {
        // SAFETY: called by the owner once the node is unlinked or notified (rule 6).
        unsafe { set(&self.target, Target::Waker(None)) };
    }

    pub(crate) fn new(target: Target, index: usize) -> Self {
        Node {
            prev: UnsafeCell::new(ptr::null()),
            next: UnsafeCell::new(ptr::null()),
            notified: AtomicBool::new(false),
            target: UnsafeCell::new(target),
            done_next: UnsafeCell::new(ptr::null()),
            index,
            _pin: PhantomPinned,
        }
    }

    /// `true` once the completer has taken this node off its list (rule 6).
    #[inline]
    pub(crate) fn is_notified(&self) -> bool {
        self.notified.load(Ordering::Acquire)
    }
}

/// Outcome of [`Header::link`].
#[must_use]
pub(crate) enum Link {
    /// The node is on the list; its owner must [`Header::unlink`] it before it moves or drops.
    Linked,
    /// The future is already terminal; the node was not linked.
    Terminal(Snapshot),
}

impl Header {
    pub(crate) fn new(vtable: &'static Vtable) -> Self {
        Header {
            state: StateWord::new_pending(),
            head: UnsafeCell::new(ptr::null()),
            vtable,
        }
    }

    /// If the current thread works for the executor that owns this (pending) task, runs it
    /// here and returns `true`: a worker waiting on its own pool's work never deadlocks.
    ///
    /// # Safety
    /// The caller holds a handle to the future.
    #[inline]
    pub(crate) unsafe fn try_run_inline(&self) -> bool {
        if !self.vtable.owned || self.state.load().lifecycle() != super::state::PENDING {
            return false;
        }
        let current = crate::context::current_for_inline();
        // SAFETY: the caller's handle keeps the future alive.
        current != crate::context::NONE
            && unsafe { (self.vtable.run_inline)(ptr::NonNull::from(self), current) }
    }

    /// Links `node` unless the future is terminal.
    ///
    /// # Safety
    ///
    /// `node` is not linked anywhere, and stays valid and unmoved until it is unlinked by
    /// [`Header::unlink`] or seen notified.
    pub(crate) unsafe fn link(&self, node: &Node) -> Link {
        match self.state.lock_for_listen(HAS_WAITERS) {
            super::state::LockForListen::Terminal(s) => Link::Terminal(s),
            super::state::LockForListen::Locked => {
                // SAFETY: we hold the lock bit, which guards `head` and every linked node's
                // links; `node` is unlinked (caller's promise).
                unsafe { self.push_front_locked(node) };
                self.state.unlock(0);
                Link::Linked
            }
        }
    }

    /// # Safety
    /// The lock bit is held and `node` is on no list.
    unsafe fn push_front_locked(&self, node: &Node) {
        let node_ptr: *const Node = node;
        // SAFETY: the lock bit (held) guards `head` and the links of every linked node; `old`,
        // if any, is linked and so valid (rule 6); `node` is on no list.
        unsafe {
            let old = get(&self.head);
            set(&node.prev, ptr::null());
            set(&node.next, old);
            if !old.is_null() {
                set(&(*old).prev, node_ptr);
            }
            set(&self.head, node_ptr);
        }
    }

    /// # Safety
    /// The lock bit is held and `node` is on this future's list.
    unsafe fn remove_locked(&self, node: &Node) {
        // SAFETY: the lock bit (held) guards `head` and all links; `node` and its neighbours
        // are linked, so valid (rule 6).
        unsafe {
            let prev = get(&node.prev);
            let next = get(&node.next);
            if prev.is_null() {
                set(&self.head, next);
            } else {
                set(&(*prev).next, next);
            }
            if !next.is_null() {
                set(&(*next).prev, prev);
            }
        }
    }

    /// # Safety
    /// The lock bit is held.
    unsafe fn is_empty_locked(&self) -> bool {
        // SAFETY: the lock bit (held) guards `head`.
        unsafe { get(&self.head) }.is_null()
    }

    /// Takes `node` off the list if the completer has not already done so. After this
    /// returns, nobody else touches `node`.
    ///
    /// # Safety
    /// `node` was linked to this future by [`Header::link`].
    pub(crate) unsafe fn unlink(&self, node: &Node) {
        if node.is_notified() {
            return; // rule 6: the completer is done with it
        }
        // The plant skips the lock and its unlock, and nothing else.
        let locked = plant!("unlink_without_the_lock", false, {
            self.state.lock();
            true
        });
        // ORDERING: Relaxed, because `notified` is only ever set under this lock, which we hold.
        if !node.notified.load(Ordering::Relaxed) {
            // SAFETY: lock held; not notified, so still on our list.
            unsafe { self.remove_locked(node) };
        }
        // SAFETY: lock held.
        let empty = unsafe { self.is_empty_locked() };
        if locked {
            self.state.unlock(if empty { HAS_WAITERS } else { 0 });
        }
    }

    /// Re-registers the waker of an `.await` node. Returns `false` when the node was already
    /// notified (the future is terminal).
    ///
    /// # Safety
    /// `node` was linked to this future with a `Target::Waker`.
    ///
    /// `Waker::clone` and the drop of a waker are user code, and may even touch this future
    /// (cancel it, complete it, await it again): neither runs under the lock. The lock is
    /// taken once to see whether the waker changed, and, if it did, again after the clone to
    /// swap it in; the replaced waker (or the unused clone) is dropped after the unlock.
    pub(crate) unsafe fn update_waker(&self, node: &Node, waker: &Waker) -> bool {
        if node.is_notified() {
            return false;
        }
        let same = {
            let _guard = ListLock::take(&self.state);
            if node.notified.load(Ordering::Relaxed) {
                return false;
            }
            // SAFETY: the lock (held) guards the target of a linked node.
            unsafe {
                node.target.with(|t| match &*t {
                    Target::Waker(Some(w)) => w.will_wake(waker),
                    Target::Waker(None) => false,
                    Target::Group(_) => unreachable!("update_waker on a group node"),
                })
            }
        };
        if same {
            return true;
        }
        let mut spare = Some(waker.clone());
        let linked = {
            let _guard = ListLock::take(&self.state);
            // ORDERING: Relaxed, because `notified` is only ever set under this lock.
            // The plant skips this re-check: a drain between the two lock rounds is missed.
            let linked = plant!(
                "update_waker_without_its_recheck",
                true,
                !node.notified.load(Ordering::Relaxed)
            );
            if linked {
                // SAFETY: the lock (held) guards the target of a linked node.
                unsafe {
                    node.target.with_mut(|t| match &mut *t {
                        Target::Waker(slot) => std::mem::swap(slot, &mut spare),
                        Target::Group(_) => unreachable!("update_waker on a group node"),
                    })
                }
            }
            linked
        };
        drop(spare);
        linked
    }

    /// Sets the waker of a node that is not yet linked.
    pub(crate) fn set_waker(node: &Node, waker: &Waker) {
        // SAFETY: the node is not linked, so its owner (the caller) has it alone.
        unsafe { set(&node.target, Target::Waker(Some(waker.clone()))) };
    }

    /// Wakes every waiter after a terminal transition, then releases the lock, clearing
    /// `HAS_WAITERS` (`HAS_CALLBACKS` is the caller's to clear, once its callbacks have run:
    /// rule 7). Called with the lock held (`locked` is the word as locked, carrying the
    /// terminal outcome). A `Waker` is user code: `user` hears of it before it runs.
    ///
    /// # Safety
    /// The caller holds the lock bit and the lifecycle in `locked` is terminal.
    pub(crate) unsafe fn drain_locked(&self, locked: Snapshot, user: &UserCode<'_>) {
        debug_assert!(locked.is_terminal() && locked.is_locked());
        let mut batch: [Option<Wake>; BATCH] = Default::default();
        loop {
            let mut n = 0;
            while n < BATCH {
                // SAFETY: lock held; it guards `head`.
                let head = unsafe { get(&self.head) };
                if head.is_null() {
                    break;
                }
                // SAFETY: a linked node is valid while we hold the lock (rule 6).
                let node = unsafe { &*head };
                // SAFETY: lock held, `node` is on this list.
                unsafe { self.remove_locked(node) };
                plant!(
                    "notified_before_the_target_is_read",
                    node.notified.store(true, Ordering::Release),
                    ()
                );
                // SAFETY: the lock (held) guards the target of a linked node, and a group
                // outlives its linked nodes (rule 6).
                let wake = unsafe {
                    node.target.with_mut(|t| match &mut *t {
                        Target::Waker(w) => w.take().map(Wake::Waker),
                        Target::Group(g) => (**g).on_complete(node, locked),
                    })
                };
                // ORDERING: Release, so the owner that sees `notified` also sees everything
                // this completer did to the node and its group. Last touch of the node.
                plant!(
                    "notified_before_the_target_is_read",
                    (),
                    node.notified.store(true, Ordering::Release)
                );
                batch[n] = wake;
                n += 1;
            }
            // SAFETY: lock held.
            let empty = unsafe { self.is_empty_locked() };
            // Terminal: nothing new can be linked (rule 3), so the list only shrinks and the
            // flag can go once it is empty.
            self.state.unlock(if empty { HAS_WAITERS } else { 0 });
            for w in batch.iter_mut().take(n) {
                if let Some(w) = w.take() {
                    w.run(user);
                }
            }
            if empty {
                return;
            }
            self.state.lock();
        }
    }
}

/// The list lock, released when this drops, also on unwind: for critical sections that run
/// user code.
struct ListLock<'a>(&'a StateWord);

impl<'a> ListLock<'a> {
    fn take(state: &'a StateWord) -> Self {
        state.lock();
        ListLock(state)
    }
}

impl Drop for ListLock<'_> {
    fn drop(&mut self) {
        self.0.unlock(0);
    }
}

/// Reads a cell.
///
/// # Safety
/// No other thread writes the cell concurrently (the caller holds the lock that guards it,
/// or otherwise has it alone).
#[inline(always)]
pub(super) unsafe fn get<T: Copy>(cell: &UnsafeCell<T>) -> T {
    // SAFETY: no concurrent writer, by the caller's contract.
    cell.with(|p| unsafe { *p })
}

/// Writes a cell.
///
/// # Safety
/// No other thread accesses the cell concurrently (as for [`get`]).
#[inline(always)]
pub(super) unsafe fn set<T>(cell: &UnsafeCell<T>, value: T) {
    // SAFETY: exclusive access, by the caller's contract.
    cell.with_mut(|p| unsafe { *p = value });
}

/// The `waiter_list` fuzz target's logic: link, unlink and relink nodes on one future's list
/// against a `VecDeque` model, then complete the future and check that exactly the linked
/// nodes are notified, head first. Each byte is one operation.
#[cfg(any(all(test, not(concurrent_futures_loom)), fuzzing))]
pub(crate) mod fuzz {
    use super::*;
    use crate::future::Future;
    use crate::future::group::Mode;
    use std::collections::VecDeque;

    const NODES: usize = 8;

    pub(crate) fn run(data: &[u8]) {
        let fut = Future::<u8>::new();
        let header = fut.header();
        let group = Group::new(Mode::EachCompletion, NODES);
        let nodes: Vec<Node> = (0..NODES)
            .map(|i| Node::new(Target::Group(&group), i))
            .collect();
        let mut model: VecDeque<usize> = VecDeque::new();
        let mut completed = false;
        for &b in data {
            let k = usize::from(b) % NODES;
            match (b >> 3) % 4 {
                0 if !model.contains(&k) => {
                    // SAFETY: `nodes` never moves or shrinks; every node is unlinked below.
                    match unsafe { header.link(&nodes[k]) } {
                        Link::Linked => {
                            assert!(!completed, "linked to a completed future");
                            model.push_front(k);
                        }
                        Link::Terminal(_) => assert!(completed, "refused by a pending future"),
                    }
                }
                1 if model.contains(&k) => {
                    // SAFETY: linked above.
                    unsafe { header.unlink(&nodes[k]) };
                    assert!(!nodes[k].is_notified());
                    model.retain(|&x| x != k);
                }
                2 if !completed => {
                    fut.set_result(b).unwrap();
                    completed = true;
                    let mut order = Vec::new();
                    group.take_done(&mut order);
                    assert_eq!(
                        order,
                        Vec::from(model.clone()),
                        "drained in list order, head first"
                    );
                    assert!(model.iter().all(|&x| nodes[x].is_notified()));
                    model.clear();
                }
                _ => {}
            }
            assert_eq!(
                fut.has_waiters(),
                !model.is_empty(),
                "HAS_WAITERS tracks the list"
            );
        }
        for &k in &model {
            // SAFETY: linked above.
            unsafe { header.unlink(&nodes[k]) };
        }
        assert!(!fut.has_waiters());
    }

    #[cfg(test)]
    #[test]
    fn replay_seed_corpus() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/waiter_list");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).expect("the seed corpus is checked in") {
            run(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0, "no seeds in {dir}");
    }
}
