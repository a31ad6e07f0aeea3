//! `.await` on a [`Future`], in any async runtime.
//!
//! `(&fut).await` borrows the value (any `T`); `fut.await` yields it owned (`T: Clone`; moved
//! when it is the only user handle). Both keep a waiter node inside the pinned Rust future,
//! carrying the task's `Waker`, on the same intrusive list blocked threads use; dropping the
//! Rust future unlinks the node.

use std::future::{Future as StdFuture, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::Future;
use super::state::Snapshot;
use super::waiters::{Header, Link, Node, Target};
use crate::error::Error;

/// The node an `.await` keeps, and whether it is on the future's list.
struct AwaitNode {
    node: Node,
    linked: bool,
}

impl AwaitNode {
    fn new() -> Self {
        AwaitNode {
            node: Node::new(Target::Waker(None), 0),
            linked: false,
        }
    }

    /// Polls the future behind `header`: the terminal word when done, else registers the waker.
    ///
    /// # Safety
    /// `self` is pinned (it does not move again while linked) and is only ever used with the
    /// same `header`.
    unsafe fn poll(&mut self, header: &Header, cx: &mut Context<'_>) -> Poll<Snapshot> {
        let s = header.state.load();
        if s.is_terminal() {
            // SAFETY: linked to this header, if linked at all.
            unsafe { self.unlink(header) };
            return Poll::Ready(s);
        }
        if self.linked {
            // SAFETY: the node is linked to `header` with a waker target.
            if unsafe { header.update_waker(&self.node, cx.waker()) } {
                return Poll::Pending;
            }
            // Notified: the future is terminal now.
            self.linked = false;
            return Poll::Ready(header.state.load());
        }
        Header::set_waker(&self.node, cx.waker());
        // SAFETY: the node is unlinked, pinned inside the Rust future, and unlinked on drop.
        match unsafe { header.link(&self.node) } {
            Link::Terminal(s) => Poll::Ready(s),
            Link::Linked => {
                self.linked = true;
                Poll::Pending
            }
        }
    }

    /// # Safety
    /// If linked, the node is linked to `header`.
    unsafe fn unlink(&mut self, header: &Header) {
        if self.linked {
            // SAFETY: linked to `header` by `poll`.
            unsafe { header.unlink(&self.node) };
            self.linked = false;
        }
    }
}

/// The Rust future of `(&fut).await`: resolves to `Result<&T, Error>`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let fut = concurrent_futures::Future::new();
/// fut.set_result(3u8).unwrap();
/// assert_eq!((&fut).await.unwrap(), &3);
/// # }
/// ```
#[must_use = "a Rust future does nothing unless polled"]
pub struct ResultFuture<'a, T> {
    fut: &'a Future<T>,
    node: AwaitNode,
}

impl<'a, T> IntoFuture for &'a Future<T> {
    type Output = Result<&'a T, Error>;
    type IntoFuture = ResultFuture<'a, T>;

    fn into_future(self) -> ResultFuture<'a, T> {
        ResultFuture {
            fut: self,
            node: AwaitNode::new(),
        }
    }
}

impl<'a, T> StdFuture for ResultFuture<'a, T> {
    type Output = Result<&'a T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: the node is never moved out of the pinned struct.
        let this = unsafe { self.get_unchecked_mut() };
        let fut = this.fut;
        // SAFETY: pinned, and always polled against the same future.
        match unsafe { this.node.poll(fut.header(), cx) } {
            Poll::Ready(s) => Poll::Ready(fut.outcome_ref(s)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> Drop for ResultFuture<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the node was only ever linked to this future.
        unsafe { self.node.unlink(self.fut.header()) };
    }
}

/// The Rust future of `fut.await`: resolves to `Result<T, Error>`, moving the value out when
/// this was the only user handle and cloning it otherwise.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let fut = concurrent_futures::Future::new();
/// fut.set_result(String::from("owned")).unwrap();
/// assert_eq!(fut.await.unwrap(), "owned");
/// # }
/// ```
#[must_use = "a Rust future does nothing unless polled"]
pub struct OwnedResultFuture<T> {
    fut: Option<Future<T>>,
    node: AwaitNode,
}

impl<T: Clone> IntoFuture for Future<T> {
    type Output = Result<T, Error>;
    type IntoFuture = OwnedResultFuture<T>;

    fn into_future(self) -> OwnedResultFuture<T> {
        OwnedResultFuture {
            fut: Some(self),
            node: AwaitNode::new(),
        }
    }
}

impl<T: Clone> StdFuture for OwnedResultFuture<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: the node is never moved out of the pinned struct.
        let this = unsafe { self.get_unchecked_mut() };
        let fut = this
            .fut
            .as_ref()
            .expect("OwnedResultFuture polled after completion");
        // SAFETY: pinned, and always polled against the same future.
        match unsafe { this.node.poll(fut.header(), cx) } {
            Poll::Ready(_) => {
                // Terminal and unlinked: `into_result` does not block.
                let fut = this.fut.take().expect("checked above");
                Poll::Ready(fut.into_result())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> Drop for OwnedResultFuture<T> {
    fn drop(&mut self) {
        if let Some(fut) = &self.fut {
            // SAFETY: the node was only ever linked to this future.
            unsafe { self.node.unlink(fut.header()) };
        }
    }
}
