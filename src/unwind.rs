//! Containing user code's panics on the crate's own paths.
//!
//! User code runs inside the crate at many points: task bodies, done-callbacks, wakers, the
//! `Drop` of results, closures and panic payloads, the `Display` of an error, and the `log`
//! implementation. Wherever that happens while the crate has bookkeeping to finish (a count
//! to restore, a lock bit to release, a node to unlink), the panic is caught here, or a guard
//! restores the bookkeeping on unwind. `docs/guarantees.md` ("Audits") lists every such point.
//!
//! Nothing in this module unwinds: a panic payload is itself user data whose `Drop` may
//! panic, so even disposing of a payload is guarded.

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::Exception;

/// Payloads whose drop panics with yet another payload are dropped this many levels deep;
/// past that, the last one is leaked rather than looping forever.
const MAX_NESTED_PAYLOADS: usize = 16;

/// Drops a panic payload, catching panics from its `Drop` (and from theirs). Never unwinds.
pub(crate) fn drop_payload(payload: Box<dyn Any + Send>) {
    let mut payload = payload;
    for _ in 0..MAX_NESTED_PAYLOADS {
        match catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            Ok(()) => return,
            Err(next) => payload = next,
        }
    }
    std::mem::forget(payload);
}

/// The message of a panic payload (`panic!` makes a `&str` or a `String`); the payload is
/// disposed of with [`drop_payload`]. Never unwinds.
pub(crate) fn payload_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(s) => (*s).to_owned(),
            Err(payload) => {
                drop_payload(payload);
                "Box<dyn Any> (a panic payload that is not a string)".to_owned()
            }
        },
    }
}

/// Drops a user value (a closure and its captures, a result) where a panic must not unwind
/// into the crate's bookkeeping: it is caught and logged. Never unwinds.
pub(crate) fn drop_quietly<V>(v: V, what: &str) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(v))) {
        let message = payload_message(payload);
        report(format_args!("dropping {what} panicked: {message}"));
    }
}

/// Logs an error under the target `concurrent_futures`. The `log` implementation is user
/// code too: its panic is caught. Never unwinds.
pub(crate) fn report(args: fmt::Arguments<'_>) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| {
        log::error!(target: "concurrent_futures", "{args}");
    })) {
        drop_payload(payload);
    }
}

/// `value.to_string()` for a user type, whose `Display` may panic. Never unwinds.
pub(crate) fn display(value: &dyn fmt::Display) -> String {
    match catch_unwind(AssertUnwindSafe(|| value.to_string())) {
        Ok(s) => s,
        Err(payload) => format!("<its Display panicked: {}>", payload_message(payload)),
    }
}

/// Where a captured panic happened, as the panic hook saw it.
#[cfg_attr(concurrent_futures_loom, allow(dead_code))] // loom builds have no hook
pub(crate) struct PanicSite {
    pub(crate) location: Option<String>,
    /// Captured (when `RUST_BACKTRACE` asks) but not resolved: symbols are looked up only
    /// if someone prints it, which keeps a panicking task cheap and the symbol cache empty.
    pub(crate) backtrace: Option<std::backtrace::Backtrace>,
}

/// Runs a task's body, capturing its panic as an [`Exception`] that keeps the message, the
/// location and (when `RUST_BACKTRACE` asks for one) the backtrace text. The crate's panic
/// hook ([`install_hook`]) prints nothing for such a panic unless asked to
/// ([`set_print_task_panics`], or `CONCURRENT_FUTURES_PRINT_PANICS=1`): the future holds
/// it, as Python's does. Never unwinds.
pub(crate) fn capture<R>(f: impl FnOnce() -> R) -> Result<R, Exception> {
    hook::capture(f)
}

/// The crate's panic hook, installed once per process by the first pool: it keeps the
/// location of captured task panics and silences them, and hands every other panic to the
/// hook that was there before.
pub(crate) fn install_hook() {
    hook::install();
}

/// Whether this thread's captured task panics are printed as well (a pool's workers set it
/// from the pool's builder).
pub(crate) fn set_print_task_panics(print: bool) {
    hook::set_print(print);
}

#[cfg(not(concurrent_futures_loom))]
mod hook {
    use super::*;
    use std::backtrace::{Backtrace, BacktraceStatus};
    use std::cell::{Cell, RefCell};
    use std::sync::{Once, OnceLock};

    std::thread_local! {
        /// How many captured task bodies this thread is inside (one runs another inline).
        static CAPTURING: Cell<u32> = const { Cell::new(0) };
        /// What the hook saw of the last captured panic on this thread.
        static LAST: RefCell<Option<PanicSite>> = const { RefCell::new(None) };
        /// Print captured panics on this thread too.
        static PRINT: Cell<bool> = const { Cell::new(false) };
    }

    fn print_from_env() -> bool {
        static ENV: OnceLock<bool> = OnceLock::new();
        *ENV.get_or_init(|| {
            std::env::var_os("CONCURRENT_FUTURES_PRINT_PANICS")
                .is_some_and(|v| !v.is_empty() && v != "0")
        })
    }

    pub(super) fn set_print(print: bool) {
        PRINT.with(|p| p.set(print));
    }

    pub(super) fn install() {
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let capturing = CAPTURING.try_with(|c| c.get() > 0).unwrap_or(false);
                if capturing {
                    let backtrace = Backtrace::capture();
                    let site = PanicSite {
                        location: info.location().map(|l| l.to_string()),
                        backtrace: (backtrace.status() == BacktraceStatus::Captured)
                            .then_some(backtrace),
                    };
                    let _ = LAST.try_with(|l| {
                        if let Ok(mut l) = l.try_borrow_mut() {
                            *l = Some(site);
                        }
                    });
                    let print = PRINT.try_with(Cell::get).unwrap_or(false) || print_from_env();
                    if !print {
                        return;
                    }
                }
                previous(info);
            }));
        });
    }

    pub(super) fn capture<R>(f: impl FnOnce() -> R) -> Result<R, Exception> {
        struct Inside;
        impl Drop for Inside {
            fn drop(&mut self) {
                CAPTURING.with(|c| c.set(c.get() - 1));
            }
        }
        CAPTURING.with(|c| c.set(c.get() + 1));
        let inside = Inside;
        let _ = LAST.try_with(|l| l.try_borrow_mut().map(|mut l| *l = None));
        let out = catch_unwind(AssertUnwindSafe(f));
        drop(inside);
        out.map_err(|payload| {
            let site = LAST
                .try_with(|l| l.try_borrow_mut().ok().and_then(|mut l| l.take()))
                .ok()
                .flatten();
            Exception::from_captured_panic(payload, site)
        })
    }
}

/// Under loom every model thread shares one OS thread, so thread-locals would mix: no hook,
/// a plain catch.
#[cfg(concurrent_futures_loom)]
mod hook {
    use super::*;

    pub(super) fn set_print(_: bool) {}
    pub(super) fn install() {}
    pub(super) fn capture<R>(f: impl FnOnce() -> R) -> Result<R, Exception> {
        catch_unwind(AssertUnwindSafe(f)).map_err(Exception::from_panic)
    }
}

#[cfg(all(test, not(concurrent_futures_loom)))]
mod tests {
    use super::*;

    struct Bomb(u32);
    impl Drop for Bomb {
        fn drop(&mut self) {
            if self.0 > 0 {
                std::panic::panic_any(Bomb(self.0 - 1));
            }
            panic!("innermost");
        }
    }

    #[test]
    fn nested_payload_bombs_are_defused() {
        drop_payload(Box::new(Bomb(3)));
        assert!(payload_message(Box::new(Bomb(2))).contains("not a string"));
        // (Past `MAX_NESTED_PAYLOADS` levels the last payload is leaked, by design: not
        // tested here, since LeakSanitizer in CI would rightly report it.)
    }

    #[test]
    fn a_panicking_display_is_described() {
        struct Rude;
        impl fmt::Display for Rude {
            fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
                panic!("no")
            }
        }
        assert_eq!(display(&Rude), "<its Display panicked: no>");
        assert_eq!(display(&5), "5");
    }
}
