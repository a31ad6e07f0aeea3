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
//! * C1 (recursion guard): a process is a worker only if it starts with the marker in its
//!   environment *and* a socket as fd 3, decided once, at load. fd 3 is close-on-exec in a
//!   worker, so a program a task starts (which inherits the marker) is no worker: it runs
//!   as itself and may build pools of its own. A process that was started as a worker but
//!   whose hook did not run is refused when it builds a pool, instead of starting workers
//!   of its own; `process_worker_init` first in `main` serves it.
//! * C2: it exits as soon as its channel reaches EOF, whatever it is doing: the pool closed
//!   it, or the parent died. The exit never waits on a lock a task may hold. A server in a
//!   process that lives on ([`Serving::InProcess`]: an MPI rank, the MPI root's own worker)
//!   stops at EOF once its running call, and the one pipelined behind it that it had
//!   already read, are over, and [`serve_on`] returns.
//! * C3: stdout and stderr are the parent's; the protocol never touches them. Task panics
//!   are captured (message, location, backtrace text) and sent back; the panic hook prints
//!   nothing for them. SIGPIPE is ignored, as in any Rust `main`, so a task writing to a
//!   closed pipe gets an error, not a signal.
//! * C4 (cancel requests): the reader thread handles a `Cancel` frame itself, at once, even
//!   while a call runs: it raises the running call's flag, which
//!   [`cancel_requested`](crate::cancel_requested) reads on the calling thread, or notes
//!   the id of a call still to start (calls are pipelined), which starts with its flag
//!   raised. Ids grow call by call, so a request for a call already over is dropped, and
//!   a note goes once a call with an id at least as high starts (at most the calls in
//!   flight, two per worker, are ever noted).
//!
//! The hook runs with `ctor`'s `late` priority, after the other constructors of the
//! program (other crates' registrations, C++ static initialisers), since a worker never
//! returns from it.

use std::io::Write;
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Mutex, mpsc};

use super::protocol::{
    FromWorker, MARKER, Outcome, ToWorker, WORKER_FD, read_frame, registry_digest,
};
use crate::error::Exception;
use crate::future::cancel::{Ambient, EnterAmbient};
use crate::sync::lock;

/// C4: the running call's flag, read by `cancel_requested` on the worker's main thread.
static REQUESTED: AtomicBool = AtomicBool::new(false);

/// C4: which call runs, and the requests for calls still to start.
static REQUESTS: Mutex<Requests> = Mutex::new(Requests::new());

/// The bookkeeping of C4, apart from the flag it decides.
#[derive(Debug, PartialEq)]
struct Requests {
    /// The call that runs or ran last.
    current: Option<u64>,
    /// Whether `current` is still running.
    running: bool,
    /// Requested calls that have not started: ids above `current`.
    early: Vec<u64>,
}

impl Requests {
    const fn new() -> Self {
        Requests {
            current: None,
            running: false,
            early: Vec::new(),
        }
    }

    /// A request for call `id`: `true` if the running call's flag must go up.
    fn on_cancel(&mut self, id: u64) -> bool {
        match self.current {
            Some(c) if c == id => self.running,
            Some(c) if id < c => false,
            _ => {
                if !self.early.contains(&id) {
                    self.early.push(id);
                }
                false
            }
        }
    }

    /// Call `id` starts: whether it was asked to stop already.
    fn on_start(&mut self, id: u64) -> bool {
        self.current = Some(id);
        self.running = true;
        let asked = plant!("early_request_forgotten", false, self.early.contains(&id));
        self.early.retain(|&e| e > id);
        asked
    }

    fn on_end(&mut self) {
        self.running = false;
    }
}

/// A call runs between these: its flag is up from its start if it was asked early.
fn start_call(id: u64) {
    let mut r = lock(&REQUESTS);
    // ORDERING: Relaxed: the flag carries no data (see `cancel_requested`); the lock orders
    // the two threads' stores.
    REQUESTED.store(r.on_start(id), Ordering::Relaxed);
}

fn end_call() {
    let mut r = lock(&REQUESTS);
    r.on_end();
    // ORDERING: as in `start_call`.
    REQUESTED.store(false, Ordering::Relaxed);
}

/// The reader thread's part of C4.
fn request(id: u64) {
    let mut r = lock(&REQUESTS);
    if r.on_cancel(id) {
        // ORDERING: as in `start_call`.
        REQUESTED.store(true, Ordering::Relaxed);
    }
}

/// What the hook decided at load: not yet run, not a worker (or served by `init`).
static DECIDED: AtomicU8 = AtomicU8::new(UNDECIDED);
const UNDECIDED: u8 = 0;
const NOT_A_WORKER: u8 = 1;

// SAFETY: the loader runs this before `main`, single-threaded, after the program's other
// constructors (`late`). It reads the environment and fstat's fd 3, and returns at once
// unless this process was started as a worker; a worker never returns from it, and uses
// only what std provides before `main` (the environment, threads, file descriptors).
#[ctor::ctor(unsafe, priority = late)]
fn worker_hook() {
    decide();
}

/// Serves if this process is a worker (C1); otherwise records that it is not.
fn decide() {
    if is_started_worker() {
        serve();
    }
    DECIDED.store(NOT_A_WORKER, Ordering::SeqCst);
}

/// The marker is set and fd 3 is a socket (C1).
fn is_started_worker() -> bool {
    if std::env::var_os(MARKER).is_none() {
        return false;
    }
    // SAFETY: fstat(2) writes only into the struct we pass; any fd number is valid input.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let ok = unsafe { libc::fstat(WORKER_FD, &mut st) } == 0;
    ok && (st.st_mode & libc::S_IFMT) == libc::S_IFSOCK
}

/// Makes this process a pool worker if a process pool started it, and never returns then;
/// otherwise returns at once. The library's hook does this before `main` on every platform
/// where constructors run, so most programs never call it. Call it first thing in `main`
/// where the hook cannot run (a statically linked binary whose linker dropped it, or a host
/// that forbids constructors): before `main` opens any file, since it looks at fd 3.
///
/// ```
/// concurrent_futures::process_worker_init(); // first in main; a no-op unless a worker
/// // ... build pools, submit tasks ...
/// ```
pub fn init() {
    if DECIDED.load(Ordering::SeqCst) == UNDECIDED {
        decide();
    }
}

/// `true` when this process was started as a worker but is running the program's own code:
/// its hook did not run, and `init` was not called (rule C1).
pub(crate) fn is_unserved_worker() -> bool {
    DECIDED.load(Ordering::SeqCst) == UNDECIDED && std::env::var_os(MARKER).is_some()
}

/// The worker's life: handshake, then calls, until the channel closes.
fn serve() -> ! {
    // C3: as Rust's own `main` does, which has not run (and will not) in a worker.
    // SAFETY: signal(2) with SIG_IGN installs no handler code.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // SAFETY: the pool passes the worker's end of its socket as fd 3 (`worker.rs`), and
    // nothing else in this process owns that descriptor.
    let stream = unsafe { UnixStream::from_raw_fd(WORKER_FD) };
    // C2: keep the channel out of processes a task starts.
    // SAFETY: fcntl on a descriptor this process owns.
    unsafe { libc::fcntl(WORKER_FD, libc::F_SETFD, libc::FD_CLOEXEC) };
    exit(serve_on(stream, Serving::Process))
}

/// What the end of a served channel ends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) enum Serving {
    /// A worker process: the channel's end ends the process at once, even mid-call (C2).
    Process,
    /// A server in a process that lives on (an MPI rank, or the root's own worker): the
    /// channel's end stops it once the running call is over, and [`serve_on`] returns.
    InProcess,
}

/// Serves calls on `stream` as a worker does, on this thread (the calls run here; a reader
/// thread reads), until the channel ends: returns the exit code a worker process would end
/// with. A process-pool worker, an MPI rank and the MPI root's own worker all serve here.
pub(crate) fn serve_on(stream: UnixStream, mode: Serving) -> i32 {
    crate::unwind::install_hook();
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return 3,
    };
    /// In a process that lives on, however serving ends (an early return, a panic), the
    /// channel is hung up both ways, so the reader thread and the far end both see the end.
    struct HangUp(Option<UnixStream>);
    impl Drop for HangUp {
        fn drop(&mut self) {
            if let Some(s) = &self.0 {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }
    let _hang_up = HangUp(match mode {
        Serving::Process => None,
        Serving::InProcess => writer.try_clone().ok(),
    });
    // The reader's verdict when it is the one that ends serving (an in-process server).
    let code = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(0));
    let reader_code = code.clone();
    let ready = FromWorker::Ready {
        pid: std::process::id(),
        digest: registry_digest(),
    };
    if let Err(code) = send(&mut writer, &ready) {
        return code;
    }
    // C2: a reader thread, so that EOF ends a worker process even while a task runs.
    let (tx, rx) = mpsc::channel::<ToWorker>();
    let mut reader = stream;
    let ended = move |code: i32| {
        if mode == Serving::Process {
            exit(code);
        }
        reader_code.store(code, Ordering::Relaxed);
    };
    let spawned = std::thread::Builder::new()
        .name("concurrent-futures-worker-reader".into())
        .spawn(move || {
            loop {
                match read_frame::<_, ToWorker>(&mut reader) {
                    // C4: handled here, while the main thread may be running the call.
                    Ok(Some(ToWorker::Cancel { id })) => request(id),
                    Ok(Some(msg)) => {
                        if tx.send(msg).is_err() {
                            return ended(0);
                        }
                    }
                    Ok(None) => return ended(0),
                    Err(e) => {
                        eprintln!("concurrent-futures worker {}: {e}", std::process::id());
                        return ended(3);
                    }
                }
            }
        });
    if spawned.is_err() {
        return 3;
    }
    // SAFETY: the flag is a static, so it outlives the guard.
    let _ambient = unsafe { EnterAmbient::new(Ambient::Flag(&REQUESTED)) };
    for msg in rx {
        let sent = match msg {
            ToWorker::Init { name, arg } => match call(&name, &arg) {
                Ok(_) => Ok(()),
                Err(record) => {
                    let _ = send(&mut writer, &FromWorker::InitFailed(record));
                    return 0;
                }
            },
            ToWorker::Call { id, name, args } => {
                start_call(id);
                let results: Vec<_> = args.iter().map(|arg| call(&name, arg)).collect();
                end_call();
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
                        send(&mut writer, &FromWorker::Done { id, results })
                    }
                }
            }
            // The reader handles these itself (C4).
            ToWorker::Cancel { .. } => Ok(()),
        };
        if let Err(code) = sent {
            return code;
        }
    }
    // ORDERING: Relaxed: the reader stores before it drops its sender, and the channel's
    // disconnection, which ended `rx`, orders that store before this load.
    code.load(Ordering::Relaxed)
}

/// One call of a named task: its encoded result, or what it raised (a panic, or an
/// argument or result that did not decode or encode), as a wire record.
pub(super) fn call(name: &str, arg: &[u8]) -> Outcome {
    match crate::unwind::capture(|| crate::executor::task::call_by_name(name, arg)) {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(task_error)) => Err(Box::new(Exception::new(task_error).to_record())),
        Err(raised) => Err(Box::new(raised.to_record())),
    }
}

/// Sends a message; `Err` with the exit code when the channel cannot take it, which means
/// the pool is gone (C2).
fn send(writer: &mut UnixStream, msg: &FromWorker) -> Result<(), i32> {
    match super::protocol::encode(msg) {
        Ok(frame) => send_frame(writer, &frame),
        Err(_) => Err(3),
    }
}

fn send_frame(writer: &mut UnixStream, frame: &[u8]) -> Result<(), i32> {
    writer.write_all(frame).map_err(|_| 0)
}

/// Ends the worker (C2). `std::process::exit` flushes stdout only if it can take its lock
/// at once, so a task holding it (or blocked writing) cannot keep the worker alive.
fn exit(code: i32) -> ! {
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::Requests;

    #[test]
    fn a_request_reaches_the_running_call_a_later_one_or_nobody() {
        let mut r = Requests::new();
        // Before any call: noted for later.
        assert!(!r.on_cancel(2));
        assert!(!r.on_start(1), "call 1 was not asked");
        assert!(r.on_cancel(1), "the running call's flag goes up");
        r.on_end();
        assert!(!r.on_cancel(1), "call 1 is over: nothing to raise");
        assert!(!r.on_cancel(0), "an older call: dropped");
        assert!(r.on_start(2), "call 2 was asked before it started");
        assert!(r.early.is_empty());
        assert!(!r.on_cancel(4));
        assert!(!r.on_start(3), "a request for 4 is not one for 3");
        assert_eq!(r.early, [4]);
        r.on_end();
        // A call skipped (answered by another worker) leaves no note behind.
        assert!(!r.on_start(5));
        assert!(r.early.is_empty());
    }
}
