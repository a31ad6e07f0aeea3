//! `Future`, `wait` and `as_completed` against a transcription of CPython's semantics.
#![no_main]

#[path = "../../tests/support/future_ops.rs"]
mod future_ops;

libfuzzer_sys::fuzz_target!(|data: &[u8]| future_ops::run(data));
