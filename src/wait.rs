//! [`wait`]: Python's `concurrent.futures.wait`, over futures of any executor and, through
//! [`Waitable`], of any output type.
//!
//! One call looks at each future once (one load). If that settles it, it returns without
//! touching any lock. Otherwise it links one node per pending future, all pointing at one
//! group; each completion costs the group O(1) (a counter decrement, or nothing after it
//! fired), and the caller is unparked once, when its condition holds. It then unlinks what is
//! still linked and returns.
//!
//! Calling `wait(pending, FirstCompleted)` once per completion is O(n²) in total in any
//! implementation, since each call takes and returns O(n) futures. Use
//! [`as_completed`](crate::as_completed), which is O(n) in total.

use std::time::Duration;

use crate::deadline::Deadline;
use crate::future::Waitable;
use crate::future::group::{Group, Mode};
use crate::future::waiters::{Link, Node, Target};

/// When [`wait`] returns. Python's `FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ReturnWhen {
    /// As soon as any future finishes or is cancelled.
    FirstCompleted,
    /// As soon as any future finishes with an exception; if none does, when all are done.
    /// A cancelled future is done but never counts as an exception.
    FirstException,
    /// When every future is finished or cancelled (the default, as in Python).
    #[default]
    AllCompleted,
}

/// What [`wait`] returns: Python's `DoneAndNotDoneFutures(done, not_done)`.
///
/// Python returns two sets; here they are two vectors without duplicates, each in the order
/// the futures were given.
#[derive(Debug)]
pub struct DoneAndNotDone<'a, F: ?Sized> {
    /// Futures that were finished or cancelled.
    pub done: Vec<&'a F>,
    /// Futures that were not.
    pub not_done: Vec<&'a F>,
}

/// Waits for the futures in `fs` as `return_when` says, without a timeout.
///
/// `fs` may hold the same future more than once (it is reported once), futures from any
/// executors, and futures of different output types as `&dyn Waitable`. An empty `fs`
/// returns at once.
///
/// ```
/// use concurrent_futures::{Future, ReturnWhen, wait};
/// use std::thread;
///
/// let futs: Vec<Future<u32>> = (0..3).map(|_| Future::new()).collect();
/// let producers = futs.clone();
/// let t = thread::spawn(move || {
///     for (i, f) in producers.iter().enumerate() {
///         f.set_result(i as u32).unwrap();
///     }
/// });
/// let r = wait(&futs, ReturnWhen::AllCompleted);
/// assert_eq!(r.done.len(), 3);
/// assert!(r.not_done.is_empty());
/// t.join().unwrap();
/// ```
pub fn wait<'a, F, I>(fs: I, return_when: ReturnWhen) -> DoneAndNotDone<'a, F>
where
    I: IntoIterator<Item = &'a F>,
    F: Waitable + ?Sized + 'a,
{
    wait_until(fs, return_when, Deadline::Never, false)
}

/// As [`wait`], returning when `timeout` passes even if the condition does not hold yet.
/// Python's `wait(fs, timeout, return_when)`: a timeout is not an error, the partition is
/// simply returned. A zero timeout never blocks.
///
/// ```
/// use concurrent_futures::{Future, ReturnWhen, wait_timeout};
/// use std::time::Duration;
///
/// let pending = Future::<()>::new();
/// let r = wait_timeout([&pending], ReturnWhen::AllCompleted, Duration::from_millis(10));
/// assert!(r.done.is_empty() && r.not_done.len() == 1);
/// ```
pub fn wait_timeout<'a, F, I>(
    fs: I,
    return_when: ReturnWhen,
    timeout: Duration,
) -> DoneAndNotDone<'a, F>
where
    I: IntoIterator<Item = &'a F>,
    F: Waitable + ?Sized + 'a,
{
    wait_until(
        fs,
        return_when,
        Deadline::after(timeout),
        timeout == Duration::ZERO,
    )
}

fn wait_until<'a, F, I>(
    fs: I,
    return_when: ReturnWhen,
    deadline: Deadline,
    no_block: bool,
) -> DoneAndNotDone<'a, F>
where
    I: IntoIterator<Item = &'a F>,
    F: Waitable + ?Sized + 'a,
{
    let fs = dedup(fs);
    let mut done = Vec::with_capacity(fs.len());
    let mut not_done = Vec::new();
    let mut raised = false;
    for &f in &fs {
        let s = f.header().state.load();
        // The plant is CPython's gh-92001: a cancelled future is not done until an
        // executor has noticed it.
        if plant!(
            "wait_misses_a_cancelled_future",
            s.is_finished(),
            s.is_terminal()
        ) {
            raised |= s.is_finished() && s.has_exception();
            done.push(f);
        } else {
            not_done.push(f);
        }
    }
    let satisfied = match return_when {
        ReturnWhen::FirstCompleted => !done.is_empty(),
        ReturnWhen::FirstException => raised,
        ReturnWhen::AllCompleted => false,
    };
    if satisfied || not_done.is_empty() || no_block {
        return DoneAndNotDone { done, not_done };
    }

    let mode = match return_when {
        ReturnWhen::FirstCompleted => Mode::FirstCompleted,
        ReturnWhen::FirstException => Mode::FirstException,
        ReturnWhen::AllCompleted => Mode::AllCompleted,
    };
    let group = Group::new(mode, not_done.len());
    let nodes: Box<[Node]> = (0..not_done.len())
        .map(|i| Node::new(Target::Group(&group), i))
        .collect();
    {
        // Unlinks on drop, also if a task run inline below unwinds: no node of this frame
        // stays on a list after it is gone.
        let mut linked = Linked {
            futures: &not_done,
            nodes: &nodes,
            count: 0,
        };
        for (f, node) in not_done.iter().zip(nodes.iter()) {
            // SAFETY: each node is fresh, in a boxed slice that does not move, and `linked`
            // unlinks it before the slice (and the group it points at) is dropped.
            match unsafe { f.header().link(node) } {
                Link::Linked => {}
                Link::Terminal(s) => group.complete_unlinked(node, s),
            }
            linked.count += 1;
            if group.fired() {
                break; // e.g. FirstCompleted and this one was already done: stop linking
            }
        }
        // A worker waiting on tasks of its own pool runs them rather than deadlock (rule 8).
        for f in not_done.iter().take(linked.count) {
            if group.fired() {
                break;
            }
            // SAFETY: `f` is a borrowed handle.
            unsafe { f.header().try_run_inline() };
        }
        group.block(deadline, || group.fired());
    }
    drop(nodes);

    // Classify again, in input order: everything that became terminal while we waited is
    // done, and whatever was done stays done (terminal states are final).
    done.clear();
    not_done.clear();
    for f in fs {
        let s = f.header().state.load();
        if plant!(
            "wait_misses_a_cancelled_future",
            s.is_finished(),
            s.is_terminal()
        ) {
            done.push(f);
        } else {
            not_done.push(f);
        }
    }
    DoneAndNotDone { done, not_done }
}

/// The nodes a `wait` linked, unlinked when this drops.
struct Linked<'n, 'a, F: Waitable + ?Sized> {
    futures: &'n [&'a F],
    nodes: &'n [Node],
    /// Nodes `0..count` were linked (or found their future terminal).
    count: usize,
}

impl<F: Waitable + ?Sized> Drop for Linked<'_, '_, F> {
    fn drop(&mut self) {
        for (f, node) in self.futures.iter().zip(self.nodes).take(self.count) {
            // SAFETY: linked by `wait_until` (or marked notified, which `unlink` skips).
            unsafe { f.header().unlink(node) };
        }
    }
}

/// Drops repeated futures (by identity), keeping the first occurrence and the input order.
/// Small inputs compare pairwise. Larger ones first check whether the addresses are strictly
/// monotonic, which rules out repeats in one pass with no memory (futures created in a loop
/// and passed in that order, the common case); otherwise an open-addressing set of header
/// addresses. No sort, no per-item allocation.
pub(crate) fn dedup<'a, F, I>(fs: I) -> Vec<&'a F>
where
    I: IntoIterator<Item = &'a F>,
    F: Waitable + ?Sized + 'a,
{
    let fs: Vec<&'a F> = fs.into_iter().collect();
    let addr = |f: &F| f.header() as *const _ as usize;
    if fs.len() <= 16 {
        let mut out: Vec<&'a F> = Vec::with_capacity(fs.len());
        for f in fs {
            if !out.iter().any(|g| addr(g) == addr(f)) {
                out.push(f);
            }
        }
        return out;
    }
    let increasing = fs.windows(2).all(|w| addr(w[0]) < addr(w[1]));
    if increasing || fs.windows(2).all(|w| addr(w[0]) > addr(w[1])) {
        return fs;
    }
    let cap = (fs.len() * 2).next_power_of_two();
    let mask = cap - 1;
    let shift = usize::BITS - cap.trailing_zeros();
    let mut table = vec![0usize; cap];
    let mut out = Vec::with_capacity(fs.len());
    for f in fs {
        let a = addr(f);
        // Fibonacci hashing: the high bits of the address times 2^64/φ.
        let mut i = a.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) >> shift;
        loop {
            if table[i] == 0 {
                table[i] = a;
                out.push(f);
                break;
            }
            if table[i] == a {
                break;
            }
            i = (i + 1) & mask;
        }
    }
    out
}
