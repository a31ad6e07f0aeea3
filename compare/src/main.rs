//! `cargo run --release -p compare [-- FLAGS]`: runs the comparison, prints its table and
//! writes the samples and plots under the target directory (see the library's
//! documentation, or `--help`).

use compare::alloc::Counting;
use compare::settings::Settings;
use compare::{output, report, run};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    #[cfg(feature = "mpi")]
    if std::env::args().nth(1).as_deref() == Some("--mpi-child") {
        let quick = std::env::args().nth(2).as_deref() == Some("quick");
        compare::workloads::mpi::child(quick);
    }
    let s = Settings::from_args();
    if s.mpi && !cfg!(feature = "mpi") {
        eprintln!(
            "--mpi needs the harness built with the MPI executor: \
             cargo run --release -p compare --features mpi -- --mpi (Open MPI and libclang \
             installed; docs/scale-out.md)"
        );
        std::process::exit(2);
    }
    let run = run::run(&s);
    print!("{}", report::summary(&s, &run));
    output::write(&s, &run, &output::dir());
}
