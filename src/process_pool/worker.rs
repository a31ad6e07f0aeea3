//! The pool's side of one worker process: starting it, the thread that writes its calls, the
//! thread that reads its replies, and how its end is described.
//!
//! Each worker has two threads in the pool's process, so that neither direction can block
//! the other on a full socket (rule R2 of `mod.rs`): the writer only writes what the pool
//! queued for it, and the reader only reads, calling back into the pool, which never waits
//! on a write.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::protocol::{FromWorker, MARKER, WORKER_FD, read_frame, registry_digest};
use super::{Pool, on_pool_thread};
use crate::sync::Arc;

/// How long a new worker has to say who it is.
pub(super) const HANDSHAKE: Duration = Duration::from_secs(30);

/// What the pool keeps to talk to a started worker.
pub(super) struct Started {
    pub(super) pid: u32,
    /// Frames for the writer thread; dropping it closes the worker's channel (it exits).
    pub(super) tx: mpsc::Sender<Vec<u8>>,
}

/// The other end of a worker's channel: a child process this pool started, or a worker it
/// did not start (an MPI rank, the MPI root's own worker thread) that its launcher attached.
pub(super) enum Peer {
    Child(Child),
    Attached(Box<dyn Attached>),
}

/// A worker this pool did not start, as its launcher describes it ([`Launch::Attach`]).
pub(crate) trait Attached: Send {
    /// Who it is, for messages: "rank 2".
    fn who(&self) -> String;
    /// Its channel reached EOF: how it ended ("rank 2 ended").
    fn ended(&mut self) -> String;
    /// Why its launcher gave it up, if it did ("rank 2 sent nothing for 60 s"): that is
    /// what a break says, before anything the channel showed.
    fn lost(&self) -> Option<String>;
    /// It broke the protocol (`why`): cut it off. What it is lost for from then on is
    /// `why`, so that whichever reader breaks the pool first names the real cause.
    fn end(&mut self, why: &str);
}

/// How a pool gets its workers.
pub(crate) enum Launch {
    /// Starts each worker as a process from this executable.
    Exec(std::path::PathBuf),
    /// Attaches worker `key` (0, 1, ...): the pool's end of its channel, and who it is.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    Attach(Box<AttachFn>),
}

/// See [`Launch::Attach`].
pub(crate) type AttachFn = dyn Fn(u64) -> io::Result<(UnixStream, Box<dyn Attached>)> + Send + Sync;

impl Launch {
    /// What a failed start names.
    pub(super) fn describe(&self) -> String {
        match self {
            Launch::Exec(path) => format!(
                "a worker process could not be started from {}",
                path.display()
            ),
            Launch::Attach(_) => "a worker could not be attached".to_owned(),
        }
    }
}

impl Peer {
    /// How long its handshake may take: a process's, [`HANDSHAKE`]; an attached worker's
    /// launcher watches it itself (an MPI rank's `lost_after`).
    fn handshake_timeout(&self) -> Option<Duration> {
        match self {
            Peer::Child(_) => Some(HANDSHAKE),
            Peer::Attached(_) => None,
        }
    }

    fn lost(&self) -> Option<String> {
        match self {
            Peer::Child(_) => None,
            Peer::Attached(a) => a.lost(),
        }
    }

    fn who(&self) -> String {
        match self {
            Peer::Child(child) => format!("worker pid {}", child.id()),
            Peer::Attached(a) => a.who(),
        }
    }

    /// A worker that broke the protocol (`why`) may still run: end it.
    fn end(&mut self, why: &str) {
        match self {
            Peer::Child(child) => {
                let _ = child.kill();
            }
            Peer::Attached(a) => a.end(why),
        }
    }

    /// Reaps it (a child) and says how it ended.
    fn ended(&mut self) -> String {
        match self {
            Peer::Child(child) => match child.wait() {
                Ok(status) => format!("worker pid {} {}", child.id(), describe(status)),
                Err(e) => format!(
                    "worker pid {} ended, and waiting for it failed: {e}",
                    child.id()
                ),
            },
            Peer::Attached(a) => a.ended(),
        }
    }
}

/// Starts (or attaches) a worker and its two threads. `key` names it in the pool's
/// callbacks.
pub(super) fn start(pool: &Arc<Pool>, key: u64) -> io::Result<Started> {
    match &pool.settings.launch {
        Launch::Exec(path) => start_process(pool, key, path),
        Launch::Attach(attach) => {
            let (ours, peer) = attach(key)?;
            let peer = Peer::Attached(peer);
            // A failed thread start drops the peer: its channel closes, so it ends.
            start_threads(pool, key, ours, peer, 0).map_err(|(e, _)| e)
        }
    }
}

fn start_process(pool: &Arc<Pool>, key: u64, executable: &std::path::Path) -> io::Result<Started> {
    let (ours, theirs) = UnixStream::pair()?;
    let their_fd = theirs.as_raw_fd();
    let mut cmd = Command::new(executable);
    cmd.env(MARKER, std::process::id().to_string())
        .stdin(Stdio::null());
    // SAFETY: the closure runs in the forked child before exec, and only calls dup2 and
    // fcntl, which are async-signal-safe; it touches no memory of the parent's but the
    // descriptor number it copied.
    unsafe {
        cmd.pre_exec(move || {
            if their_fd == WORKER_FD {
                // dup2 onto itself would keep close-on-exec: clear it instead.
                if libc::fcntl(WORKER_FD, libc::F_SETFD, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(their_fd, WORKER_FD) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    drop(theirs);
    let pid = child.id();
    start_threads(pool, key, ours, Peer::Child(child), pid).map_err(|(e, peer)| {
        // The threads could not start: end the worker and reap it, so no zombie is left
        // (R6).
        if let Some(Peer::Child(mut child)) = peer {
            let _ = child.kill();
            let _ = child.wait();
        }
        e
    })
}

/// The writer and reader threads of a worker whose channel is `ours`. On an error, the peer
/// comes back unless the reader already owns it.
fn start_threads(
    pool: &Arc<Pool>,
    key: u64,
    ours: UnixStream,
    peer: Peer,
    pid: u32,
) -> Result<Started, (io::Error, Option<Peer>)> {
    let writer = match ours.try_clone() {
        Ok(w) => w,
        Err(e) => return Err((e, Some(peer))),
    };
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let tag = match &peer {
        Peer::Child(_) => format!("process-{pid}"),
        Peer::Attached(_) => format!("attached-{key}"),
    };
    let name = |role: &str| format!("concurrent-futures-{tag}-{role}");
    let wrote = std::thread::Builder::new()
        .name(name("writer"))
        .spawn(move || write_calls(writer, rx));
    if let Err(e) = wrote {
        return Err((e, Some(peer)));
    }
    // The reader owns the peer from its first instruction; until then it is here, so a
    // failed thread start can still end it.
    let slot = Arc::new(std::sync::Mutex::new(Some(peer)));
    let theirs_slot = slot.clone();
    let reader_pool = pool.clone();
    let read = std::thread::Builder::new()
        .name(name("reader"))
        .spawn(move || {
            let peer = theirs_slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(peer) = peer {
                read_replies(reader_pool, key, ours, peer);
            }
        });
    if let Err(e) = read {
        // `tx` drops with the error: the writer ends and closes the channel.
        let peer = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        return Err((e, peer));
    }
    Ok(Started { pid, tx })
}

/// The writer thread: writes each queued frame, then closes the channel's write half, which
/// ends the worker (C2 of `child.rs`). A worker that is gone stops it (its reader reports
/// how). Writes never raise SIGPIPE, so a host that does not ignore it survives a worker's
/// crash too.
fn write_calls(writer: UnixStream, rx: mpsc::Receiver<Vec<u8>>) {
    for frame in rx {
        if send_all(&writer, &frame).is_err() {
            break;
        }
    }
    let _ = writer.shutdown(std::net::Shutdown::Write);
}

/// `write_all` with `MSG_NOSIGNAL`.
fn send_all(stream: &UnixStream, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: send(2) reads `buf.len()` bytes from a live slice, on a descriptor this
        // stream owns for the call's duration.
        let n = unsafe {
            libc::send(
                stream.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// The reader thread: the handshake, then every reply, then the worker's end.
fn read_replies(pool: Arc<Pool>, key: u64, mut stream: UnixStream, mut peer: Peer) {
    on_pool_thread(pool.id);
    // Nothing here should unwind (decoding and callbacks are caught where they run); if
    // anything does, the worker is still ended, reaped and accounted for.
    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        serve_replies(&pool, key, &mut stream, &peer)
    }));
    let failure = served.unwrap_or_else(|payload| {
        Err(format!(
            "the pool's reader of {} panicked: {}",
            peer.who(),
            crate::unwind::payload_message(payload)
        ))
    });
    // From here the pid may be reaped: the pool must not signal it any more.
    pool.on_eof(key);
    if let Err(why) = &failure {
        peer.end(why);
    }
    let how = peer.ended();
    let ended = match (&failure, peer.lost()) {
        (_, Some(why)) => why,
        (Err(why), None) => why.clone(),
        (Ok(()), None) => how,
    };
    pool.on_exit(key, ended, failure.is_err());
}

/// The handshake, then every reply until the channel ends: `Ok` at a clean end, or what
/// went wrong.
fn serve_replies(
    pool: &Arc<Pool>,
    key: u64,
    stream: &mut UnixStream,
    peer: &Peer,
) -> Result<(), String> {
    let who = peer.who();
    handshake(stream, &who, peer.handshake_timeout()).and_then(|()| {
        pool.on_ready(key);
        loop {
            match read_frame::<_, FromWorker>(stream) {
                Ok(Some(FromWorker::Done { id, results })) => pool.on_done(key, id, results),
                Ok(Some(FromWorker::InitFailed(record))) => {
                    return Err(format!(
                        "the initializer failed in {who}: {}",
                        crate::Exception::from_record(*record)
                    ));
                }
                Ok(Some(FromWorker::Ready { .. })) => {
                    return Err("a worker said hello twice".to_owned());
                }
                Ok(None) => return Ok(()),
                // A worker that died with our frames unread resets the connection: that
                // is its end, which its exit status describes.
                Err(super::protocol::FrameError::Io(e))
                    if e.kind() == std::io::ErrorKind::ConnectionReset =>
                {
                    return Ok(());
                }
                Err(e) => return Err(format!("{who}: {e}")),
            }
        }
    })
}

/// Reads the worker's first frame within `timeout` and checks that it runs this binary's
/// task registry.
fn handshake(stream: &mut UnixStream, who: &str, timeout: Option<Duration>) -> Result<(), String> {
    stream
        .set_read_timeout(timeout)
        .map_err(|e| format!("{who}: {e}"))?;
    let hello = read_frame::<_, FromWorker>(stream);
    stream
        .set_read_timeout(None)
        .map_err(|e| format!("{who}: {e}"))?;
    match hello {
        Ok(Some(FromWorker::Ready { digest, .. })) if digest == registry_digest() => Ok(()),
        Ok(Some(FromWorker::Ready { .. })) => Err(format!(
            "{who} runs a different task registry: the worker executable must be \
             the same build as the program that starts the pool"
        )),
        Ok(Some(other)) => Err(format!("{who} began with {other:?}, not a handshake")),
        // EOF before a word: the worker exited; its status, read by the caller, says how.
        Ok(None) => Err(format!(
            "{who} ended before its handshake; if its hook did not run, call \
             concurrent_futures::process_worker_init() first in main"
        )),
        Err(super::protocol::FrameError::Io(e))
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Err(format!(
                "{who} did not answer its handshake within {} s",
                timeout.unwrap_or(HANDSHAKE).as_secs()
            ))
        }
        Err(e) => Err(format!("{who}: {e}")),
    }
}

/// "exited with code 99", "terminated by signal 11 (SIGSEGV)".
pub(super) fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with code {code}");
    }
    match status.signal() {
        Some(sig) => {
            let name = match sig {
                libc::SIGABRT => " (SIGABRT)",
                libc::SIGBUS => " (SIGBUS)",
                libc::SIGFPE => " (SIGFPE)",
                libc::SIGILL => " (SIGILL)",
                libc::SIGKILL => " (SIGKILL)",
                libc::SIGSEGV => " (SIGSEGV)",
                libc::SIGTERM => " (SIGTERM)",
                _ => "",
            };
            format!("terminated by signal {sig}{name}")
        }
        None => format!("ended ({status})"),
    }
}
