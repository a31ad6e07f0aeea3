//! [`Deadline`]: when a wait gives up. The one way the crate says "no deadline".

use std::time::{Duration, Instant};

/// When a blocking call gives up: never, or at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// Wait for as long as it takes.
    Never,
    /// Give up at this instant.
    At(Instant),
}

impl Deadline {
    /// `timeout` from now. A timeout too large to add to the clock (`Duration::MAX`, say)
    /// never passes, so it is [`Deadline::Never`].
    pub(crate) fn after(timeout: Duration) -> Self {
        Instant::now()
            .checked_add(timeout)
            .map_or(Deadline::Never, Deadline::At)
    }

    /// [`after`](Self::after) for an optional timeout; `None` is [`Deadline::Never`].
    pub(crate) fn from_timeout(timeout: Option<Duration>) -> Self {
        timeout.map_or(Deadline::Never, Deadline::after)
    }

    /// `true` once the deadline has passed.
    pub(crate) fn passed(self) -> bool {
        match self {
            Deadline::Never => false,
            Deadline::At(d) => Instant::now() >= d,
        }
    }

    /// Time left until the deadline (zero once passed); `None` for [`Deadline::Never`].
    pub(crate) fn remaining(self) -> Option<Duration> {
        match self {
            Deadline::Never => None,
            Deadline::At(d) => Some(d.saturating_duration_since(Instant::now())),
        }
    }
}

#[cfg(all(test, not(concurrent_futures_loom)))]
mod tests {
    use super::*;

    #[test]
    fn huge_timeouts_never_pass_and_zero_has_passed() {
        assert_eq!(Deadline::after(Duration::MAX), Deadline::Never);
        assert_eq!(Deadline::from_timeout(None), Deadline::Never);
        assert!(!Deadline::Never.passed());
        assert_eq!(Deadline::Never.remaining(), None);
        let now = Deadline::after(Duration::ZERO);
        assert!(now.passed());
        assert_eq!(now.remaining(), Some(Duration::ZERO));
    }
}
