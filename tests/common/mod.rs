//! Shared helpers for the integration tests: futures in each of CPython's test states, an
//! event, a log capture, and a bounded wait-until.
#![allow(dead_code)]

mod pool;
#[allow(unused_imports)] // not every test binary uses the pool helpers
pub use pool::*;

use concurrent_futures::{Exception, Future};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Generous bound for anything that should happen "promptly": only a hang exceeds it.
pub const LONG: Duration = Duration::from_secs(30);

/// PENDING future (CPython's `PENDING_FUTURE`).
pub fn pending<T>() -> Future<T> {
    Future::new()
}

/// RUNNING future.
pub fn running<T>() -> Future<T> {
    let f = Future::new();
    assert_eq!(f.set_running_or_notify_cancel(), Ok(true));
    f
}

/// CANCELLED future (cancelled, executor not yet notified).
pub fn cancelled<T>() -> Future<T> {
    let f = Future::new();
    assert!(f.cancel());
    f
}

/// CANCELLED_AND_NOTIFIED future.
pub fn cancelled_and_notified<T>() -> Future<T> {
    let f = cancelled();
    assert_eq!(f.set_running_or_notify_cancel(), Ok(false));
    f
}

/// An error type standing in for Python's `OSError`.
#[derive(Debug)]
pub struct OsError;
impl std::fmt::Display for OsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OSError")
    }
}
impl std::error::Error for OsError {}

/// FINISHED with an exception (CPython's `EXCEPTION_FUTURE`, an OSError).
pub fn raised<T>() -> Future<T> {
    let f = Future::new();
    f.set_exception(Exception::new(OsError)).unwrap();
    f
}

/// FINISHED with 42 (CPython's `SUCCESSFUL_FUTURE`).
pub fn succeeded() -> Future<u64> {
    let f = Future::new();
    f.set_result(42).unwrap();
    f
}

/// A one-shot event, like Python's `threading.Event`.
#[derive(Default, Debug)]
pub struct Event {
    set: Mutex<bool>,
    cv: Condvar,
}

impl Event {
    pub fn set(&self) {
        *self.set.lock().unwrap() = true;
        self.cv.notify_all();
    }
    /// Waits up to [`LONG`]; panics on a hang.
    pub fn wait(&self) {
        let g = self.set.lock().unwrap();
        let (g, _) = self.cv.wait_timeout_while(g, LONG, |s| !*s).unwrap();
        assert!(*g, "event not set within {LONG:?}: a hang");
    }
}

/// Spins (yielding) until `cond` holds; panics after [`LONG`]. For "the other thread is now
/// blocked" conditions that have a probe, never for timing.
pub fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < LONG, "never happened: {what}");
        std::thread::yield_now();
    }
}

/// Captures `log` records of this test process.
pub fn captured_logs() -> &'static Mutex<Vec<String>> {
    static LOGS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    struct Capture;
    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, r: &log::Record<'_>) {
            captured_logs().lock().unwrap().push(format!(
                "{} {} {}",
                r.level(),
                r.target(),
                r.args()
            ));
        }
        fn flush(&self) {}
    }
    static LOGGER: Capture = Capture;
    let logs = LOGS.get_or_init(|| Mutex::new(Vec::new()));
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Trace);
    logs
}

impl Event {
    /// Waits up to `timeout`; `true` if the event was set.
    pub fn wait_for(&self, timeout: Duration) -> bool {
        let g = self.set.lock().unwrap();
        let (g, _) = self.cv.wait_timeout_while(g, timeout, |s| !*s).unwrap();
        *g
    }

    /// `true` once set.
    pub fn is_set(&self) -> bool {
        *self.set.lock().unwrap()
    }
}

/// Runs `f` on its own thread and returns its result, or panics with "hang" if it has not
/// returned within [`LONG`]. For scenarios whose failure mode is a deadlock: the hung thread
/// is left behind, and the test fails instead of hanging the suite.
pub fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(out);
    });
    match rx.recv_timeout(LONG) {
        Ok(Ok(v)) => v,
        Ok(Err(payload)) => std::panic::resume_unwind(payload),
        Err(_) => panic!("hang: {what} did not return within {LONG:?}"),
    }
}
