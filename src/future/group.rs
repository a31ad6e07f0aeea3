//! The [`Group`] a blocked thread waits on: one owner, many nodes (a `result()` call, a
//! `wait()`, an `as_completed`), each completion O(1), and the owner's spin, yield, park.

use crate::deadline::Deadline;
use crate::preempt::Calm;
use std::cell::Cell;
use std::ptr;
use std::time::Instant;

use super::state::Snapshot;
use super::waiters::{Node, Wake, get, set};
use crate::sync::{
    AtomicBool, AtomicPtr, AtomicUsize, Ordering, Thread, current_thread, fence, park, park_until,
    spin_loop, yield_now,
};

/// Spin rounds before a waiter parks: about a microsecond of `spin_loop` on these machines.
/// Waking a parked thread costs 2–70 µs, so a result that arrives within the spin is much
/// cheaper to catch spinning.
#[cfg(not(concurrent_futures_loom))]
const SPIN_ROUNDS: u32 = 64;
#[cfg(concurrent_futures_loom)]
const SPIN_ROUNDS: u32 = 0;

/// After spinning, a waiter yields its core this many times before it parks: completions
/// that come every few microseconds (a pool draining into `as_completed`) are then caught
/// without a futex wake, and the yield lets the busy workers have the core meanwhile.
#[cfg(not(concurrent_futures_loom))]
const YIELD_ROUNDS: u32 = 16;
#[cfg(concurrent_futures_loom)]
const YIELD_ROUNDS: u32 = 0;

thread_local! {
    /// This thread's memory of contention: whether its yields lately handed its core to
    /// somebody else for a time slice (`preempt.rs`).
    static CALM: Cell<Calm> = const { Cell::new(Calm::new()) };
}

/// The yields between a waiter's spin and its park: `Some(answer)` if `ready()` held or the
/// deadline passed meanwhile, `None` to park. A yield that took a time slice (another
/// thread had the core meanwhile) ends the phase and, for a calm period, skips it: on a
/// machine with more runnable threads than cores, each yield hands the core to a busy
/// thread for milliseconds, while a parked thread is woken ahead of them.
fn yield_phase(deadline: Deadline, ready: &mut impl FnMut() -> bool) -> Option<bool> {
    if YIELD_ROUNDS == 0 {
        return None;
    }
    // During thread-local destruction (a wait in another thread-local's drop) there is no
    // memory of contention: wait as on a fresh thread.
    let mut calm = CALM.try_with(Cell::get).unwrap_or(Calm::new());
    let mut last = Instant::now();
    if calm.active(last) {
        return None;
    }
    let mut answer = None;
    let mut preempted = false;
    for _ in 0..YIELD_ROUNDS {
        if ready() {
            answer = Some(true);
            break;
        }
        if deadline.passed() {
            answer = Some(ready());
            break;
        }
        yield_now();
        let now = Instant::now();
        if calm.check(last, now) {
            preempted = true;
            break;
        }
        last = now;
    }
    if !preempted {
        calm.ran_clean(last);
    }
    let _ = CALM.try_with(|c| c.set(calm));
    answer
}

/// What a group is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Fire on the first completion (also `result()`'s one-node group).
    FirstCompleted,
    /// Fire on the first exception, or when all have completed.
    FirstException,
    /// Fire when all have completed.
    AllCompleted,
    /// Collect every completion in order on the done stack (`as_completed`).
    EachCompletion,
}

/// One blocked owner waiting on many nodes. Each completion costs O(1) here: a counter
/// decrement or a stack push, and an unpark only when the owner's condition is met.
pub(crate) struct Group {
    thread: Thread,
    mode: Mode,
    /// Completions still needed before `AllCompleted`/`FirstException` fire.
    remaining: AtomicUsize,
    fired: AtomicBool,
    /// The owner is parked (or about to): completers unpark it only then.
    parked: AtomicBool,
    /// `EachCompletion`: nodes in reverse completion order, linked through `done_next`.
    done: AtomicPtr<Node>,
}

impl Group {
    /// A group owned by the current thread, waiting for `pending` completions.
    pub(crate) fn new(mode: Mode, pending: usize) -> Self {
        Group {
            thread: current_thread(),
            mode,
            remaining: AtomicUsize::new(pending),
            fired: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            done: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Records that `node`'s future reached the terminal `outcome`. Called by the completer
    /// under that future's lock, or by the owner for a node that found its future already
    /// terminal. Returns the wake-up to run when the owner should look.
    pub(super) fn on_complete(&self, node: &Node, outcome: Snapshot) -> Option<Wake> {
        let fire = match self.mode {
            Mode::FirstCompleted => true,
            Mode::FirstException => {
                plant!(
                    "first_exception_fires_on_a_success",
                    !outcome.has_exception(),
                    outcome.has_exception()
                ) || self.remaining.fetch_sub(1, Ordering::AcqRel) == 1
            }
            Mode::AllCompleted => self.remaining.fetch_sub(1, Ordering::AcqRel) == 1,
            Mode::EachCompletion => {
                let node_ptr = node as *const Node as *mut Node;
                let mut head = self.done.load(Ordering::Relaxed);
                loop {
                    // SAFETY: the node is off every list and not yet notified, so only this
                    // completer writes it; the owner reads `done_next` after popping it
                    // (Acquire swap in `take_done`).
                    unsafe { set(&node.done_next, head as *const Node) };
                    // ORDERING: Release publishes `done_next`; the owner's swap is Acquire.
                    match self.done.compare_exchange_weak(
                        head,
                        node_ptr,
                        plant!(
                            "done_stack_push_relaxed",
                            Ordering::Relaxed,
                            Ordering::Release
                        ),
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => break,
                        Err(actual) => head = actual,
                    }
                }
                return self.wake_if_parked();
            }
        };
        // ORDERING: AcqRel swap: Release publishes the counters to the owner; only the first
        // firing completer wakes it.
        if fire && !self.fired.swap(true, Ordering::AcqRel) {
            self.wake_if_parked()
        } else {
            None
        }
    }

    /// The completer's half of the park handshake: the owner announces `parked` and then
    /// re-checks its condition; the completer publishes the condition and then reads
    /// `parked`. With a SeqCst fence on each side, one of them sees the other, so an owner
    /// that parks is always unparked, and a running owner costs no unpark (no system call).
    fn wake_if_parked(&self) -> Option<Wake> {
        // ORDERING: SeqCst fence between publishing the condition (above) and reading
        // `parked`; pairs with the fence in `block`.
        fence(Ordering::SeqCst);
        if self.parked.load(Ordering::Relaxed) {
            Some(Wake::Thread(self.thread.clone()))
        } else {
            None
        }
    }

    /// The owner's version of a completion, for a node whose future was already terminal
    /// when it tried to link. Nothing to wake: the owner is the caller.
    pub(crate) fn complete_unlinked(&self, node: &Node, outcome: Snapshot) {
        drop(self.on_complete(node, outcome));
        node.notified.store(true, Ordering::Relaxed);
    }

    /// `true` once the owner's condition is met.
    #[inline]
    pub(crate) fn fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }

    /// `true` when the done stack holds a completion (`EachCompletion`).
    #[inline]
    pub(crate) fn has_done(&self) -> bool {
        !self.done.load(Ordering::Acquire).is_null()
    }

    /// Pops every node on the done stack, oldest first, into `out` as node indices.
    pub(crate) fn take_done(&self, out: &mut Vec<usize>) -> usize {
        // ORDERING: Acquire pairs with the completers' Release pushes (`done_next` writes).
        let mut p = self.done.swap(ptr::null_mut(), Ordering::Acquire) as *const Node;
        let start = out.len();
        while !p.is_null() {
            // SAFETY: nodes on the stack are the owner's (notified or about to be, and never
            // freed before the owner drops them); `done_next` was published by the push.
            let node = unsafe { &*p };
            out.push(node.index);
            // SAFETY: written before the push that published this node, never again.
            p = unsafe { get(&node.done_next) };
        }
        out[start..].reverse();
        out.len() - start
    }

    /// Blocks the owner until `ready()` holds or `deadline` passes. Spins about a
    /// microsecond and yields up to 16 times ([`yield_phase`]) before parking. Returns `ready()`'s last answer.
    pub(crate) fn block(&self, deadline: Deadline, mut ready: impl FnMut() -> bool) -> bool {
        for _ in 0..SPIN_ROUNDS {
            if ready() {
                return true;
            }
            spin_loop();
        }
        if let Some(done) = yield_phase(deadline, &mut ready) {
            return done;
        }
        for _round in 0usize.. {
            self.parked.store(true, Ordering::Relaxed);
            // ORDERING: SeqCst fence between announcing `parked` and re-checking; pairs with
            // the fence in `wake_if_parked`.
            plant!("park_without_its_fence", (), fence(Ordering::SeqCst));
            // The plant skips the last look before the first park only: after a wake-up
            // the look is the loop's exit, and without it every park would hang.
            if plant!("park_without_a_last_look", _round > 0 && ready(), ready()) {
                self.parked.store(false, Ordering::Relaxed);
                return true;
            }
            let timed_out = match deadline {
                Deadline::Never => {
                    park();
                    false
                }
                Deadline::At(d) => park_until(d),
            };
            self.parked.store(false, Ordering::Relaxed);
            if timed_out {
                return ready();
            }
        }
        unreachable!("a wait of more rounds than usize counts")
    }
}
