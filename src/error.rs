//! Errors: [`Error`] (what a wait for a result can end with), [`Exception`] (what a task raised),
//! [`InvalidStateError`] and [`SubmitError`].
//!
//! Python → Rust: `CancelledError` → [`Error::Cancelled`], `TimeoutError` →
//! [`Error::Timeout`], an exception raised by the callable → [`Error::Exception`],
//! `BrokenThreadPool` / `BrokenProcessPool` → an [`Exception`] of kind [`BrokenKind`],
//! `InvalidStateError` → [`InvalidStateError`], `RuntimeError('cannot schedule new futures
//! after shutdown')` → [`SubmitError::Shutdown`].

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;

use crate::State;
use crate::sync::Arc;

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

/// Which executor broke, for an [`Exception`] of the broken-executor kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BrokenKind {
    /// Python's `BrokenThreadPool`: an initializer failed and the pool cannot run tasks.
    ThreadPool,
    /// Python's `BrokenProcessPool`: a worker process died or could not be started.
    ProcessPool,
}

impl BrokenKind {
    fn name(self) -> &'static str {
        match self {
            BrokenKind::ThreadPool => "BrokenThreadPool",
            BrokenKind::ProcessPool => "BrokenProcessPool",
        }
    }
}

enum Repr {
    Panic {
        message: String,
        /// `file:line:column`, when the panic was captured by a pool.
        location: Option<String>,
        /// The backtrace, when `RUST_BACKTRACE` asked for one (resolved when printed).
        backtrace: Option<std::backtrace::Backtrace>,
    },
    Error {
        error: Box<dyn StdError + Send + Sync + 'static>,
        type_name: &'static str,
    },
    Broken {
        kind: BrokenKind,
        reason: String,
    },
}

/// What a task raised: a panic (its message kept), an error it returned, or a broken executor.
///
/// Cheap to clone (one reference count); every clone is the same exception, so
/// [`Exception::ptr_eq`] tells that `result()` hands out the same object each time, as
/// Python's does.
///
/// ```
/// use concurrent_futures::{Exception, Future};
///
/// let fut: Future<()> = Future::new();
/// let io = std::io::Error::new(std::io::ErrorKind::Other, "disk on fire");
/// fut.set_exception(Exception::new(io)).unwrap();
/// let e = fut.exception().unwrap().unwrap();
/// assert_eq!(e.to_string(), "disk on fire");
/// assert!(e.downcast_ref::<std::io::Error>().is_some());
/// assert!(!e.is_panic());
/// ```
#[derive(Clone)]
pub struct Exception(Arc<Repr>);

impl Exception {
    /// Wraps an error value, keeping its concrete type for [`Exception::downcast_ref`].
    pub fn new<E: StdError + Send + Sync + 'static>(error: E) -> Self {
        Exception(Arc::new(Repr::Error {
            error: Box::new(error),
            type_name: std::any::type_name::<E>(),
        }))
    }

    /// Wraps an already boxed error, whose concrete type is not known here (its
    /// [`type_name`](Self::type_name) is `dyn Error`; see [`from_boxed_as`](Self::from_boxed_as)).
    pub fn from_boxed(error: Box<dyn StdError + Send + Sync + 'static>) -> Self {
        Self::from_boxed_as(error, "dyn Error")
    }

    /// Wraps an already boxed error whose type, before boxing, was `type_name` (as
    /// [`std::any::type_name`] gives it): `submit_fallible` passes its `E`'s, so a future
    /// shows the error's real type.
    ///
    /// ```
    /// use concurrent_futures::Exception;
    ///
    /// let err = "x".parse::<u8>().unwrap_err();
    /// let e = Exception::from_boxed_as(Box::new(err), std::any::type_name::<std::num::ParseIntError>());
    /// assert_eq!(e.type_name(), "ParseIntError");
    /// assert!(e.downcast_ref::<std::num::ParseIntError>().is_some());
    /// ```
    pub fn from_boxed_as(
        error: Box<dyn StdError + Send + Sync + 'static>,
        type_name: &'static str,
    ) -> Self {
        Exception(Arc::new(Repr::Error { error, type_name }))
    }

    /// An exception carrying only a message, like Python's `Exception('message')`.
    ///
    /// ```
    /// let e = concurrent_futures::Exception::msg("test");
    /// assert_eq!(e.to_string(), "test");
    /// ```
    pub fn msg(message: impl Into<String>) -> Self {
        Exception(Arc::new(Repr::Error {
            error: Box::new(Message(message.into())),
            type_name: "Exception",
        }))
    }

    /// Builds the exception for a caught panic, keeping its message when the payload is a
    /// `&str` or a `String` (what `panic!` produces).
    ///
    /// ```
    /// let payload = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
    /// let e = concurrent_futures::Exception::from_panic(payload);
    /// assert!(e.is_panic());
    /// assert_eq!(e.panic_message(), Some("boom 1"));
    /// ```
    ///
    /// It never panics itself: a payload of another type is dropped here, and a panic from
    /// that drop (or from the drops it causes) is caught.
    pub fn from_panic(payload: Box<dyn Any + Send + 'static>) -> Self {
        let message = crate::unwind::payload_message(payload);
        Exception(Arc::new(Repr::Panic {
            message,
            location: None,
            backtrace: None,
        }))
    }

    /// A task panic a pool captured, with where the hook saw it happen.
    #[cfg_attr(concurrent_futures_loom, allow(dead_code))] // loom builds have no hook
    pub(crate) fn from_captured_panic(
        payload: Box<dyn Any + Send + 'static>,
        site: Option<crate::unwind::PanicSite>,
    ) -> Self {
        let message = crate::unwind::payload_message(payload);
        let (location, backtrace) = site.map_or((None, None), |s| (s.location, s.backtrace));
        Exception(Arc::new(Repr::Panic {
            message,
            location,
            backtrace,
        }))
    }

    /// Python's `BrokenThreadPool(reason)`.
    pub fn broken_thread_pool(reason: impl Into<String>) -> Self {
        Self::broken(BrokenKind::ThreadPool, reason)
    }

    /// Python's `BrokenProcessPool(reason)`.
    pub fn broken_process_pool(reason: impl Into<String>) -> Self {
        Self::broken(BrokenKind::ProcessPool, reason)
    }

    fn broken(kind: BrokenKind, reason: impl Into<String>) -> Self {
        Exception(Arc::new(Repr::Broken {
            kind,
            reason: reason.into(),
        }))
    }

    /// `true` when the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(*self.0, Repr::Panic { .. })
    }

    /// The panic message, when the task panicked with a string.
    pub fn panic_message(&self) -> Option<&str> {
        match &*self.0 {
            Repr::Panic { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Where the task panicked (`file:line:column`), when a pool captured the panic.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    ///
    /// let pool = ThreadPoolExecutor::new(1).unwrap();
    /// let f = pool.submit(|| -> u8 { panic!("boom") }).unwrap(); // prints nothing
    /// let e = f.exception().unwrap().unwrap();
    /// assert_eq!(e.panic_message(), Some("boom"));
    /// assert!(e.panic_location().unwrap().contains(".rs:"));
    /// ```
    pub fn panic_location(&self) -> Option<&str> {
        match &*self.0 {
            Repr::Panic { location, .. } => location.as_deref(),
            _ => None,
        }
    }

    /// The backtrace of a captured task panic, when one was taken (run with
    /// `RUST_BACKTRACE=1`); its `Display` is the text.
    pub fn backtrace(&self) -> Option<&std::backtrace::Backtrace> {
        match &*self.0 {
            Repr::Panic { backtrace, .. } => backtrace.as_ref(),
            _ => None,
        }
    }

    /// Which executor broke, when this is a broken-executor exception.
    pub fn broken_kind(&self) -> Option<BrokenKind> {
        match &*self.0 {
            Repr::Broken { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The error the task returned, as its concrete type, when it is an `E`.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        match &*self.0 {
            Repr::Error { error, .. } => error.downcast_ref::<E>(),
            _ => None,
        }
    }

    /// A short name for the exception's type, as Python's repr shows it: the error's type
    /// name without its module path, `panic`, or `BrokenThreadPool` / `BrokenProcessPool`.
    pub fn type_name(&self) -> String {
        match &*self.0 {
            Repr::Panic { .. } => "panic".to_owned(),
            Repr::Error { type_name, .. } => short_type_name(type_name),
            Repr::Broken { kind, .. } => kind.name().to_owned(),
        }
    }

    /// `true` when both are the same exception object (Python's `a is b`).
    pub fn ptr_eq(a: &Exception, b: &Exception) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Repr::Panic {
                message,
                location: Some(at),
                ..
            } => write!(f, "the task panicked at {at}: {message}"),
            Repr::Panic { message, .. } => write!(f, "the task panicked: {message}"),
            Repr::Error { error, .. } => fmt::Display::fmt(error, f),
            Repr::Broken { kind, reason } => write!(f, "{}: {reason}", kind.name()),
        }
    }
}

impl fmt::Debug for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Repr::Panic {
                message, location, ..
            } => f
                .debug_struct("Panic")
                .field("message", message)
                .field("location", location)
                .finish(),
            Repr::Error { error, type_name } => f
                .debug_struct(&short_type_name(type_name))
                .field("error", error)
                .finish(),
            Repr::Broken { kind, reason } => {
                f.debug_struct(kind.name()).field("reason", reason).finish()
            }
        }
    }
}

impl StdError for Exception {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &*self.0 {
            Repr::Error { error, .. } => error.source(),
            _ => None,
        }
    }
}

/// The error behind [`Exception::msg`].
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

/// A type name without module paths, as Python's repr shows class names:
/// `alloc::string::String` → `String`; `core::option::Option<alloc::string::String>` →
/// `Option<String>`.
pub(crate) fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment_start = 0;
    for (i, c) in full.char_indices() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            continue;
        }
        push_last_segment(&mut out, &full[segment_start..i]);
        out.push(c);
        segment_start = i + c.len_utf8();
    }
    push_last_segment(&mut out, &full[segment_start..]);
    out
}

fn push_last_segment(out: &mut String, path: &str) {
    out.push_str(path.rsplit("::").next().unwrap_or(path));
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
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
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
    NotATask(crate::NotATask),
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
        }
    }
}

impl StdError for SubmitError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            SubmitError::Broken(e) => Some(e),
            SubmitError::NotATask(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_type_names() {
        assert_eq!(short_type_name("alloc::string::String"), "String");
        assert_eq!(short_type_name("u64"), "u64");
        assert_eq!(
            short_type_name("core::option::Option<alloc::string::String>"),
            "Option<String>"
        );
        assert_eq!(
            short_type_name("(u8, alloc::vec::Vec<std::io::error::Error>)"),
            "(u8, Vec<Error>)"
        );
    }

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

    #[test]
    fn non_string_panic_payload_is_described() {
        let e = Exception::from_panic(Box::new(7u8));
        assert!(e.panic_message().unwrap().contains("not a string"));
    }
}
