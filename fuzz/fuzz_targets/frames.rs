//! The process pool's frame reader on arbitrary bytes: an error or a clean end, never a
//! panic, a hang or an allocation beyond what arrived.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| concurrent_futures::__fuzz::frames(data));
