//! [`Waitable`]: the type-erased view of a future that `wait` and `as_completed` take.

use std::fmt;

use super::{Future, Header, State};

mod sealed {
    /// Gives `wait` and `as_completed` the untyped header of any future.
    pub trait Sealed {
        fn header(&self) -> &super::Header;
    }
}

/// A future of any output type, as `wait` and `as_completed` see it: the type-erased view.
///
/// Every [`Future<T>`] is `Waitable`, and so is `dyn Waitable`, so futures of different output
/// types can be waited on together:
///
/// ```
/// use concurrent_futures::{Future, Waitable, ReturnWhen, wait};
///
/// let a: Future<u8> = Future::new();
/// let b: Future<String> = Future::new();
/// b.set_result("done".into()).unwrap();
/// let fs: [&dyn Waitable; 2] = [&a, &b];
/// let r = wait(fs, ReturnWhen::FirstCompleted);
/// assert_eq!(r.done.len(), 1);
/// assert!(r.done[0].done() && !r.not_done[0].done());
/// ```
pub trait Waitable: sealed::Sealed {
    /// The current state.
    fn state(&self) -> State {
        self.header().state.load().state()
    }
    /// `true` once cancelled or finished.
    fn done(&self) -> bool {
        self.header().state.load().is_terminal()
    }
    /// `true` if cancelled.
    fn cancelled(&self) -> bool {
        self.header().state.load().is_cancelled()
    }
    /// `true` if finished with an exception (a panic or an error).
    fn raised(&self) -> bool {
        let s = self.header().state.load();
        s.is_finished() && s.has_exception()
    }
}

impl<T> sealed::Sealed for Future<T> {
    #[inline(always)]
    fn header(&self) -> &Header {
        Future::header(self)
    }
}

impl<T> Waitable for Future<T> {}

impl fmt::Debug for dyn Waitable + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state() {
            State::Pending => "pending",
            State::Running => "running",
            State::Cancelled => "cancelled",
            State::Finished => "finished",
        };
        write!(f, "<Future state={state}>")
    }
}
