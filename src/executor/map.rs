//! The ordered, lazy [`Map`] iterator of every executor's `map`, its [`MapOptions`], and
//! the entries it waits on: one future per item, or per chunk of items.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::deadline::Deadline;
use crate::error::{Error, Exception, SubmitError};
use crate::future::Future;
use crate::sync::Arc;

/// A copy of a result made through its serde encoding, for a map whose executor keeps
/// other handles to the future.
pub(crate) fn copy_through_serde<R: Serialize + DeserializeOwned>(
    value: &R,
) -> Result<R, Exception> {
    postcard::to_allocvec(value)
        .and_then(|bytes| postcard::from_bytes(&bytes))
        .map_err(|e| Exception::msg(format!("copying a map result through serde failed: {e}")))
}

/// Submits the next item (or chunk); a refusal says how many items it covered.
type SubmitNext<'a, T> = Box<dyn FnMut() -> Option<Result<Entry<T>, (SubmitError, usize)>> + 'a>;

/// One item of a [`Map`]: its task's future, and how its value comes out.
pub(crate) enum Entry<T> {
    /// The executor refused the submit of this many items (only a lazy map's later ones).
    Refused(SubmitError, usize),
    /// A future its executor keeps no handle to and registers no callback on (this crate's
    /// pools): once it is finished, this map holds its only handle and moves the value out.
    Direct(Future<T>),
    /// Any executor's future: the value is moved out when this map holds the only handle,
    /// and copied with the function otherwise.
    Shared(Future<T>, fn(&T) -> Result<T, Exception>),
    /// A chunk of this many items sent as one call (a process pool's `chunksize`): one
    /// result per item, so a failing item does not swallow its chunk's good results.
    #[cfg_attr(concurrent_futures_loom, allow(dead_code))] // the process pool's
    Chunk(Future<Vec<Result<T, Exception>>>, usize),
}

/// The value of a finished future this map holds the only handle to.
fn moved<U>(f: Future<U>) -> Result<U, Error> {
    f.try_into_result().unwrap_or_else(|_| {
        Err(Error::Exception(Exception::msg(
            "another handle to a map's future exists, so its value cannot be moved out",
        )))
    })
}

impl<T> Entry<T> {
    fn cancel(&self) -> bool {
        match self {
            Entry::Refused(..) => false,
            Entry::Direct(f) | Entry::Shared(f, _) => f.cancel(),
            Entry::Chunk(f, _) => f.cancel(),
        }
    }

    /// Cancels it if it has not started, or asks it to stop if it runs (`future/cancel.rs`).
    fn request_cancel(&self) -> bool {
        match self {
            Entry::Refused(..) => false,
            Entry::Direct(f) | Entry::Shared(f, _) => f.request_cancel(),
            Entry::Chunk(f, _) => f.request_cancel(),
        }
    }

    /// How many input items this entry stands for.
    fn items(&self) -> usize {
        match self {
            Entry::Refused(_, n) | Entry::Chunk(_, n) => *n,
            Entry::Direct(_) | Entry::Shared(..) => 1,
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
            Entry::Refused(e, _) => Err(Error::Exception(e.clone().into_exception())),
            Entry::Direct(f) | Entry::Shared(f, _) => on(f, deadline),
            Entry::Chunk(f, _) => on(f, deadline),
        }
    }

    /// The results of a task that finished (`waited` is how the wait ended), one per item,
    /// into `out`.
    fn take_into(self, waited: Result<(), Error>, out: &mut VecDeque<Result<T, Error>>) {
        match self {
            Entry::Chunk(f, n) => match waited.and_then(|()| moved(f)) {
                Ok(results) => {
                    let got = results.len();
                    out.extend(
                        results
                            .into_iter()
                            .take(n)
                            .map(|r| r.map_err(Error::Exception)),
                    );
                    // Nothing lost: a reply short of its chunk still yields one item each.
                    let missing = Exception::msg(format!(
                        "the executor answered a chunk of {n} items with {got} results"
                    ));
                    let short = n.saturating_sub(got);
                    out.extend(std::iter::repeat_n(Error::Exception(missing), short).map(Err));
                }
                Err(e) => out.extend(std::iter::repeat_n(e, n).map(Err)),
            },
            Entry::Refused(e, n) => {
                let e = Error::Exception(e.into_exception());
                out.extend(std::iter::repeat_n(e, n).map(Err));
            }
            single => out.push_back(waited.and_then(|()| single.take())),
        }
    }

    /// The value of a single item's task that finished without raising.
    fn take(self) -> Result<T, Error> {
        match self {
            Entry::Refused(e, _) => Err(Error::Exception(e.into_exception())),
            Entry::Chunk(..) => unreachable!("a chunk is taken by take_into"),
            Entry::Direct(f) => moved(f),
            Entry::Shared(f, copy) => match f.try_into_result() {
                Ok(r) => r,
                Err(shared) => shared
                    .result()
                    .and_then(|v| copy(v).map_err(Error::Exception)),
            },
        }
    }
}

/// Options of [`Executor::map_task`](crate::Executor::map_task) and of the thread pool's closure `map_with`.
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
    /// result being waited for is late, it and every later one are cancelled (those running
    /// are asked to stop: `Future::request_cancel`, which a `map_cancellable` task sees on
    /// its token), the iterator yields `Err(Error::Timeout { .. })` and ends.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Items per task, for executors that send tasks to other processes, where batching
    /// saves a round trip per item (the process pool sends each chunk as one call and
    /// yields its results one by one). Checked by every executor (zero is an error); the
    /// thread pool submits one item per task, as Python's does.
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

/// The results of [`Executor::map_task`](crate::Executor::map_task) (and of the thread pool's closure `map`), in input order.
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
    /// Results of a chunk not yet yielded.
    ready: VecDeque<Result<T, Error>>,
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
        let f = Arc::new(f);
        let mut items = items.into_iter();
        let submit_next = move || -> Option<Result<Entry<T>, (SubmitError, usize)>> {
            let item = items.next()?;
            Some(submit(f.clone(), item).map_err(|e| (e, 1)))
        };
        Self::fill(options, Box::new(submit_next))
    }

    /// As [`start`](Self::start), but `chunksize` items (the last chunk fewer) go to each
    /// submit, whose entry yields one result per item; `buffersize` counts chunks.
    #[cfg_attr(concurrent_futures_loom, allow(dead_code))] // the process pool's
    pub(crate) fn start_chunked<A, I>(
        options: MapOptions,
        items: I,
        mut submit: impl FnMut(Vec<A>) -> Result<Entry<T>, SubmitError> + 'a,
    ) -> Result<Self, SubmitError>
    where
        I: IntoIterator<Item = A>,
        I::IntoIter: 'a,
    {
        options.validate()?;
        let size = options.chunksize.unwrap_or(1);
        let mut items = items.into_iter();
        let submit_next = move || -> Option<Result<Entry<T>, (SubmitError, usize)>> {
            let chunk: Vec<A> = items.by_ref().take(size).collect();
            if chunk.is_empty() {
                return None;
            }
            let n = chunk.len();
            Some(submit(chunk).map_err(|e| (e, n)))
        };
        Self::fill(options, Box::new(submit_next))
    }

    /// Submits up to `buffersize` entries (all, without one) and builds the iterator.
    fn fill(options: MapOptions, mut submit_next: SubmitNext<'a, T>) -> Result<Self, SubmitError> {
        let deadline = Deadline::from_timeout(options.timeout);
        let mut pending = VecDeque::new();
        let limit = options.buffersize.unwrap_or(usize::MAX);
        while pending.len() < limit {
            match submit_next() {
                Some(Ok(entry)) => pending.push_back(entry),
                Some(Err((e, _))) => {
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
            ready: VecDeque::new(),
            started: false,
            yielded: 0,
            next: options.buffersize.map(|_| submit_next),
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
        let n = self
            .pending
            .iter()
            .filter(|e| e.cancel())
            .map(Entry::items)
            .sum();
        self.cancel_rest();
        n
    }

    fn cancel_rest(&mut self) {
        self.end_rest(Entry::cancel);
    }

    /// Ends the map: every entry left gets `end` (a cancel, or after a timeout a cancel
    /// request, which also asks running items to stop).
    fn end_rest(&mut self, end: fn(&Entry<T>) -> bool) {
        self.ready.clear();
        for entry in self.pending.drain(..) {
            end(&entry);
        }
        self.next = None;
        self.done = true;
    }
}

impl<T> Iterator for Map<'_, T> {
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.started = true;
        if let Some(r) = self.ready.pop_front() {
            return Some(r);
        }
        if self.done {
            return None;
        }
        let Some(entry) = self.pending.pop_front() else {
            self.done = true;
            return None;
        };
        let waited = entry.wait(self.deadline);
        if let Err(Error::Timeout { .. }) = waited {
            // gh-95166: the awaited future is cancelled too, then every later one; those
            // already running are asked to stop (a cancellable task sees it on its token).
            entry.request_cancel();
            let unfinished = entry.items() + self.pending.iter().map(Entry::items).sum::<usize>();
            let total = self.yielded + unfinished;
            self.end_rest(Entry::request_cancel);
            return Some(Err(Error::Timeout { unfinished, total }));
        }
        self.yielded += entry.items();
        // Keep the buffer full: one more entry in, now that one is out. A refused submit is
        // its items' error, and so is every later one's.
        if let Some(next) = self.next.as_mut() {
            match next() {
                Some(Ok(e)) => self.pending.push_back(e),
                Some(Err((e, n))) => self.pending.push_back(Entry::Refused(e, n)),
                None => self.next = None,
            }
        }
        entry.take_into(waited, &mut self.ready);
        self.ready.pop_front().or_else(|| self.next())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let known = self.ready.len() + self.pending.iter().map(Entry::items).sum::<usize>();
        if self.next.is_some() {
            (known, None)
        } else {
            (known, Some(known))
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
