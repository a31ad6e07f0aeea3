//! Python's [`concurrent.futures`](https://docs.python.org/3/library/concurrent.futures.html)
//! for Rust: [`Future`], [`wait`], [`as_completed`] and [`ThreadPoolExecutor`] behind the
//! [`Executor`] trait (over tasks declared with [`task!`]), built on one packed atomic word
//! per future, an intrusive list of waiters and a lock-free injector queue.
//!
//! ```
//! use concurrent_futures::{ThreadPoolExecutor, as_completed};
//!
//! let pool = ThreadPoolExecutor::new(4).unwrap();
//! let futures: Vec<_> = (1..=4u64).map(|n| pool.submit(move || n * n).unwrap()).collect();
//! let sum: u64 = as_completed(&futures).map(|f| *f.unwrap().result().unwrap()).sum();
//! assert_eq!(sum, 30);
//! ```
//!
//! A [`Future<T>`] is the eventual outcome of a computation: a value, an [`Exception`] the
//! task raised, or a cancellation. Any number of threads can block on it
//! ([`Future::result`], with a `_timeout` twin), `.await` it in any async runtime, register
//! done-callbacks, or wait on many futures at once with [`wait`] and [`as_completed`].
//!
//! Futures can also be completed by hand, as Python's own tests do:
//!
//! ```
//! use concurrent_futures::{Future, ReturnWhen, as_completed, wait};
//! use std::thread;
//!
//! let futures: Vec<Future<u64>> = (0..4).map(|_| Future::new()).collect();
//! let workers: Vec<_> = futures
//!     .iter()
//!     .cloned()
//!     .enumerate()
//!     .map(|(i, f)| {
//!         thread::spawn(move || {
//!             if f.set_running_or_notify_cancel().unwrap() {
//!                 f.set_result(i as u64 * 10).unwrap();
//!             }
//!         })
//!     })
//!     .collect();
//!
//! let first = wait(&futures, ReturnWhen::FirstCompleted);
//! assert!(!first.done.is_empty());
//!
//! let total: u64 = as_completed(&futures).map(|f| *f.unwrap().result().unwrap()).sum();
//! assert_eq!(total, 60);
//! for w in workers {
//!     w.join().unwrap();
//! }
//! ```
//!
//! # Guarantees
//!
//! * **Happens-before.** Everything the completing thread did before `set_result` (or
//!   `set_exception`, or `cancel`) is visible to every thread that sees the future done:
//!   through `result`, `done`, `wait`, `as_completed`, `.await` or a callback.
//! * **No lost wake-up.** A waiter either sees the outcome when it registers, or is on the
//!   list the completer drains; `docs/state-machine.md` gives the argument and `loom-tests/`
//!   checks it.
//! * **Cancel is terminal.** A cancelled future wakes every waiter at once, unlike CPython,
//!   where `wait` and `as_completed` hang on it (gh-92001, gh-109934, gh-87893).
//! * **Callbacks run exactly once**, in registration order; a panicking one is logged
//!   (target `concurrent_futures`) and the rest still run.
//!
//! `docs/api.md` maps every Python name to its Rust item and lists each deliberate
//! difference.

#![warn(missing_docs)]

// First, so that `plant!` is in scope in every module after it.
#[macro_use]
mod plant;
mod as_completed;
mod context;
mod deadline;
mod error;
mod executor;
mod future;
#[cfg(all(feature = "mpi", unix, not(concurrent_futures_loom)))]
mod mpi;
mod preempt;
#[cfg(all(unix, not(concurrent_futures_loom)))]
mod process_pool;
mod sync;
mod thread_pool;
mod timer;
mod unwind;
mod wait;

#[cfg(all(feature = "mpi", unix, not(concurrent_futures_loom)))]
pub use self::mpi::{MpiBuilder, MpiCommExecutor};
pub use as_completed::{AsCompleted, as_completed, as_completed_timeout};
pub use error::{
    BrokenKind, BuildError, Error, Exception, ExceptionKind, ExceptionRecord, InvalidStateError,
    NotATask, RemoteError, ShutdownTimedOut, SubmitError,
};
#[doc(hidden)]
pub use executor::task::__private;
pub use executor::task::TaskError;
pub use executor::{Executor, Map, MapOptions, Shutdown};
pub use future::{
    CancelToken, Future, OwnedResultFuture, ResultFuture, State, Waitable, cancel_requested,
    check_cancel,
};
#[cfg(all(unix, not(concurrent_futures_loom)))]
pub use process_pool::{ProcessPoolBuilder, ProcessPoolExecutor, init as process_worker_init};
pub use thread_pool::{
    Histogram, Initializer, PoolMetrics, Scope, SubmitAsync, ThreadPoolBuilder, ThreadPoolExecutor,
    WakePolicy, WhenFull, default_max_workers,
};
pub use wait::{DoneAndNotDone, ReturnWhen, wait, wait_timeout};

/// Entry points of the fuzz targets in `fuzz/` (built with `--cfg fuzzing`).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod __fuzz {
    /// Link, unlink and drain on the intrusive waiter list against a `VecDeque` model.
    pub fn waiter_list(data: &[u8]) {
        crate::future::waiters::fuzz::run(data)
    }

    /// The process pool's frame reader on arbitrary bytes: an error or a clean end, never a
    /// panic, a hang or an allocation beyond what arrived.
    pub fn frames(data: &[u8]) {
        crate::process_pool::fuzz_reader(data)
    }
}
