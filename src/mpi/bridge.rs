//! The one thread that makes every MPI call, on every rank (`Threading::Funneled`: it is the
//! thread that initializes MPI, and the only one that calls it).
//!
//! It is a byte pump. Each rank the root talks to has a *link*: a socket pair whose other
//! end is an ordinary worker channel (on the root, the process pool's reader and writer
//! threads; on a worker rank, the server of `process_pool/child.rs`). What the channel's
//! end writes into the link, the pump sends to the peer rank as MPI messages; what comes
//! from the peer, it writes into the link. So an MPI rank speaks the same frames as a
//! worker process, and the pool's rules (R1–R8 of `process_pool/mod.rs`) hold for ranks
//! unchanged.
//!
//! Rules of the pump:
//! * B1 (no MPI call blocks): sends are `MPI_Isend` and receives `MPI_Imrecv` of a message
//!   `MPI_Improbe` matched, each completed by `MPI_Test`; link sockets are non-blocking. So
//!   two ranks sending each other large messages at once cannot deadlock (each keeps
//!   receiving), which a blocking `MPI_Send` in rendezvous mode would, and a rank that
//!   stops in the middle of a large message stalls only its own link. A buffer MPI reads
//!   or writes is freed only once its request completed, and never if it does not (a
//!   lost rank's): it is left to the exit.
//! * B2 (order): a link's bytes travel as [`DATA`] messages, which MPI keeps in order between
//!   two ranks on one tag; an empty `DATA` message is the end of the stream (a socket read
//!   never yields zero bytes but at its end), after which the receiver shuts its socket's
//!   write half, once everything before it is written.
//! * B3 (idle): for [`SPIN`] after it last moved anything the pump only yields; then it
//!   sleeps in `poll(2)` on its sockets, 1 µs at first, doubling with each idle pass up to
//!   the backoff (default 1 ms, as mpi4py's). So a submit on the root wakes it at
//!   once, an MPI arrival soon after the last one is seen within microseconds and one
//!   after a long quiet within the backoff, and an idle rank does not burn a core.
//! * B4 (heartbeat): a worker rank sends an empty [`HEARTBEAT`] message every interval,
//!   from this thread, so it beats while a task runs. The root counts any message as a
//!   sign of life; a rank silent for longer than the limit is *lost*: its reason is
//!   recorded first, then its link is cut, so the pool's reader sees its end and the pool
//!   breaks with that reason (R4). A lost rank is never waited for again. Ranks are judged
//!   only once every queued message is seen (a root that was paused finds their heartbeats
//!   first), and a rank that sent its end marker is not judged (it beats no more).
//!   A heartbeat proves that the rank's process runs, not that its task does: a task
//!   stuck in a loop keeps its rank alive; `shutdown_timeout` bounds the wait for it.
//! * B5 (the end): the pump ends once every link is closed both ways and every send is
//!   complete, and then finalizes MPI. If a rank was lost it does not finalize (that would
//!   wait for the lost rank forever): this process's exit then ends the job, as MPI does
//!   for any rank that exits without finalizing. Since the job cannot end cleanly after a
//!   loss, every other link is cut at once too, so a shutdown does not wait for the calls
//!   the other ranks still run (their futures have failed with the break).

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use crate::sync::lock;
use std::time::{Duration, Instant};

use mpi::Tag;
use mpi::datatype::Equivalence;
use mpi::request::{Request, StaticScope};
use mpi::topology::{Communicator, Rank, SimpleCommunicator};
use mpi::traits::{Destination, Source};

/// A link's bytes (B2).
pub(super) const DATA: Tag = 1;
/// A worker rank's sign of life (B4).
pub(super) const HEARTBEAT: Tag = 2;

/// How long the pump only yields after it last moved something, before it sleeps (B3).
/// Measured on 2 ranks bound to a core each (`docs/scale-out.md`): 50 µs left the round
/// trip at 250–310 µs, where 1 ms gives 24 µs, and a yield costs the task thread sharing
/// the core nothing (200 × 100 µs of CPU took 22 ms against 21 ms ideal).
const SPIN: Duration = Duration::from_millis(1);
/// The most bytes one message carries.
const CHUNK: usize = 1 << 20;

/// How the pump paces itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pace {
    /// A worker rank's heartbeat interval.
    pub(crate) heartbeat: Duration,
    /// How long the root waits for any word from a rank before it is lost.
    pub(crate) lost_after: Duration,
    /// The longest idle sleep.
    pub(crate) backoff: Duration,
}

/// What each rank's pump records for the pool: why a rank was lost, and which ranks the
/// pool cut off.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) lost: Mutex<HashMap<Rank, String>>,
    pub(crate) cut: Mutex<Vec<Rank>>,
}

/// One peer rank and its socket.
struct Link {
    peer: Rank,
    sock: UnixStream,
    /// What the peer sent, in order (B2): receives in flight, then bytes still to write
    /// into the socket.
    incoming: VecDeque<Incoming>,
    /// How much of the first complete buffer is written.
    out_at: usize,
    /// The socket would not take more of a complete buffer: the pump waits for it to be
    /// writable (not for a receive still in flight, which `poll` cannot see).
    socket_full: bool,
    /// The socket's read end was reached, and the end marker sent (B2).
    read_eof: bool,
    /// The peer's end marker was received (it may still wait behind data in `incoming`).
    peer_eof: bool,
    /// The socket's write half is shut.
    shut: bool,
    heard: Instant,
    lost: bool,
}

/// One message from the peer.
enum Incoming {
    /// A receive in flight into its buffer (B1), or its buffer once complete.
    Data(Receiving),
    /// The end marker (B2).
    End,
}

impl Link {
    fn new(peer: Rank, sock: UnixStream) -> io::Result<Self> {
        sock.set_nonblocking(true)?;
        Ok(Link {
            peer,
            sock,
            incoming: VecDeque::new(),
            out_at: 0,
            socket_full: false,
            read_eof: false,
            peer_eof: false,
            shut: false,
            heard: Instant::now(),
            lost: false,
        })
    }

    fn done(&self) -> bool {
        self.lost || (self.read_eof && self.shut)
    }
}

/// A send in flight: its request, and the buffer it reads, freed once it completes (B1).
struct Sending {
    request: Request<'static, [u8], StaticScope>,
    buffer: *mut [u8],
}

/// A receive of a matched message: its request (until complete), and the buffer it writes,
/// owned again once the request completed (B1).
struct Receiving {
    request: Option<Request<'static, [u8], StaticScope>>,
    buffer: *mut [u8],
}

impl Receiving {
    /// Whether the bytes are all here.
    fn complete(&mut self) -> bool {
        match self.request.take().map(Request::test) {
            None | Some(Ok(_)) => true,
            Some(Err(request)) => {
                self.request = Some(request);
                false
            }
        }
    }

    /// The bytes, once complete.
    fn bytes(&self) -> &[u8] {
        debug_assert!(self.request.is_none());
        // SAFETY: the receive completed (`request` is `None`), so MPI writes the buffer no
        // more; it is a live allocation from `Box::into_raw`, freed only in `Drop`.
        unsafe { &*self.buffer }
    }
}

impl Drop for Receiving {
    fn drop(&mut self) {
        match self.request.take() {
            // SAFETY: the receive completed, so MPI writes the buffer no more; it came from
            // `Box::into_raw` and is freed only here.
            None => drop(unsafe { Box::from_raw(self.buffer) }),
            // Never completed (a lost rank): MPI may still write it, so it is left, and the
            // request with it (rsmpi's request panics if dropped incomplete).
            Some(request) => std::mem::forget(request),
        }
    }
}

/// The pump of one rank. `links` are the peers it serves (the root: every other rank; a
/// worker rank: the root). Returns whether MPI may be finalized (B5: no rank was lost).
pub(crate) fn pump(
    world: &SimpleCommunicator,
    links: Vec<(Rank, UnixStream)>,
    beats_to: Option<Rank>,
    pace: Pace,
    shared: &Arc<Shared>,
) -> bool {
    let mut links: Vec<Link> = links
        .into_iter()
        .filter_map(|(peer, sock)| Link::new(peer, sock).ok())
        .collect();
    let mut sending: Vec<Sending> = Vec::new();
    let mut buf = vec![0u8; CHUNK];
    let mut idle = 0u32;
    let mut busy = Instant::now();
    let mut last_beat = Instant::now();
    let started = Instant::now();
    loop {
        // Only a link's bytes count as work: heartbeats alone never keep the pump spinning
        // (B3).
        let mut moved = false;
        // The pool cut these off (a protocol failure): lost from now on.
        for rank in std::mem::take(&mut *lock(&shared.cut)) {
            if let Some(l) = links.iter_mut().find(|l| l.peer == rank && !l.done()) {
                lose(l, shared, format!("rank {rank} was cut off by the root"));
            }
        }
        // The links' sockets → MPI.
        for l in links.iter_mut().filter(|l| !l.read_eof && !l.lost) {
            loop {
                match l.sock.read(&mut buf) {
                    Ok(n) => {
                        // n == 0: the end of the stream, sent as the end marker (B2).
                        send(world, l.peer, DATA, &buf[..n], &mut sending);
                        moved = true;
                        if n == 0 {
                            l.read_eof = true;
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        // The other end is gone without a clean close: end the stream.
                        send(world, l.peer, DATA, &[], &mut sending);
                        l.read_eof = true;
                        moved = true;
                        break;
                    }
                }
            }
        }
        // MPI → the links: every message found is matched and its receive started (B1).
        let mut drained = false;
        for _ in 0..256 {
            let probe = match beats_to {
                Some(root) => world.process_at_rank(root).immediate_matched_probe(),
                None => world.any_process().immediate_matched_probe(),
            };
            let Some((msg, status)) = probe else {
                drained = true;
                break;
            };
            let len = usize::try_from(status.count(u8::equivalent_datatype())).unwrap_or(0);
            let buffer: *mut [u8] = Box::into_raw(vec![0u8; len].into_boxed_slice());
            // SAFETY: `buffer` is a live allocation from `Box::into_raw` (dangling but valid
            // for zero bytes), owned by the `Receiving` below, which frees it only once
            // the receive completed (or never, if it does not).
            let target: &'static mut [u8] = unsafe { &mut *buffer };
            let request = msg.immediate_matched_receive_into(StaticScope, target);
            let receiving = Receiving {
                request: Some(request),
                buffer,
            };
            let Some(l) = links.iter_mut().find(|l| l.peer == status.source_rank()) else {
                continue; // not a peer of this rank's (none sends here): left, unread
            };
            l.heard = Instant::now();
            if status.tag() != DATA {
                drop(receiving_done(receiving)); // a heartbeat: empty, so complete at once
                continue;
            }
            if l.lost || l.peer_eof {
                continue; // from a rank no longer listened to: left, unread
            }
            moved = true;
            if len == 0 {
                drop(receiving_done(receiving)); // empty: complete at once
                l.peer_eof = true;
                l.incoming.push_back(Incoming::End);
            } else {
                l.incoming.push_back(Incoming::Data(receiving));
            }
        }
        for l in links.iter_mut().filter(|l| !l.shut && !l.lost) {
            moved |= flush(l);
        }
        // Sends that completed free their buffers (B1).
        sending = sending
            .into_iter()
            .filter_map(|s| match s.request.test() {
                Ok(_) => {
                    // SAFETY: the send completed, so MPI reads the buffer no more, and the
                    // request that borrowed it is consumed; `buffer` came from
                    // `Box::into_raw` in `send` and is freed only here, once.
                    drop(unsafe { Box::from_raw(s.buffer) });
                    None
                }
                Err(request) => Some(Sending { request, ..s }),
            })
            .collect();
        // B4.
        if let Some(root) = beats_to {
            let due = plant!(
                "heartbeat_not_sent",
                false,
                last_beat.elapsed() >= pace.heartbeat
            );
            // Not once its own end marker is sent: the root judges it no more, and a beat it
            // would not read must not be left unmatched at the finalize.
            if due && links.iter().any(|l| !l.read_eof && !l.lost) {
                send(world, root, HEARTBEAT, &[], &mut sending);
                last_beat = Instant::now();
            }
        } else if drained {
            // Only once every queued message is seen: a root that was paused itself finds
            // its ranks' heartbeats before it judges them. A rank that sent its end marker
            // beats no more, and is not judged.
            for l in links.iter_mut().filter(|l| !l.done() && !l.peer_eof) {
                let silent = l.heard.elapsed();
                if silent > pace.lost_after {
                    let why = if l.heard <= started {
                        format!(
                            "rank {} never answered (nothing in {:.1} s)",
                            l.peer,
                            silent.as_secs_f64()
                        )
                    } else {
                        format!(
                            "rank {} sent nothing for {:.1} s (its heartbeat stopped): its \
                             process is stopped or cannot run",
                            l.peer,
                            silent.as_secs_f64()
                        )
                    };
                    lose(l, shared, why);
                }
            }
        }
        // B5: after a loss the job cannot end cleanly, so no link is waited for any more.
        // Each says why the first was lost: whichever reader sees its end first names the
        // break (R4).
        if let Some(first) = links.iter().find(|l| l.lost).map(|l| l.peer) {
            let cause = lock(&shared.lost).get(&first).cloned().unwrap_or_default();
            for l in links.iter_mut().filter(|l| !l.done()) {
                let why = format!("rank {} was cut off, since {cause}", l.peer);
                lose(l, shared, why);
            }
        }
        let lost = links.iter().any(|l| l.lost);
        if links.iter().all(Link::done) && (lost || sending.is_empty()) {
            // Sends to a lost rank may never complete: they and their buffers are left to
            // the exit.
            for s in sending {
                std::mem::forget(s.request);
            }
            return !lost;
        }
        if moved {
            idle = 0;
            busy = Instant::now();
        } else if busy.elapsed() < SPIN {
            std::thread::yield_now();
        } else {
            // B3: 1 µs, doubling, up to the backoff.
            sleep(
                &links,
                Duration::from_micros(1 << idle.min(30)).min(pace.backoff),
            );
            idle += 1;
        }
    }
}

/// Completes the receive of an empty message (a heartbeat, an end marker), which the match
/// made complete.
fn receiving_done(mut r: Receiving) -> Receiving {
    while !r.complete() {
        std::hint::spin_loop();
    }
    r
}

/// Records why `l`'s rank is lost, then cuts its link (B4: the reason is there before the
/// pool's reader sees the end).
fn lose(l: &mut Link, shared: &Shared, why: String) {
    lock(&shared.lost).entry(l.peer).or_insert(why);
    l.lost = true;
    let _ = l.sock.shutdown(std::net::Shutdown::Both);
}

/// Writes what the peer sent into the link's socket, in order, as far as the socket takes
/// it; shuts the write half at the end marker (B2). Whether anything moved.
fn flush(l: &mut Link) -> bool {
    let mut moved = false;
    l.socket_full = false;
    loop {
        match l.incoming.front_mut() {
            None => return moved,
            Some(Incoming::End) => {
                l.incoming.clear();
                let _ = l.sock.shutdown(std::net::Shutdown::Write);
                l.shut = true;
                return true;
            }
            Some(Incoming::Data(r)) => {
                if !r.complete() {
                    return moved;
                }
                let bytes = &r.bytes()[l.out_at..];
                match send_nosignal(&l.sock, bytes) {
                    Ok(n) => {
                        moved = true;
                        l.out_at += n;
                        if n == bytes.len() {
                            l.incoming.pop_front();
                            l.out_at = 0;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        l.socket_full = true;
                        return moved;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        // The channel's end is gone: what it would have read is dropped,
                        // up to the end marker.
                        l.out_at = 0;
                        while matches!(l.incoming.front(), Some(Incoming::Data(_))) {
                            l.incoming.pop_front();
                        }
                    }
                }
            }
        }
    }
}

/// `write(2)` with `MSG_NOSIGNAL`: a closed channel is an error, never a SIGPIPE.
fn send_nosignal(sock: &UnixStream, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: send(2) reads `bytes.len()` bytes from a live slice, on a descriptor the
    // stream owns for the call's duration.
    let n = unsafe {
        libc::send(
            sock.as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Starts sending `bytes` to `peer` (B1).
fn send(
    world: &SimpleCommunicator,
    peer: Rank,
    tag: Tag,
    bytes: &[u8],
    sending: &mut Vec<Sending>,
) {
    let buffer: *mut [u8] = Box::into_raw(bytes.to_vec().into_boxed_slice());
    // SAFETY: `buffer` is a live allocation from `Box::into_raw` (dangling but valid for
    // zero bytes when empty), freed only in `pump` once this send completes, so it outlives
    // the request that borrows it.
    let data: &'static [u8] = unsafe { &*buffer };
    let request = world
        .process_at_rank(peer)
        .immediate_send_with_tag(StaticScope, data, tag);
    sending.push(Sending { request, buffer });
}

/// B3: sleeps until a socket has something, or for `nap`.
fn sleep(links: &[Link], nap: Duration) {
    let mut fds: Vec<libc::pollfd> = links
        .iter()
        .filter(|l| !l.lost && (!l.read_eof || l.socket_full))
        .map(|l| libc::pollfd {
            fd: l.sock.as_raw_fd(),
            events: if l.read_eof { 0 } else { libc::POLLIN }
                | if l.socket_full { libc::POLLOUT } else { 0 },
            revents: 0,
        })
        .collect();
    #[cfg(target_os = "linux")]
    {
        let timeout = libc::timespec {
            tv_sec: nap.as_secs() as libc::time_t,
            tv_nsec: nap.subsec_nanos() as libc::c_long,
        };
        // SAFETY: ppoll(2) reads and writes `fds.len()` entries of a live vector and reads
        // the timeout it is given; a null signal mask leaves the mask as it is.
        unsafe {
            libc::ppoll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                &timeout,
                std::ptr::null(),
            )
        };
    }
    #[cfg(not(target_os = "linux"))]
    {
        let ms = nap.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: poll(2) reads and writes `fds.len()` entries of a live vector.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    }
}
