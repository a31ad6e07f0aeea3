//! A pool captures its tasks' panics: the exception keeps the message and the location, and
//! nothing is printed unless the builder asks; panics outside tasks still reach the hook.
//! Its own test binary, since the panic hook is global to the process.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::ThreadPoolExecutor;
use std::sync::atomic::{AtomicUsize, Ordering};

static HOOK_CALLS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn captured_task_panics_print_nothing_and_keep_their_location() {
    // SAFETY: this is the binary's only test, and it sets the variable before it starts a
    // thread of its own; nothing else here reads the environment concurrently.
    unsafe { std::env::set_var("RUST_BACKTRACE", "1") };
    // The hook a user (or libtest) had: the crate's hook wraps it.
    std::panic::set_hook(Box::new(|_| {
        HOOK_CALLS.fetch_add(1, Ordering::SeqCst);
    }));
    let quiet = ThreadPoolExecutor::new(1).unwrap();
    let f = quiet.submit(|| -> u8 { panic!("quiet boom") }).unwrap();
    let e = f.exception_timeout(LONG).unwrap().expect("it panicked");
    assert_eq!(e.panic_message(), Some("quiet boom"));
    let at = e.panic_location().expect("the location was captured");
    assert!(at.contains("panic_capture.rs:"), "{at}");
    assert!(e.to_string().contains(at), "{e}");
    assert_eq!(HOOK_CALLS.load(Ordering::SeqCst), 0, "nothing printed");

    // The wire form keeps the message, the location and the backtrace text.
    let trace = e.backtrace().expect("RUST_BACKTRACE=1 takes a backtrace");
    assert!(trace.contains("panic_capture"), "{trace}");
    let rebuilt = concurrent_futures::Exception::from_record(e.to_record());
    assert_eq!(rebuilt.to_string(), e.to_string());
    assert_eq!(rebuilt.panic_location(), Some(at));
    assert_eq!(rebuilt.backtrace().as_deref(), Some(trace.as_str()));

    let loud = ThreadPoolExecutor::builder()
        .max_workers(1)
        .print_task_panics(true)
        .build()
        .unwrap();
    let f = loud.submit(|| -> u8 { panic!("loud boom") }).unwrap();
    assert!(f.exception_timeout(LONG).unwrap().is_some());
    assert_eq!(HOOK_CALLS.load(Ordering::SeqCst), 1, "printed on request");

    // A panic the pool does not capture still reaches the hook.
    let outside = std::panic::catch_unwind(|| panic!("outside a task"));
    assert!(outside.is_err());
    assert_eq!(HOOK_CALLS.load(Ordering::SeqCst), 2);
    let _ = std::panic::take_hook();
}
