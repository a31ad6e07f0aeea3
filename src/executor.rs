//! The [`Executor`] trait (Python's `concurrent.futures.Executor`) and its ordered, lazy
//! [`Map`] iterator.

use std::collections::VecDeque;
use std::error::Error as StdError;
use std::fmt;
use std::time::{Duration, Instant};

use crate::error::{Error, SubmitError};
use crate::future::{Future, deadline_after};
use crate::sync::Arc;

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
    /// is yielded as its `Err` and does not cancel the others. Dropping the iterator cancels
    /// what has not started.
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
    /// each result is taken, so an endless iterator works:
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
        options.validate()?;
        let deadline = options.timeout.map(|t| deadline_after(Some(t)));
        let f = Arc::new(f);
        let mut items = items.into_iter();
        let mut submit_next = move || -> Option<Result<Future<T>, SubmitError>> {
            let item = items.next()?;
            let f = f.clone();
            Some(self.submit(move || f(item)))
        };
        let mut pending = VecDeque::new();
        let limit = options.buffersize.unwrap_or(usize::MAX);
        while pending.len() < limit {
            match submit_next() {
                Some(Ok(fut)) => pending.push_back(fut),
                Some(Err(e)) => {
                    for f in &pending {
                        f.cancel();
                    }
                    return Err(e);
                }
                None => break,
            }
        }
        Ok(Map {
            pending,
            yielded: 0,
            next: options
                .buffersize
                .map(|_| Box::new(submit_next) as SubmitNext<'a, T>),
            deadline,
            done: false,
        })
    }

    /// Python's `shutdown(wait, cancel_futures)`: refuse new tasks; with `cancel_futures`,
    /// cancel every queued task (its waiters wake at once); with `wait`, return once the
    /// running and remaining tasks have finished. Safe to call more than once.
    fn shutdown(&self, wait: bool, cancel_futures: bool);
}

type SubmitNext<'a, T> = Box<dyn FnMut() -> Option<Result<Future<T>, SubmitError>> + 'a>;

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
#[must_use = "results are yielded lazily; dropping the iterator cancels what has not started"]
pub struct Map<'a, T> {
    pending: VecDeque<Future<T>>,
    /// Results yielded so far.
    yielded: usize,
    /// With a buffer size: submits the next item.
    next: Option<SubmitNext<'a, T>>,
    /// `None` inside: the timeout was too large to matter.
    deadline: Option<Option<Instant>>,
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

impl<T> Map<'_, T> {
    fn cancel_rest(&mut self) {
        for f in self.pending.drain(..) {
            f.cancel();
        }
        self.next = None;
        self.done = true;
    }
}

impl<T> Iterator for Map<'_, T> {
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let Some(fut) = self.pending.pop_front() else {
            self.done = true;
            return None;
        };
        let outcome = match self.deadline {
            Some(Some(d)) => {
                let left = d.saturating_duration_since(Instant::now());
                fut.result_timeout(left).map(|_| ())
            }
            _ => fut.result().map(|_| ()),
        };
        if let Err(Error::Timeout { .. }) = outcome {
            // gh-95166: the awaited future is cancelled too, then every later one.
            fut.cancel();
            let unfinished = 1 + self.pending.len();
            let total = self.yielded + unfinished;
            self.cancel_rest();
            return Some(Err(Error::Timeout { unfinished, total }));
        }
        self.yielded += 1;
        // Keep the buffer full: one more item in, now that one result is out.
        if let Some(next) = self.next.as_mut() {
            match next() {
                Some(Ok(f)) => self.pending.push_back(f),
                Some(Err(_)) | None => self.next = None,
            }
        }
        Some(fut.take_sole())
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
    fn drop(&mut self) {
        self.cancel_rest();
    }
}
