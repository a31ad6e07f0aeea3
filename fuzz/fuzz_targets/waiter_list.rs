//! The intrusive waiter list against a `VecDeque` model.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| concurrent_futures::__fuzz::waiter_list(data));
