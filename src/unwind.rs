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
