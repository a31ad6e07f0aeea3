//! `cargo run --release -p compare [-- FLAGS]`: runs the comparison and prints its table
//! (see the library's documentation, or `--help`).

use compare::alloc::Counting;
use compare::settings::Settings;
use compare::{plots, report, run, samples};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let s = Settings::from_args();
    let run = run::run(&s);
    print!("{}", report::summary(&s, &run));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/compare");
    let _ = std::fs::create_dir_all(&dir);
    match std::fs::write(
        dir.join("samples.json"),
        samples::json(&run.results, &s, &run.notes),
    ) {
        Ok(()) => println!("Raw samples: {}", dir.join("samples.json").display()),
        Err(e) => println!("Could not write the samples: {e}"),
    }
    match plots::plots(&run.results, &dir) {
        Ok(files) => println!("Plots: {} SVG files in {}", files.len(), dir.display()),
        Err(e) => println!("Could not draw the plots: {e}"),
    }
}
