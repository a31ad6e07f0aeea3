//! The machine states a workload runs in, as users have them (issue #11): idle (as the
//! machine is), one core (every thread of the contender under one CPU's affinity), and
//! loaded (one busy background thread per core, for the duration of the workload).
//!
//! A state applies to the threads made while it holds: the pool under test is started
//! inside it (each workload starts a fresh pool per contender), and so is CPython's
//! subprocess, which inherits the affinity.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// A machine state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum MachineState {
    /// The machine as it is (quiet, for the published figures).
    Idle,
    /// The caller and every thread it starts share one core (`taskset -c <first allowed>`).
    OneCore,
    /// One spinning background thread per core competes with the workload.
    Loaded,
}

impl MachineState {
    /// Every state, in the table's order.
    pub const ALL: [MachineState; 3] = [Self::Idle, Self::OneCore, Self::Loaded];

    /// What a metric's name gets in this state: nothing when idle.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Idle => "",
            Self::OneCore => ", one core",
            Self::Loaded => ", loaded",
        }
    }

    /// The state's name, as the progress bar and the notes say it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::OneCore => "one core",
            Self::Loaded => "loaded",
        }
    }

    /// Runs `f` in this state, which ends when `f` returns (also on unwind).
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        match self {
            Self::Idle => f(),
            Self::OneCore => {
                let _pinned = Pinned::to_one_core();
                f()
            }
            Self::Loaded => {
                let _load =
                    Load::start(std::thread::available_parallelism().map_or(1, |n| n.get()));
                f()
            }
        }
    }
}

/// The calling thread pinned to the first CPU it may run on; the old affinity comes back
/// on drop.
struct Pinned {
    saved: Option<libc::cpu_set_t>,
}

impl Pinned {
    fn to_one_core() -> Pinned {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: sched_getaffinity(2) writes at most `size` bytes into the set we pass.
        let mut saved: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above; pid 0 is the calling thread.
        if unsafe { libc::sched_getaffinity(0, size, &mut saved) } != 0 {
            return Pinned { saved: None };
        }
        let Some(first) = (0..libc::CPU_SETSIZE as usize)
            // SAFETY: CPU_ISSET reads bit `cpu` of a set of CPU_SETSIZE bits.
            .find(|&cpu| unsafe { libc::CPU_ISSET(cpu, &saved) })
        else {
            return Pinned { saved: None };
        };
        // SAFETY: an all-zero set is valid; CPU_SET sets one bit below CPU_SETSIZE.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        unsafe { libc::CPU_SET(first, &mut one) };
        // SAFETY: sched_setaffinity(2) reads `size` bytes of the set we pass.
        let ok = unsafe { libc::sched_setaffinity(0, size, &one) } == 0;
        Pinned {
            saved: ok.then_some(saved),
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: as in `to_one_core`; the set was the thread's own.
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), saved) };
        }
    }
}

/// `n` threads spinning until dropped.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(n: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|i| {
                let stop = stop.clone();
                std::thread::Builder::new()
                    .name(format!("compare-load-{i}"))
                    .spawn(move || {
                        let mut x = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            for _ in 0..1_000 {
                                x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                            }
                        }
                    })
                    .expect("a load thread")
            })
            .collect();
        Load { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed_cpus() -> usize {
        // SAFETY: as in `Pinned::to_one_core`.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
        // SAFETY: CPU_COUNT reads a valid set.
        unsafe { libc::CPU_COUNT(&set) as usize }
    }

    #[test]
    fn one_core_pins_the_thread_and_its_children_and_restores_after() {
        let before = allowed_cpus();
        let (inside, child) = MachineState::OneCore.run(|| {
            let child = std::thread::spawn(allowed_cpus).join().unwrap();
            (allowed_cpus(), child)
        });
        assert_eq!((inside, child), (1, 1), "the caller and a thread it starts");
        assert_eq!(allowed_cpus(), before, "restored");
    }

    #[test]
    fn loaded_runs_one_busy_thread_per_core_and_stops_them() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        let load = Load::start(n);
        assert_eq!(load.threads.len(), n);
        drop(load); // joins: the test would hang if a thread did not stop
        assert_eq!(MachineState::Loaded.run(|| 7), 7);
        assert_eq!(MachineState::Idle.suffix(), "");
        assert_eq!(MachineState::Loaded.suffix(), ", loaded");
    }
}
