//! The worker side: a process started by a pool becomes a worker before `main` (or the test
//! harness) runs, serves calls by task name on fd 3, and exits when its channel closes.
//!
//! A worker is the pool's own executable, re-executed with [`MARKER`] in its environment.
//! The hook below (a `ctor`, run by the loader before `main`) sees the marker and never
//! returns: so the pool works in unit tests, integration tests, doctests, examples and
//! release builds alike. Where the hook cannot run, [`init`](crate::process_worker_init) at
//! the top of `main` does the same.
//!
//! Rules of a worker:
//! * C1 (recursion guard): the marker is removed from the worker's environment before any
//!   task runs, so a task that starts the program again starts the program, not a worker;
//!   and a pool built in a process that still has the marker (its hook did not run) is
//!   refused with an error saying so, instead of starting workers of its own.
//! * C2: it exits as soon as its channel reaches EOF, whatever it is doing: the pool closed
//!   it, or the parent died. fd 3 is close-on-exec in the worker, so a process a task starts
//!   cannot keep the channel open after the worker is gone.
//! * C3: stdout and stderr are the parent's; the protocol never touches them. Task panics
//!   are captured (message, location, backtrace text) and sent back; the panic hook prints
//!   nothing for them.

use std::io::Write;
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;

use super::protocol::{
    FromWorker, MARKER, Outcome, ToWorker, WORKER_FD, read_frame, registry_digest,
};
use crate::error::Exception;

// SAFETY: the loader runs this before `main`, single-threaded. It reads one environment
// variable and returns at once unless this process was started as a worker; a worker never
// returns from it (it serves, then exits), and touches nothing that needs `main`'s setup
// beyond what std provides before `main` (the environment, threads, file descriptors).
#[ctor::ctor(unsafe)]
fn worker_hook() {
    if std::env::var_os(MARKER).is_some() {
        serve();
    }
}

/// Makes this process a pool worker if a process pool started it, and never returns then;
/// otherwise returns at once. The library's hook does this before `main` on every platform
/// where constructors run, so most programs never call it. Call it first thing in `main`
/// where the hook cannot run (a statically linked binary whose linker dropped it, or a host
/// that forbids constructors).
///
/// ```
/// concurrent_futures::process_worker_init(); // first in main; a no-op unless a worker
/// // ... build pools, submit tasks ...
/// ```
pub fn init() {
    if std::env::var_os(MARKER).is_some() {
        serve();
    }
}

/// `true` when this process was started as a worker but is running the program's own code:
/// its hook did not run (rule C1).
pub(crate) fn is_unserved_worker() -> bool {
    std::env::var_os(MARKER).is_some()
}

/// The worker's life: handshake, then calls, until the channel closes.
fn serve() -> ! {
    // SAFETY: (rule C1) called before `main` by the hook, or first thing in `main` by
    // `init` (its documented contract), so no other thread reads the environment
    // concurrently.
    unsafe { std::env::remove_var(MARKER) };
    // SAFETY: the pool passes the worker's end of its socket as fd 3 (`worker.rs`), and
    // nothing else in this process owns that descriptor.
    let stream = unsafe { UnixStream::from_raw_fd(WORKER_FD) };
    // C2: keep the channel out of processes a task starts.
    // SAFETY: fcntl on a descriptor this process owns.
    unsafe { libc::fcntl(WORKER_FD, libc::F_SETFD, libc::FD_CLOEXEC) };
    crate::unwind::install_hook();
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => exit(3),
    };
    let ready = FromWorker::Ready {
        pid: std::process::id(),
        digest: registry_digest(),
    };
    send(&mut writer, &ready);
    // C2: a reader thread, so that EOF ends the worker even while a task runs.
    let (tx, rx) = mpsc::channel::<ToWorker>();
    let mut reader = stream;
    let spawned = std::thread::Builder::new()
        .name("concurrent-futures-worker-reader".into())
        .spawn(move || {
            loop {
                match read_frame::<_, ToWorker>(&mut reader) {
                    Ok(Some(msg)) => {
                        if tx.send(msg).is_err() {
                            exit(0);
                        }
                    }
                    Ok(None) => exit(0),
                    Err(e) => {
                        eprintln!("concurrent-futures worker {}: {e}", std::process::id());
                        exit(3);
                    }
                }
            }
        });
    if spawned.is_err() {
        exit(3);
    }
    for msg in rx {
        match msg {
            ToWorker::Init { name, arg } => {
                if let Err(record) = call(&name, &arg) {
                    send(&mut writer, &FromWorker::InitFailed(record));
                    exit(0);
                }
            }
            ToWorker::Call { id, name, args } => {
                let results: Vec<_> = args.iter().map(|arg| call(&name, arg)).collect();
                let n = results.len();
                let done = FromWorker::Done { id, results };
                match super::protocol::encode(&done) {
                    Ok(frame) => send_frame(&mut writer, &frame),
                    // Too large for one frame: each result is that error instead, so the
                    // call still ends and the pool lives on.
                    Err(reason) => {
                        let e = Exception::msg(format!(
                            "the results of a call of `{name}` could not be sent back: {reason}"
                        ));
                        let results = vec![Err(Box::new(e.to_record())); n];
                        send(&mut writer, &FromWorker::Done { id, results });
                    }
                }
            }
        }
    }
    exit(0)
}

/// One call of a named task: its encoded result, or what it raised (a panic, or an
/// argument or result that did not decode or encode), as a wire record.
fn call(name: &str, arg: &[u8]) -> Outcome {
    match crate::unwind::capture(|| crate::executor::task::call_by_name(name, arg)) {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(task_error)) => Err(Box::new(Exception::new(task_error).to_record())),
        Err(raised) => Err(Box::new(raised.to_record())),
    }
}

/// Sends a message; a channel that cannot take it means the pool is gone (C2).
fn send(writer: &mut UnixStream, msg: &FromWorker) {
    match super::protocol::encode(msg) {
        Ok(frame) => send_frame(writer, &frame),
        Err(_) => exit(3),
    }
}

fn send_frame(writer: &mut UnixStream, frame: &[u8]) {
    if writer.write_all(frame).is_err() {
        exit(0);
    }
}

fn exit(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    std::process::exit(code)
}
