//! The [`Executor`] trait (Python's `concurrent.futures.Executor`, for every backend), its
//! [`Shutdown`] options, and the ordered, lazy [`Map`] iterator.
//!
//! `Executor` is what a program written for any backend uses: declared tasks
//! ([`task!`](crate::task)) submitted by name, `map` over them, and shutdown. Closures, which
//! cannot leave the process, are the thread pool's own methods
//! ([`ThreadPoolExecutor::submit`](crate::ThreadPoolExecutor::submit) and its siblings).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::SubmitError;
use crate::future::Future;

mod map;
pub(crate) mod task;

pub(crate) use map::{Entry, copy_through_serde};
pub use map::{Map, MapOptions};

/// Python's `Executor`, for every backend: run declared tasks, map over them, shut down.
///
/// A program written against it runs on the thread pool and, unchanged but for the
/// constructor, on the backends where tasks cross a process boundary: the seeds' `is_prime`
/// program, once for all of them.
///
/// ```
/// use concurrent_futures::{Executor, MapOptions, ThreadPoolExecutor, task};
///
/// task! {
///     fn is_prime(n: u64) -> bool {
///         n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
///     }
/// }
///
/// fn primes_among(executor: &impl Executor, candidates: Vec<u64>) -> Vec<u64> {
///     let flags = executor.map_task(is_prime, candidates.clone(), MapOptions::default()).unwrap();
///     candidates.into_iter().zip(flags).filter(|(_, p)| *p.as_ref().unwrap()).map(|(n, _)| n).collect()
/// }
///
/// let pool = ThreadPoolExecutor::new(2).unwrap();
/// assert_eq!(primes_among(&pool, (10..20).collect()), [11, 13, 17, 19]);
/// pool.shutdown(true, false);
/// assert!(pool.submit_task(is_prime, 7).is_err()); // refused after shutdown
/// ```
///
/// The shared part is object safe: `&dyn Executor` can shut any backend down.
pub trait Executor {
    /// Schedules the declared task `f` on `arg` and returns the future of its result. A
    /// closure or a function not declared with [`task!`](crate::task) is refused with
    /// [`SubmitError::NotATask`], which names it. A panic in `f` finishes the future with an
    /// exception ([`Exception::is_panic`](crate::Exception::is_panic)).
    fn submit_task<F, A, R>(&self, f: F, arg: A) -> Result<Future<R>, SubmitError>
    where
        Self: Sized,
        F: Fn(A) -> R + Send + Sync + 'static,
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static;

    /// Python's `map(fn, items, timeout=, chunksize=, buffersize=)` over a declared task:
    /// yields the results in input order ([`Map`]). Every item is submitted before this
    /// returns, unless [`MapOptions::buffersize`] makes it lazy. One item's failure is
    /// yielded as its `Err` and does not cancel the others.
    ///
    /// The provided version submits each item with [`submit_task`](Self::submit_task). An
    /// executor may keep handles to the futures it makes (to cancel them at shutdown, say);
    /// then the value cannot be moved out of a future, and the map yields a copy made
    /// through the result's serde encoding instead. It never waits for those handles to go.
    ///
    /// The map borrows nothing but its input: `Map<'static, R>` for an owned input, which
    /// may outlive this handle (a lazy map keeps its own clone of the executor).
    fn map_task<'a, F, A, R, I>(
        &self,
        f: F,
        items: I,
        options: MapOptions,
    ) -> Result<Map<'a, R>, SubmitError>
    where
        Self: Sized + 'a,
        F: Fn(A) -> R + Copy + Send + Sync + 'static,
        A: Serialize + DeserializeOwned + Send + 'static,
        R: Serialize + DeserializeOwned + Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        // Refused by name before anything is pulled, also for an empty input.
        task::name_of::<F>().map_err(SubmitError::NotATask)?;
        let executor = self.clone_handle();
        Map::start(options, items, f, move |f, item| {
            let fut = executor.submit_task(*f, item)?;
            Ok(Entry::Shared(fut, copy_through_serde::<R>))
        })
    }

    /// Another handle to the same executor, as cheap as cloning an `Arc` (a backend's
    /// `Clone`). A [`Map`] keeps one, so it borrows nothing but its input. It is a method
    /// rather than a `Clone` bound so that `&dyn Executor` stays possible.
    fn clone_handle(&self) -> Self
    where
        Self: Sized;

    /// Python's `shutdown`, with its options spelled out at the call site (see
    /// [`Shutdown`]). Safe to call more than once.
    fn shutdown_with(&self, options: Shutdown);

    /// Python's `shutdown(wait, cancel_futures)`: refuse new tasks; with `cancel_futures`,
    /// cancel every queued task (its waiters wake at once); with `wait`, return once the
    /// running and remaining tasks have finished. Safe to call more than once.
    fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.shutdown_with(Shutdown {
            wait,
            cancel_futures,
        });
    }
}

/// The options of [`Executor::shutdown_with`], with Python's defaults: wait for the running
/// and queued tasks, cancel nothing.
///
/// ```
/// use concurrent_futures::{Executor, Shutdown, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::new(1).unwrap();
/// pool.shutdown_with(Shutdown::default().cancel_futures(true)); // wait = true, as Python
/// pool.shutdown_with(Shutdown::default().wait(false)); // a second call is harmless
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shutdown {
    wait: bool,
    cancel_futures: bool,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown {
            wait: true,
            cancel_futures: false,
        }
    }
}

impl Shutdown {
    /// Return only once the running and remaining tasks have finished (default `true`).
    pub fn wait(mut self, wait: bool) -> Self {
        self.wait = wait;
        self
    }

    /// Cancel every task that has not started (default `false`).
    pub fn cancel_futures(mut self, cancel: bool) -> Self {
        self.cancel_futures = cancel;
        self
    }

    /// Whether this shutdown waits.
    pub fn waits(&self) -> bool {
        self.wait
    }

    /// Whether this shutdown cancels what has not started.
    pub fn cancels_futures(&self) -> bool {
        self.cancel_futures
    }
}
