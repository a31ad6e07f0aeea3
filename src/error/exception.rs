//! [`Exception`]: what a task raised (a panic, an error it returned, or a broken executor),
//! and its [`BrokenKind`].

use std::any::Any;
use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use crate::sync::Arc;

/// Which executor broke, for an [`Exception`] of the broken-executor kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum BrokenKind {
    /// Python's `BrokenThreadPool`: an initializer failed and the pool cannot run tasks.
    ThreadPool,
    /// Python's `BrokenProcessPool`: a worker process died or could not be started.
    ProcessPool,
    /// Python's `BrokenExecutor`, as mpi4py raises it: a rank of an MPI executor was lost
    /// or could not serve.
    Executor,
}

impl BrokenKind {
    pub(super) fn name(self) -> &'static str {
        match self {
            BrokenKind::ThreadPool => "BrokenThreadPool",
            BrokenKind::ProcessPool => "BrokenProcessPool",
            BrokenKind::Executor => "BrokenExecutor",
        }
    }
}

pub(super) enum Repr {
    Panic {
        message: String,
        /// `file:line:column`, when the panic was captured by a pool.
        location: Option<String>,
        backtrace: Option<Trace>,
    },
    Error {
        error: Box<dyn StdError + Send + Sync + 'static>,
        /// The full type name ([`std::any::type_name`]), or the one a wire record carried.
        type_name: Cow<'static, str>,
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
pub struct Exception(pub(super) Arc<Repr>);

/// A captured panic's backtrace.
pub(super) enum Trace {
    /// Taken here, when `RUST_BACKTRACE` asked for one; symbols are resolved when printed.
    Local(std::backtrace::Backtrace),
    /// The text a wire record carried from another process.
    Text(String),
}

impl Exception {
    /// Wraps an error value, keeping its concrete type for [`Exception::downcast_ref`].
    /// An `Exception` given as the error is that exception itself, not a wrapper around it,
    /// so a forwarded panic or broken executor keeps its kind.
    pub fn new<E: StdError + Send + Sync + 'static>(error: E) -> Self {
        let mut slot = Some(error);
        if let Some(e) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Exception>>() {
            if let Some(e) = e.take() {
                return e;
            }
        }
        let Some(error) = slot else {
            unreachable!("only an Exception is taken out above")
        };
        Exception(Arc::new(Repr::Error {
            error: Box::new(error),
            type_name: Cow::Borrowed(std::any::type_name::<E>()),
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
        // A boxed `Exception` is that exception (see `new`).
        let error = match error.downcast::<Exception>() {
            Ok(e) => return *e,
            Err(error) => error,
        };
        Exception(Arc::new(Repr::Error {
            error,
            type_name: Cow::Borrowed(type_name),
        }))
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
            type_name: Cow::Borrowed("Exception"),
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
        let (location, backtrace) = site.map_or((None, None), |s| {
            (s.location, s.backtrace.map(Trace::Local))
        });
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

    /// Python's `BrokenExecutor(reason)`: what an MPI executor's futures fail with when a
    /// rank is lost.
    ///
    /// ```
    /// use concurrent_futures::{BrokenKind, Exception};
    ///
    /// let e = Exception::broken_executor("rank 2 sent nothing for 30 s");
    /// assert_eq!(e.broken_kind(), Some(BrokenKind::Executor));
    /// assert!(e.to_string().contains("BrokenExecutor"));
    /// ```
    pub fn broken_executor(reason: impl Into<String>) -> Self {
        Self::broken(BrokenKind::Executor, reason)
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

    /// The backtrace text of a captured task panic, when one was taken (run with
    /// `RUST_BACKTRACE=1`), also when the panic happened in another process.
    ///
    /// ```
    /// use concurrent_futures::Exception;
    ///
    /// // A panic caught by hand has no backtrace; one a pool captured under
    /// // RUST_BACKTRACE=1 has.
    /// let e = Exception::from_panic(Box::new("boom"));
    /// assert!(e.backtrace().is_none());
    /// ```
    pub fn backtrace(&self) -> Option<String> {
        match &*self.0 {
            Repr::Panic {
                backtrace: Some(Trace::Local(b)),
                ..
            } => Some(b.to_string()),
            Repr::Panic {
                backtrace: Some(Trace::Text(t)),
                ..
            } => Some(t.clone()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exception_given_as_the_error_is_that_exception() {
        let panic = Exception::from_panic(Box::new("boom"));
        let wrapped = Exception::new(panic.clone());
        assert!(Exception::ptr_eq(&wrapped, &panic) && wrapped.is_panic());
        let broken = Exception::broken_process_pool("gone");
        let boxed = Exception::from_boxed_as(Box::new(broken.clone()), "x");
        assert_eq!(boxed.broken_kind(), Some(BrokenKind::ProcessPool));
        assert!(Exception::ptr_eq(&boxed, &broken));
    }

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
    fn non_string_panic_payload_is_described() {
        let e = Exception::from_panic(Box::new(7u8));
        assert!(e.panic_message().unwrap().contains("not a string"));
    }
}
