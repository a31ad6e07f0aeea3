//! The pool's side of one worker process: starting it, the thread that writes its calls, the
//! thread that reads its replies, and how its end is described.
//!
//! Each worker has two threads in the pool's process, so that neither direction can block
//! the other on a full socket (rule R2 of `mod.rs`): the writer only writes what the pool
//! queued for it, and the reader only reads, calling back into the pool, which never waits
//! on a write.

use std::io::{self, Write};
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

/// Starts a worker process and its two threads. `key` names it in the pool's callbacks.
pub(super) fn start(pool: &Arc<Pool>, key: u64) -> io::Result<Started> {
    let (ours, theirs) = UnixStream::pair()?;
    let their_fd = theirs.as_raw_fd();
    let mut cmd = Command::new(&pool.settings.executable);
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
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let mut writer = ours.try_clone()?;
    let reader = ours;
    let name = |role: &str| format!("concurrent-futures-process-{role}-{pid}");
    std::thread::Builder::new()
        .name(name("writer"))
        .spawn(move || {
            for frame in rx {
                if writer.write_all(&frame).is_err() {
                    // The worker is gone; its reader reports how.
                    break;
                }
            }
            // C2 of `child.rs`: the closed channel ends the worker.
            let _ = writer.shutdown(std::net::Shutdown::Write);
        })?;
    let pool = pool.clone();
    // If this fails the writer ends when `tx` drops, and the worker, its channel closed,
    // exits (C2); the pool is then broken by the caller.
    std::thread::Builder::new()
        .name(name("reader"))
        .spawn(move || read_replies(pool, key, reader, child))?;
    Ok(Started { pid, tx })
}

/// The reader thread: the handshake, then every reply, then the worker's end.
fn read_replies(pool: Arc<Pool>, key: u64, mut stream: UnixStream, mut child: Child) {
    on_pool_thread(true);
    let failure = handshake(&mut stream, &child).and_then(|pid| {
        pool.on_ready(key, pid);
        loop {
            match read_frame::<_, FromWorker>(&mut stream) {
                Ok(Some(FromWorker::Done { id, results })) => pool.on_done(key, id, results),
                Ok(Some(FromWorker::InitFailed(record))) => {
                    return Err(format!(
                        "the initializer failed in worker pid {}: {}",
                        child.id(),
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
                Err(e) => return Err(format!("worker pid {}: {e}", child.id())),
            }
        }
    });
    // From here the pid may be reaped: the pool must not signal it any more.
    pool.on_eof(key);
    if failure.is_err() {
        // A worker that broke the protocol may still run: end it before reaping it.
        let _ = child.kill();
    }
    let status = child.wait();
    let ended = match (&failure, status) {
        (Err(why), _) => why.clone(),
        (Ok(()), Ok(status)) => format!("worker pid {} {}", child.id(), describe(status)),
        (Ok(()), Err(e)) => format!(
            "worker pid {} ended, and waiting for it failed: {e}",
            child.id()
        ),
    };
    pool.on_exit(key, ended, failure.is_err());
}

/// Reads the worker's first frame within [`HANDSHAKE`] and checks that it runs this binary's
/// task registry. Returns its pid.
fn handshake(stream: &mut UnixStream, child: &Child) -> Result<u32, String> {
    let pid = child.id();
    stream
        .set_read_timeout(Some(HANDSHAKE))
        .map_err(|e| format!("worker pid {pid}: {e}"))?;
    let hello = read_frame::<_, FromWorker>(stream);
    stream
        .set_read_timeout(None)
        .map_err(|e| format!("worker pid {pid}: {e}"))?;
    match hello {
        Ok(Some(FromWorker::Ready { pid, digest })) if digest == registry_digest() => Ok(pid),
        Ok(Some(FromWorker::Ready { .. })) => Err(format!(
            "worker pid {pid} runs a different task registry: the worker executable must be \
             the same build as the program that starts the pool"
        )),
        Ok(Some(other)) => Err(format!(
            "worker pid {pid} began with {other:?}, not a handshake"
        )),
        // EOF before a word: the worker exited; its status, read by the caller, says how.
        Ok(None) => Err(format!(
            "worker pid {pid} ended before its handshake; if its hook did not run, call \
             concurrent_futures::process_worker_init() first in main"
        )),
        Err(super::protocol::FrameError::Io(e))
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Err(format!(
                "worker pid {pid} did not answer its handshake within {} s",
                HANDSHAKE.as_secs()
            ))
        }
        Err(e) => Err(format!("worker pid {pid}: {e}")),
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
