//! Tasks and helpers shared by the process pool's test binaries: each binary declares
//! these tasks in its own registry (its workers are that binary).
#![allow(dead_code)]

use concurrent_futures::{ProcessPoolExecutor, task};

task! {
    pub fn square(x: u64) -> u64 {
        x * x
    }
}

task! {
    pub fn pid(_unit: ()) -> u32 {
        std::process::id()
    }
}

task! {
    /// Panics with `msg`.
    pub fn boom(msg: String) -> u8 {
        panic!("{msg}")
    }
}

pub fn pool(n: usize) -> ProcessPoolExecutor {
    ProcessPoolExecutor::new(n).unwrap()
}

task! {
    /// Blocks until `path` exists (a barrier other processes can see), then returns its pid.
    pub fn wait_for_file(path: String) -> u32 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !std::path::Path::new(&path).exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        std::process::id()
    }
}

/// A fresh path for a file barrier; `open` creates it.
pub struct Barrier(pub std::path::PathBuf);

impl Barrier {
    pub fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "cf-barrier-{tag}-{}-{:?}",
            std::process::id(),
            std::time::Instant::now()
        ));
        let _ = std::fs::remove_file(&path);
        Barrier(path)
    }
    pub fn path(&self) -> String {
        self.0.display().to_string()
    }
    pub fn open(&self) {
        std::fs::write(&self.0, b"go").unwrap();
    }
}

impl Drop for Barrier {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

task! {
    pub fn forever(_unit: ()) -> u8 {
        loop {
            std::thread::park();
        }
    }
}
