//! The [`Executor`] trait (Python's `concurrent.futures.Executor`) and its ordered, lazy
//! [`Map`] iterator.

use std::collections::VecDeque;
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::error::{Error, Exception, SubmitError};
use crate::future::Future;
use crate::sync::{Arc, Mutex, lock};

pub(crate) mod task;

/// Python's `Executor`: submit callables, map over items, shut down.
///
/// ```
/// use concurrent_futures::{Executor, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::new(2).unwrap();
/// let squares: Vec<u64> = pool.map(|x: u64| x * x, 0..5).unwrap().map(Result::unwrap).collect();
/// assert_eq!(squares, [0, 1, 4, 9, 16]);
/// pool.shutdown(true, false);
/// assert!(pool.submit(|| 1).is_err());
/// ```
pub trait Executor {
    /// Schedules `f` and returns the future of its result. A panic in `f` finishes the
    /// future with an exception ([`Exception::is_panic`](crate::Exception::is_panic)).
    fn submit<T, F>(&self, f: F) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static;

    /// Schedules a fallible `f`: an `Err` finishes the future with that error as its
    /// exception, so `wait(…, FirstException)` fires on it, as on a panic.
    ///
    /// ```
    /// use concurrent_futures::{Executor, ThreadPoolExecutor};
    ///
    /// let pool = ThreadPoolExecutor::new(1).unwrap();
    /// let fut = pool.submit_fallible(|| "x".parse::<u32>()).unwrap();
    /// let e = fut.exception().unwrap().unwrap();
    /// assert!(e.downcast_ref::<std::num::ParseIntError>().is_some()); // its type is kept
    /// assert_eq!(e.to_string(), "invalid digit found in string");
    /// ```
    fn submit_fallible<T, E, F>(&self, f: F) -> Result<Future<T>, SubmitError>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>>;

    /// Python's `map(fn, items)`: calls `f` on every item and yields the results in input
    /// order. Every item is submitted before this returns, as in Python; one item's failure
    /// is yielded as its `Err` and does not cancel the others. Dropping the iterator before
    /// its first `next()` cancels nothing (so `pool.map(f, items);` runs every item, as in
    /// Python); after it, dropping cancels what has not started (CPython ≤ 3.14), and
    /// [`Map::cancel`] does so at any time.
    fn map<'a, A, T, F, I>(&'a self, f: F, items: I) -> Result<Map<'a, T>, SubmitError>
    where
        Self: Sized,
        F: Fn(A) -> T + Send + Sync + 'static,
        A: Send + 'static,
        T: Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        self.map_with(f, items, MapOptions::default())
    }

    /// `map` with a timeout, a chunk size or a buffer size ([`MapOptions`]).
    ///
    /// With a `buffersize` of n, at most n items are submitted at a time, the next one as
    /// each result is taken, so an endless iterator works. If the executor refuses one of
    /// those later submits (it was shut down, or broke), that item and every later one is
    /// yielded as an `Err` carrying the [`SubmitError`]: no input goes missing.
    ///
    /// ```
    /// use concurrent_futures::{Executor, MapOptions, ThreadPoolExecutor};
    ///
    /// let pool = ThreadPoolExecutor::new(2).unwrap();
    /// let first: Vec<u64> = pool
    ///     .map_with(|x: u64| x + 1, 0.., MapOptions::default().buffersize(2))
    ///     .unwrap()
    ///     .take(3)
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(first, [1, 2, 3]);
    /// ```
    fn map_with<'a, A, T, F, I>(
        &'a self,
        f: F,
        items: I,
        options: MapOptions,
    ) -> Result<Map<'a, T>, SubmitError>
    where
        Self: Sized,
        F: Fn(A) -> T + Send + Sync + 'static,
        A: Send + 'static,
        T: Send + 'static,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        // Any executor may keep handles to the futures it makes (to cancel them at shutdown,
        // say), so the value cannot be moved out of them: each task leaves its value in a
        // relay that only this map holds, and its future only says how it ended.
        Map::start(options, items, f, move |f, item| {
            let relay = Arc::new(Mutex::new(None));
            let out = relay.clone();
            let fut = self.submit(move || *lock(&out) = Some(f(item)))?;
            Ok(Entry::Relayed(fut, relay))
        })
    }

    /// Python's `shutdown(wait, cancel_futures)`: refuse new tasks; with `cancel_futures`,
    /// cancel every queued task (its waiters wake at once); with `wait`, return once the
    /// running and remaining tasks have finished. Safe to call more than once.
    fn shutdown(&self, wait: bool, cancel_futures: bool);
}

type SubmitNext<'a, T> = Box<dyn FnMut() -> Option<Result<Entry<T>, SubmitError>> + 'a>;

/// One item of a [`Map`]: its task's future, and where its value will be.
pub(crate) enum Entry<T> {
    /// The executor refused the item's submit (only a lazy map's later items).
    Refused(SubmitError),
    /// A future its executor keeps no handle to and registers no callback on (this crate's
    /// pools): once it is finished, this map holds its only handle and moves the value out.
    Direct(Future<T>),
    /// Any executor: the task's future tells how it ended, and the task left its value in
    /// the relay, which only the map and the task hold.
    Relayed(Future<()>, Arc<Mutex<Option<T>>>),
}

impl<T> Entry<T> {
    fn cancel(&self) -> bool {
        match self {
            Entry::Refused(_) => false,
            Entry::Direct(f) => f.cancel(),
            Entry::Relayed(f, _) => f.cancel(),
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
            Entry::Refused(e) => Err(Error::Exception(Exception::new(e.clone()))),
            Entry::Direct(f) => on(f, deadline),
            Entry::Relayed(f, _) => on(f, deadline),
        }
    }

    /// The value of a task that finished without raising.
    fn take(self) -> Result<T, Error> {
        match self {
            Entry::Refused(e) => Err(Error::Exception(Exception::new(e))),
            Entry::Direct(f) => f.try_into_result().unwrap_or_else(|_| {
                Err(Error::Exception(Exception::msg(
                    "another handle to a map's future exists, so its value cannot be moved out",
                )))
            }),
            Entry::Relayed(_, relay) => lock(&relay).take().ok_or_else(|| {
                Error::Exception(Exception::msg(
                    "the executor finished a map item's future without running its task",
                ))
            }),
        }
    }
}

/// Options of [`Executor::map_with`].
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

    /// Items per task. Accepted and checked (zero is an error) by every executor; the thread
    /// pool submits one item per task, as Python's does, while the process pool batches.
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

/// The results of [`Executor::map`], in input order.
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
