//! The thread pool against a model of which states its futures may end in.
#![no_main]

#[path = "../../tests/support/pool_ops.rs"]
mod pool_ops;

libfuzzer_sys::fuzz_target!(|data: &[u8]| pool_ops::run(data));
