//! Where a run's files go: `compare/` under the cargo target directory, which is
//! `$CARGO_TARGET_DIR` when that is set, else the one the running binary was built into.

use crate::run::Run;
use crate::settings::Settings;
use crate::{plots, samples};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The cargo target directory, from the value of `CARGO_TARGET_DIR` (if set and not empty)
/// or else from the path of the running binary, two levels up (`<target>/release/compare`
/// → `<target>`). `target` (relative) when neither tells.
pub fn target_dir(cargo_target_dir: Option<&OsStr>, exe: Option<&Path>) -> PathBuf {
    match cargo_target_dir {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => exe
            .and_then(Path::parent)
            .and_then(Path::parent)
            .filter(|t| !t.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("target"), Path::to_path_buf),
    }
}

/// This run's output directory: `<target>/compare`, absolute where it can be made so.
pub fn dir() -> PathBuf {
    let env = std::env::var_os("CARGO_TARGET_DIR");
    let exe = std::env::current_exe().ok();
    let dir = target_dir(env.as_deref(), exe.as_deref()).join("compare");
    std::path::absolute(&dir).unwrap_or(dir)
}

/// Writes `samples.json` and the SVG plots into `dir` and prints where they went (or why
/// they did not).
pub fn write(s: &Settings, run: &Run, dir: &Path) {
    let _ = std::fs::create_dir_all(dir);
    let file = dir.join("samples.json");
    match std::fs::write(&file, samples::json(&run.results, s, &run.notes)) {
        Ok(()) => println!("Raw samples: {}", file.display()),
        Err(e) => println!("Could not write the samples to {}: {e}", file.display()),
    }
    match plots::plots(&run.results, dir) {
        Ok(files) => println!("Plots: {} SVG files in {}", files.len(), dir.display()),
        Err(e) => println!("Could not draw the plots into {}: {e}", dir.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_target_dir_wins_when_set() {
        let exe = Path::new("/repo/target/release/compare");
        assert_eq!(
            target_dir(Some(OsStr::new("/elsewhere")), Some(exe)),
            PathBuf::from("/elsewhere")
        );
    }

    #[test]
    fn else_the_target_is_two_levels_above_the_binary() {
        let exe = Path::new("/repo/target/release/compare");
        assert_eq!(target_dir(None, Some(exe)), PathBuf::from("/repo/target"));
        // Set but empty counts as unset, as cargo takes it.
        assert_eq!(
            target_dir(Some(OsStr::new("")), Some(exe)),
            PathBuf::from("/repo/target")
        );
    }

    #[test]
    fn with_nothing_to_go_on_it_is_target() {
        assert_eq!(target_dir(None, None), PathBuf::from("target"));
        assert_eq!(
            target_dir(None, Some(Path::new("compare"))),
            PathBuf::from("target")
        );
    }
}
