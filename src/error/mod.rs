//! Errors: [`Error`] (what a wait for a result can end with), [`Exception`] (what a task raised),
//! [`InvalidStateError`] and [`SubmitError`].
//!
//! Python → Rust: `CancelledError` → [`Error::Cancelled`], `TimeoutError` →
//! [`Error::Timeout`], an exception raised by the callable → [`Error::Exception`],
//! `BrokenThreadPool` / `BrokenProcessPool` → an [`Exception`] of kind [`BrokenKind`],
//! `InvalidStateError` → [`InvalidStateError`], `RuntimeError('cannot schedule new futures
//! after shutdown')` → [`SubmitError::Shutdown`].

use std::error::Error as StdError;
use std::fmt;

use crate::State;

mod exception;
mod wire;

pub(crate) use exception::short_type_name;
pub use exception::{BrokenKind, Exception};
pub use wire::{ExceptionKind, ExceptionRecord, RemoteError};

/// Why waiting for a future's outcome did not produce a value.
///
/// Python raises these as `CancelledError`, `TimeoutError` and the task's own exception.
///
/// ```
/// use concurrent_futures::{Error, Future};
/// use std::time::Duration;
///
/// let fut: Future<u32> = Future::new();
/// match fut.result_timeout(Duration::ZERO) {
///     Err(Error::Timeout { unfinished, total }) => assert_eq!((unfinished, total), (1, 1)),
///     other => panic!("{other:?}"),
/// }
/// fut.cancel();
/// assert!(matches!(fut.result(), Err(Error::Cancelled)));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// The future was cancelled before it ran (Python's `CancelledError`).
    Cancelled,
    /// The timeout passed first (Python's `TimeoutError`). `unfinished` of `total` futures had
    /// not finished; for a single future's `result_timeout` both are 1.
    Timeout {
        /// How many of the awaited futures were still unfinished at the deadline.
        unfinished: usize,
        /// How many distinct futures were awaited.
        total: usize,
    },
    /// The task raised (panicked or returned an error); the exception it raised.
    Exception(Exception),
}

impl Error {
    /// The exception, if this error carries one.
    pub fn exception(&self) -> Option<&Exception> {
        match self {
            Error::Exception(e) => Some(e),
            _ => None,
        }
    }

    /// `true` for [`Error::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled)
    }

    /// `true` for [`Error::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Cancelled => f.write_str("the future was cancelled"),
            Error::Timeout { unfinished, total } => write!(
                f,
                "timed out: {unfinished} (of {total}) futures unfinished; \
                 wait longer, or cancel the ones still pending"
            ),
            Error::Exception(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Exception(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Exception> for Error {
    fn from(e: Exception) -> Self {
        Error::Exception(e)
    }
}

/// A state transition that the future's state does not allow: setting a result twice, or
/// starting a future that is running or finished. Python's `InvalidStateError` (and the
/// `RuntimeError('Future in unexpected state')` of `set_running_or_notify_cancel`).
///
/// Its message names the state, as CPython's does:
///
/// ```
/// use concurrent_futures::Future;
///
/// let fut = Future::new();
/// fut.set_result(1u64).unwrap();
/// let err = fut.set_result(2).unwrap_err();
/// assert_eq!(err.to_string(), "FINISHED: <Future state=finished returned u64>");
/// assert_eq!(*fut.result().unwrap(), 1); // the first value is kept
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidStateError {
    state: State,
    repr: String,
}

impl InvalidStateError {
    pub(crate) fn new(state: State, repr: String) -> Self {
        InvalidStateError { state, repr }
    }

    /// The state the future was in when the transition was refused.
    pub fn state(&self) -> State {
        self.state
    }
}

impl fmt::Display for InvalidStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.state {
            State::Pending => "PENDING",
            State::Running => "RUNNING",
            State::Cancelled => "CANCELLED",
            State::Finished => "FINISHED",
        };
        write!(f, "{name}: {}", self.repr)
    }
}

impl StdError for InvalidStateError {}

/// Why an executor could not be built: an option out of range or malformed (Python's
/// `ValueError` from the constructor). Checked before any thread starts.
///
/// ```
/// use concurrent_futures::{BuildError, ThreadPoolExecutor};
///
/// let err = ThreadPoolExecutor::builder().thread_name_prefix("a\0b").build().unwrap_err();
/// assert!(matches!(err, BuildError::InvalidArgument(_)));
/// assert!(err.to_string().starts_with("invalid argument: thread_name_prefix"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// An option was out of range or malformed; the message says which, and why.
    InvalidArgument(&'static str),
    /// A function given where a declared task is needed (a process pool's initializer).
    NotATask(NotATask),
    /// MPI could not be started or used as the executor needs (`--features mpi`); the
    /// message says what MPI reported and what to do.
    Mpi(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            BuildError::NotATask(e) => write!(f, "{e}"),
            BuildError::Mpi(what) => write!(f, "MPI: {what}"),
        }
    }
}

impl StdError for BuildError {}

/// Why an executor refused a task.
///
/// ```
/// use concurrent_futures::{Exception, SubmitError};
///
/// let e = SubmitError::Broken(Exception::broken_thread_pool("an initializer failed"));
/// assert!(e.to_string().contains("BrokenThreadPool"));
/// assert!(SubmitError::Shutdown.to_string().contains("after shutdown"));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SubmitError {
    /// The executor was shut down (Python: `RuntimeError('cannot schedule new futures after
    /// shutdown')`).
    Shutdown,
    /// The executor is broken and runs nothing more (Python: `BrokenExecutor`).
    Broken(Exception),
    /// An argument was out of range (Python: `ValueError`), e.g. a zero `chunksize`.
    InvalidArgument(&'static str),
    /// A function (or a closure) given where a declared task is needed (Python:
    /// `PicklingError`).
    NotATask(NotATask),
    /// The pool's queue is full (`ThreadPoolBuilder::max_queued`): `try_submit`, a
    /// `WhenFull::Reject` pool, or a `WhenFull::Block` wait that timed out.
    Full {
        /// The pool's bound.
        max_queued: usize,
    },
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Shutdown => {
                f.write_str("cannot schedule new futures after shutdown; create a new executor")
            }
            SubmitError::Broken(e) => write!(
                f,
                "the executor is broken and runs no more tasks ({e}); create a new executor"
            ),
            SubmitError::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            SubmitError::NotATask(e) => fmt::Display::fmt(e, f),
            SubmitError::Full { max_queued } => write!(
                f,
                "the pool's queue is full (max_queued = {max_queued}), so the task was not \
                 accepted; retry later, await submit_async, or build the pool with a larger \
                 max_queued or WhenFull::Block"
            ),
        }
    }
}

/// No `source()`: the message already includes the inner error (the broken executor's
/// reason, the undeclared task), so a source chain would say it twice. Match the variant to
/// reach it.
impl StdError for SubmitError {}

impl SubmitError {
    /// The exception a future (or a map item) refused this way ends with: a broken
    /// executor's own exception, so `broken_kind()` still tells; any other refusal wrapped.
    pub(crate) fn into_exception(self) -> Exception {
        match self {
            SubmitError::Broken(e) => e,
            other => Exception::new(other),
        }
    }
}

/// A shutdown with a timeout (`ThreadPoolExecutor::shutdown_timeout`,
/// `ProcessPoolExecutor::shutdown_timeout`) gave up: these workers were still running. The
/// pool stays shut down; they exit once their tasks return, and a later
/// `shutdown(wait = true)` waits for them.
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
/// use std::time::Duration;
///
/// let pool = ThreadPoolExecutor::builder().thread_name_prefix("crunch").build().unwrap();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let (started_tx, started) = std::sync::mpsc::channel();
/// pool.submit(move || { started_tx.send(()).unwrap(); rx.recv().ok() }).unwrap();
/// started.recv().unwrap();
/// let e = pool.shutdown_timeout(false, Duration::from_millis(10)).unwrap_err();
/// assert_eq!((e.running, e.processes), (1, false));
/// assert!(e.to_string().starts_with("shutdown timed out: 1 worker thread still running (crunch_0)"));
/// drop(tx);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownTimedOut {
    /// Workers (threads, or processes when `processes`) that had not exited at the deadline.
    pub running: usize,
    /// A thread pool's: their names, as far as known (a thread that was just starting has
    /// none yet).
    pub threads: Vec<String>,
    /// A process pool's: the pids of the worker processes still running (one that has
    /// just ended and is being reaped is counted in `running` but has no pid to name).
    pub pids: Vec<u32>,
    /// `true` for a process pool: `running` counts worker processes.
    pub processes: bool,
}

impl fmt::Display for ShutdownTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.running;
        if self.processes {
            let es = if n == 1 { "" } else { "es" };
            let pids: Vec<String> = self.pids.iter().map(|p| format!("pid {p}")).collect();
            write!(
                f,
                "shutdown timed out: {n} worker process{es} still running"
            )?;
            if !pids.is_empty() {
                write!(f, " ({})", pids.join(", "))?;
            }
            return f.write_str(
                "; the pool accepts no new tasks, its workers exit once their calls return, \
                 and kill_workers() ends them now",
            );
        }
        let s = if n == 1 { "" } else { "s" };
        write!(f, "shutdown timed out: {n} worker thread{s} still running")?;
        if !self.threads.is_empty() {
            write!(f, " ({})", self.threads.join(", "))?;
        }
        f.write_str(
            "; the pool accepts no new tasks, its threads exit once their tasks return, and \
             a later shutdown(wait = true) joins them (a task that never returns can use \
             cooperative cancellation to stop)",
        )
    }
}

impl StdError for ShutdownTimedOut {}

/// A function (or closure) given where a declared task is needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotATask {
    /// Its type name: the function's path, or the closure's `{{closure}}` path.
    pub name: &'static str,
    /// Declared more than once under this name (two versions of one crate in the build).
    pub ambiguous: bool,
}

impl fmt::Display for NotATask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name;
        if self.ambiguous {
            write!(
                f,
                "`{name}` is declared as a task more than once (two versions of its crate in \
                 this build?): a call by that name could run either, so it is refused; keep \
                 one version of the crate"
            )
        } else if name.contains("{{closure}}") {
            write!(
                f,
                "`{name}` is a closure, not a declared task: closures cannot cross a process \
                 boundary; write it as a function inside `concurrent_futures::task! {{ .. }}`, \
                 or submit the closure to a thread pool with `submit`"
            )
        } else if name.starts_with("fn(") || name.starts_with("unsafe fn(") {
            write!(
                f,
                "`{name}` is a function pointer, which names no task: pass the declared \
                 function itself (`submit_task(is_prime, n)`, not a `fn` variable)"
            )
        } else {
            write!(
                f,
                "`{name}` is not declared as a task: write its definition inside \
                 `concurrent_futures::task! {{ .. }}` at module level"
            )
        }
    }
}

impl StdError for NotATask {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_source_chain_reaches_the_task_error() {
        #[derive(Debug)]
        struct Inner;
        impl fmt::Display for Inner {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("inner")
            }
        }
        impl StdError for Inner {}
        let e = Error::Exception(Exception::new(Inner));
        let src = e.source().expect("an exception error has a source");
        assert_eq!(src.to_string(), "inner");
        assert!(Error::Cancelled.source().is_none());
    }
}
