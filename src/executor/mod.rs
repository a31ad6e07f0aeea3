//! The [`Executor`] trait (Python's `concurrent.futures.Executor`, for every backend), its
//! [`Shutdown`] options, and the ordered, lazy [`Map`] iterator.
//!
//! `Executor` is what a program written for any backend uses: declared tasks
//! ([`task!`](crate::task)) submitted by name, `map` over them, and shutdown. Closures, which
//! cannot leave the process, are the thread pool's own methods
//! ([`ThreadPoolExecutor::submit`](crate::ThreadPoolExecutor::submit) and its siblings).

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::deadline::Deadline;
use crate::error::{Error, Exception, SubmitError};
use crate::future::Future;
use crate::sync::Arc;

pub(crate) mod task;

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

/// A copy of a result made through its serde encoding, for a map whose executor keeps
/// other handles to the future.
fn copy_through_serde<R: Serialize + DeserializeOwned>(value: &R) -> Result<R, Exception> {
    postcard::to_allocvec(value)
        .and_then(|bytes| postcard::from_bytes(&bytes))
        .map_err(|e| Exception::msg(format!("copying a map result through serde failed: {e}")))
}

type SubmitNext<'a, T> = Box<dyn FnMut() -> Option<Result<Entry<T>, SubmitError>> + 'a>;

/// One item of a [`Map`]: its task's future, and how its value comes out.
pub(crate) enum Entry<T> {
    /// The executor refused the item's submit (only a lazy map's later items).
    Refused(SubmitError),
    /// A future its executor keeps no handle to and registers no callback on (this crate's
    /// pools): once it is finished, this map holds its only handle and moves the value out.
    Direct(Future<T>),
    /// Any executor's future: the value is moved out when this map holds the only handle,
    /// and copied with the function otherwise.
    Shared(Future<T>, fn(&T) -> Result<T, Exception>),
}

impl<T> Entry<T> {
    fn cancel(&self) -> bool {
        match self {
            Entry::Refused(_) => false,
            Entry::Direct(f) | Entry::Shared(f, _) => f.cancel(),
        }
    }

    /// Waits for the task until `deadline`; `Ok` if it finished without raising.
    fn wait(&self, deadline: Deadline) -> Result<(), Error> {
        fn on<U>(f: &Future<U>, deadline: Deadline) -> Result<(), Error> {
            match deadline.remaining() {
                Some(left) => f.result_timeout(left).map(|_| ()),
                None => f.result().map(|_| ()),
            }
        }
        match self {
            Entry::Refused(e) => Err(Error::Exception(e.clone().into_exception())),
            Entry::Direct(f) | Entry::Shared(f, _) => on(f, deadline),
        }
    }

    /// The value of a task that finished without raising.
    fn take(self) -> Result<T, Error> {
        match self {
            Entry::Refused(e) => Err(Error::Exception(e.into_exception())),
            Entry::Direct(f) => f.try_into_result().unwrap_or_else(|_| {
                Err(Error::Exception(Exception::msg(
                    "another handle to a map's future exists, so its value cannot be moved out",
                )))
            }),
            Entry::Shared(f, copy) => match f.try_into_result() {
                Ok(r) => r,
                Err(shared) => shared
                    .result()
                    .and_then(|v| copy(v).map_err(Error::Exception)),
            },
        }
    }
}

/// Options of [`Executor::map_task`] and of the thread pool's closure `map_with`.
///
/// ```
/// use concurrent_futures::MapOptions;
/// use std::time::Duration;
///
/// let o = MapOptions::default().timeout(Duration::from_secs(5)).chunksize(8).buffersize(64);
/// # let _ = o;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapOptions {
    timeout: Option<Duration>,
    chunksize: Option<usize>,
    buffersize: Option<usize>,
}

impl MapOptions {
    /// The whole map must finish within `timeout`, measured from the `map` call. When the
    /// result being waited for is late, it and every later one are cancelled, the iterator
    /// yields `Err(Error::Timeout { .. })` and ends.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Items per task, for executors that send tasks to other processes, where batching
    /// saves a round trip per item (Python's `ProcessPoolExecutor`; this crate has no such
    /// executor yet). Checked by every executor (zero is an error); the thread pool submits
    /// one item per task, as Python's does.
    pub fn chunksize(mut self, n: usize) -> Self {
        self.chunksize = Some(n);
        self
    }

    /// At most `n` tasks in flight: items are pulled from the input lazily. Zero is an error.
    pub fn buffersize(mut self, n: usize) -> Self {
        self.buffersize = Some(n);
        self
    }

    fn validate(&self) -> Result<(), SubmitError> {
        if self.chunksize == Some(0) {
            return Err(SubmitError::InvalidArgument("chunksize must be >= 1"));
        }
        if self.buffersize == Some(0) {
            return Err(SubmitError::InvalidArgument(
                "buffersize must be None or > 0",
            ));
        }
        Ok(())
    }
}

/// The results of [`Executor::map_task`] (and of the thread pool's closure `map`), in input order.
///
/// It borrows only its input (`'a`), never the executor, so it can be made inside a scope
/// and read after it, as Python's `with` block allows. An eager map has submitted every
/// item when `map` returns; a lazy one (`buffersize`) keeps its own executor handle, and so
/// the pool, until it has submitted the last item.
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
///
/// let squares = {
///     let pool = ThreadPoolExecutor::new(2).unwrap();
///     pool.map(|x: u64| x * x, 1..=4).unwrap()
/// }; // the last pool handle went: its drop waited for the four tasks, as Python's `with`
/// assert_eq!(squares.map(Result::unwrap).collect::<Vec<_>>(), [1, 4, 9, 16]);
/// ```
///
/// `Map` is not `Send`: a lazy map pulls its input on the thread that iterates it, and that
/// input may hold an `Rc` (Python takes any iterable). Iterate it where it was made.
///
/// After a timeout or [`cancel`](Self::cancel), a lazy map pulls no more input: items not
/// yet pulled are neither run nor reported (an endless input could not be counted), and
/// [`Error::Timeout`]'s `total` counts the items submitted.
#[must_use = "results are yielded lazily; once iterated, dropping it cancels what has not started"]
pub struct Map<'a, T> {
    pending: VecDeque<Entry<T>>,
    /// `next()` was called: from then on, dropping the map cancels what has not started.
    started: bool,
    /// Results yielded so far.
    yielded: usize,
    /// With a buffer size: submits the next item.
    next: Option<SubmitNext<'a, T>>,
    deadline: Deadline,
    done: bool,
}

impl<T> fmt::Debug for Map<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("pending", &self.pending.len())
            .field("lazy", &self.next.is_some())
            .field("done", &self.done)
            .finish()
    }
}

impl<'a, T> Map<'a, T> {
    /// Submits the items through `submit` (all of them, or `buffersize` at first) and
    /// returns the iterator over their results.
    pub(crate) fn start<A, F, I>(
        options: MapOptions,
        items: I,
        f: F,
        mut submit: impl FnMut(Arc<F>, A) -> Result<Entry<T>, SubmitError> + 'a,
    ) -> Result<Self, SubmitError>
    where
        F: 'a,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        options.validate()?;
        let deadline = Deadline::from_timeout(options.timeout);
        let f = Arc::new(f);
        let mut items = items.into_iter();
        let mut submit_next = move || -> Option<Result<Entry<T>, SubmitError>> {
            let item = items.next()?;
            Some(submit(f.clone(), item))
        };
        let mut pending = VecDeque::new();
        let limit = options.buffersize.unwrap_or(usize::MAX);
        while pending.len() < limit {
            match submit_next() {
                Some(Ok(entry)) => pending.push_back(entry),
                Some(Err(e)) => {
                    for entry in &pending {
                        entry.cancel();
                    }
                    return Err(e);
                }
                None => break,
            }
        }
        Ok(Map {
            pending,
            started: false,
            yielded: 0,
            next: options
                .buffersize
                .map(|_| Box::new(submit_next) as SubmitNext<'a, T>),
            deadline,
            done: false,
        })
    }

    /// Cancels every item that has not started and submits no more; the iterator then ends.
    /// Returns how many were cancelled. Python has no such call: its map cancels only when
    /// its generator is closed after the first `next()`, which dropping a started `Map` does.
    ///
    /// ```
    /// use concurrent_futures::{Executor, ThreadPoolExecutor};
    ///
    /// let pool = ThreadPoolExecutor::new(1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let rx = std::sync::Mutex::new(rx);
    /// let mut it = pool.map(move |x: u32| { if x == 0 { rx.lock().unwrap().recv().unwrap() } x }, 0..5).unwrap();
    /// let cancelled = it.cancel(); // item 0 runs (or waits to), 1..5 are still queued
    /// assert!(cancelled >= 4);
    /// let _ = tx.send(()); // item 0, if it started, may finish
    /// assert!(it.next().is_none()); // a cancelled map ends
    /// ```
    pub fn cancel(&mut self) -> usize {
        let n = self.pending.iter().filter(|e| e.cancel()).count();
        self.cancel_rest();
        n
    }

    fn cancel_rest(&mut self) {
        for entry in self.pending.drain(..) {
            entry.cancel();
        }
        self.next = None;
        self.done = true;
    }
}

impl<T> Iterator for Map<'_, T> {
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.started = true;
        if self.done {
            return None;
        }
        let Some(entry) = self.pending.pop_front() else {
            self.done = true;
            return None;
        };
        let outcome = entry.wait(self.deadline);
        if let Err(Error::Timeout { .. }) = outcome {
            // gh-95166: the awaited future is cancelled too, then every later one.
            entry.cancel();
            let unfinished = 1 + self.pending.len();
            let total = self.yielded + unfinished;
            self.cancel_rest();
            return Some(Err(Error::Timeout { unfinished, total }));
        }
        self.yielded += 1;
        // Keep the buffer full: one more item in, now that one result is out. A refused
        // submit is that item's error, and so is every later one's.
        if let Some(next) = self.next.as_mut() {
            match next() {
                Some(Ok(e)) => self.pending.push_back(e),
                Some(Err(e)) => self.pending.push_back(Entry::Refused(e)),
                None => self.next = None,
            }
        }
        Some(outcome.and_then(|()| entry.take()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.next.is_some() {
            (self.pending.len(), None)
        } else {
            (self.pending.len(), Some(self.pending.len()))
        }
    }
}

impl<T> Drop for Map<'_, T> {
    /// Cancels what has not started, once `next()` was called; before that, every submitted
    /// item runs, as in Python (its map's generator never started).
    fn drop(&mut self) {
        if self.started {
            self.cancel_rest();
        }
    }
}
