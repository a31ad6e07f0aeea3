//! The `log` implementation is user code too: a logger that panics on every record must not
//! cut a completion short (the later callbacks still run, counts are restored, nothing
//! hangs). Its own test binary, since the logger is global to the process.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{Future, ThreadPoolExecutor};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Panics;

impl log::Log for Panics {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, _: &log::Record<'_>) {
        panic!("the logger panicked");
    }
    fn flush(&self) {}
}

static LOGGER: Panics = Panics;

#[test]
fn a_panicking_logger_cuts_nothing_short() {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Trace);
    within("a panicking logger", || {
        // A panicking callback is logged; the callback after it still runs.
        let f = Future::<u8>::new();
        let after = Arc::new(AtomicUsize::new(0));
        f.add_done_callback(|_| panic!("first callback"));
        let a = after.clone();
        f.add_done_callback(move |_| {
            a.fetch_add(1, Ordering::SeqCst);
        });
        f.set_result(1).unwrap();
        assert_eq!(after.load(Ordering::SeqCst), 1);
        assert_eq!(f.into_result().unwrap(), 1, "the flags were cleared");

        // The same on a pool worker, and a failing initializer (logged) on another pool.
        let p = ThreadPoolExecutor::new(1).unwrap();
        let go = Arc::new(Event::default());
        let g = go.clone();
        let t = p.submit(move || g.wait()).unwrap();
        t.add_done_callback(|_| panic!("a callback on the worker"));
        go.set();
        t.result_timeout(LONG).unwrap();
        assert_eq!(*p.submit(|| 5u8).unwrap().result_timeout(LONG).unwrap(), 5);
        drop(p);
        let broken = ThreadPoolExecutor::builder()
            .max_workers(1)
            .initializer(|| Err("no".into()))
            .build()
            .unwrap();
        let f = broken.submit(|| ()).unwrap();
        assert!(f.exception_timeout(LONG).unwrap().is_some());
        drop(broken);
    });
}
