//! [`as_completed`]: Python's `concurrent.futures.as_completed`, an iterator that yields each
//! future as it finishes or is cancelled.
//!
//! Futures already done when it is created come first, in the order given; the rest come in
//! the order they complete. It links one node per pending future at creation, all pointing at
//! one group whose lock-free stack collects completions, so draining n futures costs O(n) in
//! total.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::error::Error;
use crate::future::Waitable;
use crate::future::group::{Group, Mode};
use crate::future::waiters::{Link, Node, Target};
use crate::wait::dedup;

/// Yields futures as they complete; see [`as_completed`].
///
/// It is not `Send`: the thread that created it is the one its completions wake.
pub struct AsCompleted<'a, F: Waitable + ?Sized> {
    futures: Vec<&'a F>,
    /// Indices into `futures` ready to be yielded, in order.
    ready: VecDeque<usize>,
    /// Node `i` waits on `futures[pending[i]]`.
    pending: Vec<usize>,
    nodes: Box<[Node]>,
    /// Boxed so the nodes' pointers to it stay valid when the iterator moves.
    group: Box<Group>,
    /// Nodes still linked (unlinked on timeout or drop).
    linked: bool,
    unfinished: usize,
    deadline: Deadline,
    exhausted: bool,
    scratch: Vec<usize>,
    _not_send: PhantomData<*const ()>,
}

/// Yields each future in `fs` as it finishes or is cancelled: first those already done (in
/// the order given), then the others in completion order. Duplicates are yielded once.
///
/// ```
/// use concurrent_futures::{Future, as_completed};
/// use std::thread;
///
/// let futs: Vec<Future<u32>> = (0..4).map(|_| Future::new()).collect();
/// futs[2].set_result(2).unwrap();
/// let completions = as_completed(&futs); // futs[2] is the only one done yet
/// let producers = futs.clone();
/// let t = thread::spawn(move || {
///     for i in [3, 0, 1] {
///         producers[i].set_result(i as u32).unwrap();
///     }
/// });
/// let seen: Vec<u32> = completions.map(|f| *f.unwrap().result().unwrap()).collect();
/// assert_eq!(seen, [2, 3, 0, 1]); // the one already done, then completion order
/// t.join().unwrap();
/// ```
pub fn as_completed<'a, F, I>(fs: I) -> AsCompleted<'a, F>
where
    I: IntoIterator<Item = &'a F>,
    F: Waitable + ?Sized + 'a,
{
    AsCompleted::new(fs, Deadline::Never)
}

/// As [`as_completed`], but once `timeout` has passed (measured from this call, as Python's
/// documentation says) the next item is `Err(Error::Timeout { unfinished, total })` and the
/// iteration ends. Futures that completed before the deadline are still yielded first.
///
/// ```
/// use concurrent_futures::{Error, Future, as_completed_timeout};
/// use std::time::Duration;
///
/// let (done, pending) = (Future::new(), Future::<u8>::new());
/// done.set_result(1).unwrap();
/// let mut it = as_completed_timeout([&done, &pending], Duration::ZERO);
/// assert!(it.next().unwrap().is_ok());
/// let err = it.next().unwrap().unwrap_err();
/// assert!(matches!(err, Error::Timeout { unfinished: 1, total: 2 }));
/// assert_eq!(err.to_string(), "timed out: 1 (of 2) futures unfinished; wait longer, or cancel the ones still pending");
/// assert!(it.next().is_none());
/// ```
pub fn as_completed_timeout<'a, F, I>(fs: I, timeout: Duration) -> AsCompleted<'a, F>
where
    I: IntoIterator<Item = &'a F>,
    F: Waitable + ?Sized + 'a,
{
    AsCompleted::new(fs, Deadline::after(timeout))
}

impl<'a, F: Waitable + ?Sized + 'a> AsCompleted<'a, F> {
    fn new<I: IntoIterator<Item = &'a F>>(fs: I, deadline: Deadline) -> Self {
        let futures = dedup(fs);
        let mut ready = VecDeque::new();
        let mut pending = Vec::new();
        for (i, f) in futures.iter().enumerate() {
            if f.done() {
                ready.push_back(i);
            } else {
                pending.push(i);
            }
        }
        let group = Box::new(Group::new(Mode::EachCompletion, pending.len()));
        let nodes: Box<[Node]> = (0..pending.len())
            .map(|i| Node::new(Target::Group(&*group), i))
            .collect();
        for (node, &fi) in nodes.iter().zip(&pending) {
            // SAFETY: fresh nodes in a boxed slice that never moves; they are unlinked in
            // `unlink_all` (on timeout or drop) before the slice and the group are freed.
            match unsafe { futures[fi].header().link(node) } {
                Link::Linked => {}
                Link::Terminal(s) => group.complete_unlinked(node, s),
            }
        }
        AsCompleted {
            unfinished: pending.len(),
            futures,
            ready,
            pending,
            nodes,
            group,
            linked: true,
            deadline,
            exhausted: false,
            scratch: Vec::new(),
            _not_send: PhantomData,
        }
    }

    /// Moves completions from the group's stack to `ready`. Returns how many.
    fn collect(&mut self) -> usize {
        self.scratch.clear();
        let n = self.group.take_done(&mut self.scratch);
        for &node in &self.scratch {
            self.ready.push_back(self.pending[node]);
        }
        self.unfinished -= n;
        n
    }

    fn unlink_all(&mut self) {
        if !self.linked {
            return;
        }
        self.linked = false;
        for (node, &fi) in self.nodes.iter().zip(&self.pending) {
            // SAFETY: every node was linked in `new` (or marked notified, which `unlink`
            // skips), to this very future.
            unsafe { self.futures[fi].header().unlink(node) };
        }
    }

    /// Runs one still-pending task of the current worker's own pool here (pool rule 3).
    fn run_one_inline(&self) -> bool {
        crate::context::current() != crate::context::NONE
            && self.pending.iter().any(|&fi| {
                // SAFETY: `futures[fi]` is a borrowed handle.
                unsafe { self.futures[fi].header().try_run_inline() }
            })
    }

    /// How many futures have not been yielded yet because they have not completed.
    pub fn unfinished(&self) -> usize {
        self.unfinished
    }

    /// How many distinct futures this iterator was given.
    pub fn total(&self) -> usize {
        self.futures.len()
    }
}

impl<'a, F: Waitable + ?Sized + 'a> Iterator for AsCompleted<'a, F> {
    type Item = Result<&'a F, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.exhausted {
            return None;
        }
        loop {
            if let Some(i) = self.ready.pop_front() {
                return Some(Ok(self.futures[i]));
            }
            if self.unfinished == 0 {
                self.exhausted = true;
                self.unlink_all();
                return None;
            }
            if self.collect() > 0 {
                continue;
            }
            // A worker waiting on tasks of its own pool runs one rather than deadlock.
            if self.run_one_inline() {
                continue;
            }
            let group = &*self.group;
            if !group.block(self.deadline, || group.has_done()) {
                self.collect();
                if let Some(i) = self.ready.pop_front() {
                    return Some(Ok(self.futures[i]));
                }
                self.exhausted = true;
                self.unlink_all();
                return Some(Err(Error::Timeout {
                    unfinished: self.unfinished,
                    total: self.futures.len(),
                }));
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.exhausted {
            (0, Some(0))
        } else {
            (
                self.ready.len(),
                Some(self.ready.len() + self.unfinished + 1),
            )
        }
    }
}

impl<F: Waitable + ?Sized> Drop for AsCompleted<'_, F> {
    fn drop(&mut self) {
        self.unlink_all();
    }
}
