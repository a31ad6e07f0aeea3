//! The wire form of an [`Exception`]: what is left of it once it has crossed a process
//! boundary, and how it is rebuilt on the other side.
//!
//! A worker process cannot send the error value itself (its type may not even exist in the
//! parent), so it sends an [`ExceptionRecord`]: the kind, the full type name, the message,
//! the messages of its `source()` chain, and for a panic its location and backtrace text.
//! [`Exception::from_record`] rebuilds an exception that prints, names its type and walks its
//! source chain as the original did; its error is a [`RemoteError`].
//!
//! Invariant W1: `Exception::from_record(r).to_record() == r` for every record `r` that
//! `to_record` made, so a record relayed through several hops arrives unchanged. A record
//! from elsewhere is first normalised: the fields its kind does not have (a panic's causes,
//! an error's location and backtrace, all of a broken executor's but its reason) are
//! dropped, and a panic's or broken executor's type name is its kind's.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::BrokenKind;
use super::exception::{Exception, Repr, Trace};
use crate::sync::Arc;
use crate::unwind::display;

/// What kind of exception an [`ExceptionRecord`] carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ExceptionKind {
    /// The task panicked.
    Panic,
    /// The task returned an error (or an exception was set by hand).
    Error,
    /// The executor broke.
    Broken(BrokenKind),
}

/// An [`Exception`] as plain data, for sending it to another process: serde types only.
///
/// Python pickles the exception and attaches the worker's formatted traceback as its
/// `__cause__`; this keeps the same information without requiring the error type to be
/// serializable.
///
/// ```
/// use concurrent_futures::{Exception, ExceptionKind};
///
/// let err = "x".parse::<u8>().unwrap_err();
/// let original = Exception::new(err);
/// let record = original.to_record();
/// assert_eq!(record.kind, ExceptionKind::Error);
/// assert_eq!(record.type_name, "core::num::error::ParseIntError");
///
/// // ... the record crosses a pipe (it is `Serialize + Deserialize`) ...
/// let rebuilt = Exception::from_record(record);
/// assert_eq!(rebuilt.to_string(), original.to_string());
/// assert_eq!(rebuilt.type_name(), "ParseIntError");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExceptionRecord {
    /// Panic, error or broken executor.
    pub kind: ExceptionKind,
    /// The full type name (as [`std::any::type_name`] gives it) of an error; `panic` for a
    /// panic; `BrokenThreadPool` or `BrokenProcessPool` for a broken executor.
    pub type_name: String,
    /// The error's `Display`, the panic message, or the reason the executor broke.
    pub message: String,
    /// The `Display` of each error in the `source()` chain, nearest first.
    pub causes: Vec<String>,
    /// Where a captured panic happened (`file:line:column`).
    pub location: Option<String>,
    /// A captured panic's backtrace text.
    pub backtrace: Option<String>,
}

/// The error inside an [`Exception`] rebuilt from an [`ExceptionRecord`]: the original's type
/// name and message, and its source chain, as text. Downcast to it to read them.
///
/// ```
/// use concurrent_futures::{Exception, RemoteError};
///
/// let io = std::io::Error::new(std::io::ErrorKind::Other, "disk on fire");
/// let rebuilt = Exception::from_record(Exception::new(io).to_record());
/// let remote = rebuilt.downcast_ref::<RemoteError>().unwrap();
/// assert_eq!(remote.type_name(), Some("std::io::error::Error"));
/// assert_eq!(remote.to_string(), "disk on fire");
/// assert!(rebuilt.downcast_ref::<std::io::Error>().is_none()); // the value stayed behind
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteError {
    type_name: Option<String>,
    message: String,
    source: Option<Box<RemoteError>>,
}

impl RemoteError {
    /// The original error's full type name; `None` for the errors of its source chain, whose
    /// types a `&dyn Error` does not tell.
    pub fn type_name(&self) -> Option<&str> {
        self.type_name.as_deref()
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for RemoteError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

impl Exception {
    /// The exception as plain data, for another process ([`Exception::from_record`] rebuilds
    /// it). Never panics: a user `Display` that panics is recorded as such.
    pub fn to_record(&self) -> ExceptionRecord {
        match &*self.0 {
            Repr::Panic {
                message,
                location,
                backtrace,
            } => ExceptionRecord {
                kind: ExceptionKind::Panic,
                type_name: "panic".to_owned(),
                message: message.clone(),
                causes: Vec::new(),
                location: location.clone(),
                backtrace: backtrace.as_ref().map(|t| match t {
                    Trace::Local(b) => b.to_string(),
                    Trace::Text(t) => t.clone(),
                }),
            },
            Repr::Error { error, type_name } => {
                let causes = source_chain(&**error);
                ExceptionRecord {
                    kind: ExceptionKind::Error,
                    type_name: type_name.to_string(),
                    message: display(&error),
                    causes,
                    location: None,
                    backtrace: None,
                }
            }
            Repr::Broken { kind, reason } => ExceptionRecord {
                kind: ExceptionKind::Broken(*kind),
                type_name: kind.name().to_owned(),
                message: reason.clone(),
                causes: Vec::new(),
                location: None,
                backtrace: None,
            },
        }
    }

    /// Rebuilds an exception from its wire form (invariant W1: a record `to_record` made
    /// records back the same; another is normalised). An error's value becomes a
    /// [`RemoteError`].
    pub fn from_record(record: ExceptionRecord) -> Exception {
        let ExceptionRecord {
            kind,
            type_name,
            message,
            causes,
            location,
            backtrace,
        } = record;
        let repr = match kind {
            ExceptionKind::Panic => Repr::Panic {
                message,
                location,
                backtrace: backtrace.map(Trace::Text),
            },
            ExceptionKind::Broken(kind) => Repr::Broken {
                kind,
                reason: message,
            },
            ExceptionKind::Error => {
                let source = causes.into_iter().rev().fold(None, |source, message| {
                    Some(Box::new(RemoteError {
                        type_name: None,
                        message,
                        source,
                    }))
                });
                Repr::Error {
                    error: Box::new(RemoteError {
                        type_name: Some(type_name.clone()),
                        message,
                        source,
                    }),
                    type_name: Cow::Owned(type_name),
                }
            }
        };
        Exception(Arc::new(repr))
    }
}

/// The most causes a record keeps; a longer (or cyclic) chain ends with a note.
const MAX_CAUSES: usize = 64;

/// The `Display` of each error in `error`'s `source()` chain, nearest first. Never unwinds
/// and always ends: a panicking `source()` or `Display` is recorded as such, and the chain
/// stops at [`MAX_CAUSES`], which also ends a cyclic one (a `source()` may legally return
/// `self`; addresses cannot tell, since an error and its first field share one).
fn source_chain(error: &(dyn StdError + 'static)) -> Vec<String> {
    type Source<'e> = std::thread::Result<Option<&'e (dyn StdError + 'static)>>;
    fn source_of<'e>(e: &'e (dyn StdError + 'static)) -> Source<'e> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.source()))
    }
    let mut causes = Vec::new();
    let mut next = source_of(error);
    loop {
        let e = match next {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(payload) => {
                let why = crate::unwind::payload_message(payload);
                causes.push(format!("<its source() panicked: {why}>"));
                break;
            }
        };
        if causes.len() == MAX_CAUSES {
            causes.push(format!("<more causes, not kept past {MAX_CAUSES}>"));
            break;
        }
        causes.push(display(&e));
        next = source_of(e);
    }
    causes
}

/// An exception serializes as its [`ExceptionRecord`], so `Result<T, Exception>` can cross a
/// pipe as it is.
impl Serialize for Exception {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_record().serialize(serializer)
    }
}

/// Deserializes an [`ExceptionRecord`] and rebuilds the exception from it.
impl<'de> Deserialize<'de> for Exception {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ExceptionRecord::deserialize(deserializer).map(Exception::from_record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("outer failed")
        }
    }
    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    fn through_the_wire(e: &Exception) -> Exception {
        let bytes = postcard::to_allocvec(e).unwrap();
        postcard::from_bytes(&bytes).unwrap()
    }

    fn chain(e: &dyn StdError) -> Vec<String> {
        let mut out = Vec::new();
        let mut next = e.source();
        while let Some(s) = next {
            out.push(s.to_string());
            next = s.source();
        }
        out
    }

    #[test]
    fn an_error_keeps_its_type_name_message_and_source_chain() {
        let inner = std::io::Error::other(Outer(std::io::Error::other("root cause")));
        let original = Exception::new(Outer(inner));
        let rebuilt = through_the_wire(&original);
        assert_eq!(rebuilt.to_string(), "outer failed");
        assert_eq!(rebuilt.type_name(), "Outer");
        assert_eq!(format!("{rebuilt:?}").split(' ').next(), Some("Outer"));
        // Exception::source() is the error's source, as for the original.
        let remote = rebuilt.downcast_ref::<RemoteError>().unwrap();
        assert_eq!(
            chain(remote),
            chain(original.downcast_ref::<Outer>().unwrap())
        );
        // (io::Error's source skips the error it wraps, as std defines it.)
        assert_eq!(chain(remote), ["outer failed", "root cause"]);
        assert!(!rebuilt.is_panic());
    }

    #[test]
    fn a_panic_keeps_its_message_location_and_backtrace_text() {
        let record = ExceptionRecord {
            kind: ExceptionKind::Panic,
            type_name: "panic".into(),
            message: "boom".into(),
            causes: vec![],
            location: Some("src/worker.rs:10:5".into()),
            backtrace: Some("   0: worker::main\n".into()),
        };
        let e = through_the_wire(&Exception::from_record(record.clone()));
        assert!(e.is_panic());
        assert_eq!(e.panic_message(), Some("boom"));
        assert_eq!(e.panic_location(), Some("src/worker.rs:10:5"));
        assert_eq!(e.backtrace().as_deref(), Some("   0: worker::main\n"));
        assert_eq!(
            e.to_string(),
            "the task panicked at src/worker.rs:10:5: boom"
        );
        assert_eq!(e.to_record(), record);
    }

    #[test]
    fn a_broken_executor_keeps_its_kind_and_reason() {
        let original = Exception::broken_process_pool("worker 3 was killed by signal 9");
        let rebuilt = through_the_wire(&original);
        assert_eq!(rebuilt.broken_kind(), Some(BrokenKind::ProcessPool));
        assert_eq!(rebuilt.to_string(), original.to_string());
        assert_eq!(rebuilt.type_name(), "BrokenProcessPool");
    }

    #[test]
    fn records_survive_any_number_of_hops() {
        let originals = [
            Exception::msg("plain"),
            Exception::new(Outer(std::io::Error::other("cause"))),
            Exception::from_panic(Box::new("boom")),
            Exception::broken_thread_pool("initializer failed"),
        ];
        for e in originals {
            let once = through_the_wire(&e);
            let twice = through_the_wire(&once);
            assert_eq!(e.to_record(), once.to_record());
            assert_eq!(once.to_record(), twice.to_record());
            assert_eq!(twice.to_string(), e.to_string());
        }
    }

    #[test]
    fn a_cyclic_a_panicking_and_an_endless_source_chain_all_end() {
        #[derive(Debug)]
        struct Loops;
        impl fmt::Display for Loops {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("loops")
            }
        }
        impl StdError for Loops {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(self)
            }
        }
        let r = Exception::new(Loops).to_record();
        assert_eq!(r.causes.len(), MAX_CAUSES + 1);
        assert!(r.causes.last().unwrap().contains("not kept"));

        #[derive(Debug)]
        struct PanicsInSource;
        impl fmt::Display for PanicsInSource {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("p")
            }
        }
        impl StdError for PanicsInSource {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                panic!("source exploded")
            }
        }
        let r = Exception::new(PanicsInSource).to_record();
        assert!(r.causes[0].contains("source exploded"), "{:?}", r.causes);

        /// A chain of `depth` distinct errors.
        #[derive(Debug)]
        struct Deep(u32, Option<Box<Deep>>);
        impl fmt::Display for Deep {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "level {}", self.0)
            }
        }
        impl StdError for Deep {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                self.1.as_deref().map(|d| d as &(dyn StdError + 'static))
            }
        }
        let deep = (0..200)
            .rev()
            .fold(None, |next, i| Some(Box::new(Deep(i, next))));
        let r = Exception::new(*deep.unwrap()).to_record();
        assert_eq!(r.causes.len(), MAX_CAUSES + 1);
        assert!(r.causes.last().unwrap().contains("not kept"));
    }

    #[test]
    fn a_foreign_record_is_normalised_then_stable() {
        let mut r = Exception::msg("x").to_record();
        r.location = Some("a.rs:1:1".into());
        let once = Exception::from_record(r).to_record();
        assert_eq!(once.location, None, "an error has no location");
        assert_eq!(Exception::from_record(once.clone()).to_record(), once);
    }

    #[test]
    fn a_panicking_display_is_recorded_not_raised() {
        #[derive(Debug)]
        struct Bad;
        impl fmt::Display for Bad {
            fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
                panic!("display exploded")
            }
        }
        impl StdError for Bad {}
        let record = Exception::new(Bad).to_record();
        assert!(
            record.message.contains("display exploded"),
            "{}",
            record.message
        );
    }
}
