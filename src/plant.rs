//! Planted bugs: the smallest realistic mistakes in the crate's concurrent code, each one
//! switched on by name at run time, so that one model-checking build shows every model
//! catching the bug it is named after (`docs/races.md` lists plant → model → how it is
//! reported; `.ci/plants` runs them).
//!
//! A plant exists only where a checker runs: under loom (`--cfg concurrent_futures_loom`),
//! in fuzz builds (`--cfg fuzzing`), in the library's own unit-test build (`cfg(test)`),
//! and in a build that asks for them (`--cfg concurrent_futures_plants`, which `.ci/plants`
//! uses for the integration tests that reach the process pool's races). There `plant!("name", bug, right)` evaluates `bug`
//! when the environment variable `CONCURRENT_FUTURES_PLANT` is `name`, and `right`
//! otherwise. In every other build the macro expands to `right` alone (through an inlined
//! identity function): the bug is not compiled, and the code is what it would be without
//! the macro.
//!
//! Leaf module: it names nothing else in the crate.

/// The environment variable that chooses the plant.
#[cfg(any(concurrent_futures_loom, fuzzing, test, concurrent_futures_plants))]
pub(crate) const VAR: &str = "CONCURRENT_FUTURES_PLANT";

/// Whether plant `name` is the one chosen (read once per process).
#[cfg(any(concurrent_futures_loom, fuzzing, test, concurrent_futures_plants))]
pub(crate) fn on(name: &'static str) -> bool {
    static CHOSEN: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    CHOSEN.get_or_init(|| std::env::var(VAR).ok()).as_deref() == Some(name)
}

/// `plant!("name", bug, right)`: `bug` when plant `name` is chosen, else `right` (module
/// doc).
#[cfg(any(concurrent_futures_loom, fuzzing, test, concurrent_futures_plants))]
macro_rules! plant {
    ($name:literal, $bug:expr, $right:expr $(,)?) => {
        if $crate::plant::on($name) {
            $bug
        } else {
            $right
        }
    };
}

/// `plant!("name", bug, right)`: in this build, `right` alone (module doc), through
/// [`right`], so that lints judge the code as written rather than what is left of it.
#[cfg(not(any(concurrent_futures_loom, fuzzing, test, concurrent_futures_plants)))]
macro_rules! plant {
    ($name:literal, $bug:expr, $right:expr $(,)?) => {
        $crate::plant::right($right)
    };
}

/// The identity: what `plant!` leaves of itself in a normal build. Inlined away.
#[cfg(not(any(concurrent_futures_loom, fuzzing, test, concurrent_futures_plants)))]
#[inline(always)]
pub(crate) fn right<T>(value: T) -> T {
    value
}
