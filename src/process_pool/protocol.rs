//! The wire between a process pool and its workers: length-prefixed postcard frames on a
//! socket that the worker sees as fd 3 (never stdin or stdout, so a task's `println!` cannot
//! corrupt it), and the handshake's registry digest.
//!
//! A frame is a `u32` little-endian length, then that many bytes of one postcard-encoded
//! message. Invariant P1: a reader never allocates more than it has received, plus at most
//! [`MAX_FRAME`], so a corrupt length cannot exhaust memory; a frame over the limit, a
//! truncated frame and bytes that do not decode are each an error, never a panic or a hang
//! on data that will not come (the reader returns at EOF).

#[cfg(test)]
use std::io::Write;
use std::io::{self, Read};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ExceptionRecord;

/// The worker's end of the socket.
pub(crate) const WORKER_FD: i32 = 3;

/// Set in a worker's environment (to the parent's pid): the hook turns the process into a
/// worker. Removed from the worker's own environment at once (the recursion guard).
pub(crate) const MARKER: &str = "CONCURRENT_FUTURES_PROCESS_WORKER";

/// The largest frame either side sends or accepts: 1 GiB.
pub(crate) const MAX_FRAME: usize = 1 << 30;

/// What the pool sends a worker.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(crate) enum ToWorker {
    /// Run the initializer (a named task on `()`), once, before any call.
    Init {
        /// The task's name.
        name: String,
        /// Its encoded argument.
        arg: Vec<u8>,
    },
    /// Call a named task on each argument of a chunk; one result per argument.
    Call {
        /// The pool's id for this call.
        id: u64,
        /// The task's name.
        name: String,
        /// The encoded arguments.
        args: Vec<Vec<u8>>,
    },
    /// A cancel was requested for call `id` (rule R7 of the pool): its task, running or
    /// still to start, sees [`cancel_requested`](crate::cancel_requested) return `true`.
    Cancel {
        /// The call's id.
        id: u64,
    },
}

/// One argument's outcome on the wire: its encoded result, or what it raised (boxed: the
/// record is large and rare; serde encodes the box as its content).
pub(crate) type Outcome = Result<Vec<u8>, Box<ExceptionRecord>>;

/// What a worker sends its pool.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(crate) enum FromWorker {
    /// The first frame: who the worker is, and which tasks it knows.
    Ready {
        /// Its process id.
        pid: u32,
        /// [`registry_digest`] of its binary.
        digest: u64,
    },
    /// The initializer failed: the pool is broken.
    InitFailed(Box<ExceptionRecord>),
    /// A call's results, one per argument, in order.
    Done {
        /// The call's id.
        id: u64,
        /// Each argument's encoded result, or what it raised.
        results: Vec<Outcome>,
    },
}

/// Why a frame could not be read.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// The stream failed.
    Io(io::Error),
    /// The stream ended inside a frame.
    Truncated,
    /// The length is over [`MAX_FRAME`].
    TooLarge(usize),
    /// The bytes are not a message.
    Decode(String),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Io(e) => write!(f, "the channel failed: {e}"),
            FrameError::Truncated => f.write_str("the channel ended inside a frame"),
            FrameError::TooLarge(n) => {
                write!(f, "a frame of {n} bytes is over the {MAX_FRAME}-byte limit")
            }
            FrameError::Decode(e) => write!(f, "a frame did not decode: {e}"),
        }
    }
}

/// Encodes `msg` as one frame.
pub(crate) fn encode<M: Serialize>(msg: &M) -> Result<Vec<u8>, String> {
    // Four bytes for the length, filled in once the body is known.
    let mut frame = postcard::to_extend(msg, vec![0u8; 4]).map_err(|e| e.to_string())?;
    let len = frame.len() - 4;
    if len > MAX_FRAME {
        return Err(format!(
            "a message of {len} bytes is over the {MAX_FRAME}-byte frame limit"
        ));
    }
    frame[..4].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(frame)
}

/// Writes `msg` as one frame.
#[cfg(test)]
pub(crate) fn write_frame<W: Write, M: Serialize>(w: &mut W, msg: &M) -> io::Result<()> {
    let frame = encode(msg).map_err(io::Error::other)?;
    w.write_all(&frame)?;
    w.flush()
}

/// Reads one frame: `Ok(None)` at a clean end of the stream (between frames).
pub(crate) fn read_frame<R: Read, M: DeserializeOwned>(r: &mut R) -> Result<Option<M>, FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    // P1: the buffer grows with what arrives, not with what the length claims.
    let mut body = Vec::new();
    let read = r
        .take(len as u64)
        .read_to_end(&mut body)
        .map_err(FrameError::Io)?;
    if read < len {
        return Err(FrameError::Truncated);
    }
    postcard::from_bytes(&body)
        .map(Some)
        .map_err(|e| FrameError::Decode(e.to_string()))
}

/// A digest of this binary's task registry (every declared name, sorted): the handshake
/// compares the worker's with the pool's, so a worker built from another binary is refused
/// before it gets a call it might misread. FNV-1a, so it is the same in every process of
/// one build whatever the hasher seeds.
pub(crate) fn registry_digest() -> u64 {
    let mut names = crate::executor::task::names();
    names.sort_unstable();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for name in names {
        for b in name.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The fuzz target's logic: any bytes, read as a stream of frames by the pool's reader,
/// end in an error or a clean end, never a panic, a hang or an allocation beyond P1's.
#[cfg(any(test, fuzzing))]
pub(crate) fn fuzz_reader(data: &[u8]) {
    let mut r = data;
    for _ in 0..data.len() + 1 {
        match read_frame::<_, FromWorker>(&mut r) {
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return,
        }
    }
    panic!("more frames than bytes");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_end_cleanly() {
        let msgs = [
            ToWorker::Init {
                name: "a::init".into(),
                arg: vec![],
            },
            ToWorker::Call {
                id: 7,
                name: "a::f".into(),
                args: vec![vec![1, 2], vec![]],
            },
            ToWorker::Cancel { id: 7 },
        ];
        let mut wire = Vec::new();
        for m in &msgs {
            write_frame(&mut wire, m).unwrap();
        }
        let mut r = &wire[..];
        for m in &msgs {
            assert_eq!(read_frame::<_, ToWorker>(&mut r).unwrap().as_ref(), Some(m));
        }
        assert!(read_frame::<_, ToWorker>(&mut r).unwrap().is_none());
    }

    #[test]
    fn a_truncated_an_oversized_and_a_garbled_frame_are_errors() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &FromWorker::Ready { pid: 1, digest: 2 }).unwrap();
        let cut = &wire[..wire.len() - 1];
        assert!(matches!(
            read_frame::<_, FromWorker>(&mut &cut[..]),
            Err(FrameError::Truncated)
        ));
        assert!(matches!(
            read_frame::<_, FromWorker>(&mut &wire[..2]),
            Err(FrameError::Truncated)
        ));
        // A length of 4 GiB - 1 with nothing behind it: refused before any allocation.
        let huge = [0xff, 0xff, 0xff, 0xff, 0];
        assert!(matches!(
            read_frame::<_, FromWorker>(&mut &huge[..]),
            Err(FrameError::TooLarge(_))
        ));
        // A plausible length with too few bytes behind it allocates only what came.
        let short = [0x00, 0x00, 0x00, 0x10, 1, 2, 3];
        assert!(matches!(
            read_frame::<_, FromWorker>(&mut &short[..]),
            Err(FrameError::Truncated)
        ));
        let garbled = [3, 0, 0, 0, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame::<_, FromWorker>(&mut &garbled[..]),
            Err(FrameError::Decode(_))
        ));
    }

    #[test]
    fn the_digest_is_stable_and_covers_the_registry() {
        assert_eq!(registry_digest(), registry_digest());
        assert!(!crate::executor::task::names().is_empty());
    }

    #[test]
    fn the_fuzz_reader_ends_on_arbitrary_bytes() {
        for data in [&[][..], &[1, 0, 0, 0, 0][..], &[0xff; 64][..], &[0; 9][..]] {
            fuzz_reader(data);
        }
    }

    /// The `frames` fuzz target's checked-in seeds, replayed on every `cargo test`; the
    /// valid ones decode to what they were written as.
    #[test]
    fn the_frames_seed_corpus() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/frames");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            fuzz_reader(&data);
            n += 1;
        }
        assert!(n >= 5);
        let ready = std::fs::read(format!("{dir}/ready")).unwrap();
        assert_eq!(
            read_frame::<_, FromWorker>(&mut &ready[..]).unwrap(),
            Some(FromWorker::Ready { pid: 1, digest: 2 })
        );
        let done = std::fs::read(format!("{dir}/done_two_results")).unwrap();
        assert_eq!(
            read_frame::<_, FromWorker>(&mut &done[..]).unwrap(),
            Some(FromWorker::Done {
                id: 7,
                results: vec![Ok(vec![42]), Ok(vec![])]
            })
        );
    }
}
