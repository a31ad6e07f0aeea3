//! Replays the checked-in seed corpora of the `future_ops` and `pool_ops` fuzz targets on
//! every `cargo test` (the `waiter_list` corpus is replayed by a unit test beside the list,
//! whose internals it needs).

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

#[path = "support/future_ops.rs"]
mod future_ops;
#[path = "support/pool_ops.rs"]
mod pool_ops;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = format!("{}/fuzz/seeds/{target}", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("the seed corpus is checked in") {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!("divergence on seed {}", path.display());
        }
        n += 1;
    }
    assert!(n > 0, "no seeds in {dir}");
}

#[test]
fn future_ops_seed_corpus() {
    replay("future_ops", future_ops::run);
}

#[test]
fn pool_ops_seed_corpus() {
    replay("pool_ops", pool_ops::run);
}
