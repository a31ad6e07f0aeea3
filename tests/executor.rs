//! The executor layer as a new user meets it (issue #9): the traps found porting the seed
//! programs, each pinned, and named tasks on the thread pool.

#![cfg(not(concurrent_futures_loom))] // these run on std; the loom models are in loom-tests/

mod common;

use common::*;
use concurrent_futures::{
    Error, Executor, MapOptions, SubmitError, ThreadPoolExecutor, default_max_workers,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

fn pool(n: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::new(n).unwrap()
}

// ----- issue #9's new-user traps -----

#[test]
fn a_submit_fallible_error_keeps_its_type_name() {
    let p = pool(1);
    let f = p.submit_fallible(|| "x".parse::<u32>()).unwrap();
    let e = f.exception().unwrap().unwrap();
    assert_eq!(e.type_name(), "ParseIntError");
    assert_eq!(
        format!("{f:?}"),
        "<Future state=finished raised ParseIntError>"
    );
}

#[test]
fn default_pool_and_empty_prefix_fall_back_as_python_does() {
    let p = ThreadPoolExecutor::default();
    assert_eq!(p.max_workers(), default_max_workers());
    let p = ThreadPoolExecutor::builder()
        .thread_name_prefix("")
        .build()
        .unwrap();
    let name = p
        .submit(|| thread::current().name().unwrap().to_owned())
        .unwrap();
    let name = name.result().unwrap();
    assert!(name.starts_with("ThreadPoolExecutor-"), "{name}");
}

#[test]
fn a_map_dropped_before_its_first_next_runs_every_item() {
    // Issue #9, trap 1: `pool.map(f, items);` as a statement, as in Python.
    let p = pool(2);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    drop(
        p.map(
            move |_: u32| {
                r.fetch_add(1, Ordering::SeqCst);
            },
            0..10,
        )
        .unwrap(),
    );
    p.shutdown(true, false);
    assert_eq!(ran.load(Ordering::SeqCst), 10);
}

#[test]
fn a_lazy_map_whose_pool_shuts_down_yields_an_error_for_every_unsubmitted_item() {
    // Issue #9, trap 2: nothing vanishes; every input ends as a result or an error.
    let p = Arc::new(pool(2));
    let inner = p.clone();
    let got: Vec<Result<u32, Error>> = p
        .map_with(
            move |x: u32| {
                if x == 2 {
                    inner.shutdown(false, false);
                }
                x
            },
            0..10,
            MapOptions::default().buffersize(2),
        )
        .unwrap()
        .collect();
    assert_eq!(got.len(), 10, "{got:?}");
    let oks = got.iter().take_while(|r| r.is_ok()).count();
    assert!((3..=5).contains(&oks), "{got:?}");
    for r in &got[oks..] {
        let e = r.as_ref().unwrap_err().exception().unwrap();
        assert!(
            matches!(e.downcast_ref::<SubmitError>(), Some(SubmitError::Shutdown)),
            "{e}"
        );
    }
}

#[test]
fn a_map_made_in_a_scope_is_read_after_its_pool_handle_is_gone() {
    // Issue #9, trap 4: Python's "map inside the `with` block, iterate after it". The map
    // owns a handle, so this compiles; a lazy one keeps submitting through that handle.
    let eager = {
        let p = pool(2);
        p.map(|x: u64| x + 1, 0..4).unwrap()
    };
    assert_eq!(eager.map(Result::unwrap).collect::<Vec<_>>(), [1, 2, 3, 4]);
    let lazy = {
        let p = pool(2);
        p.map_with(|x: u64| x * 3, 0..6, MapOptions::default().buffersize(2))
            .unwrap()
    };
    assert_eq!(
        lazy.map(Result::unwrap).collect::<Vec<_>>(),
        [0, 3, 6, 9, 12, 15]
    );
    let named = {
        let p = pool(1);
        p.map_task(
            collatz_steps,
            vec![1, 2, 3],
            MapOptions::default().buffersize(1),
        )
        .unwrap()
    };
    assert_eq!(named.map(Result::unwrap).collect::<Vec<_>>(), [0, 1, 7]);
}

#[test]
fn map_cancel_cancels_what_has_not_started() {
    let p = pool(1);
    let (hold, holding) = (Arc::new(Event::default()), Arc::new(Event::default()));
    let (h, hg) = (hold.clone(), holding.clone());
    let mut it = p
        .map(
            move |x: u32| {
                if x == 0 {
                    hg.set();
                    h.wait();
                }
                x
            },
            0..5,
        )
        .unwrap();
    holding.wait();
    assert_eq!(it.cancel(), 4, "items 1..5 were queued");
    hold.set();
    assert!(it.next().is_none(), "a cancelled map ends");
}

// ----- named tasks (issue #9) -----

concurrent_futures::task! {
    /// A task declared in an integration test, at module level.
    fn collatz_steps(n: u64) -> u32 {
        let (mut n, mut steps) = (n, 0);
        while n > 1 {
            n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
            steps += 1;
        }
        steps
    }
}

fn undeclared(n: u64) -> u32 {
    n as u32
}

#[test]
fn named_tasks_run_on_the_thread_pool_and_undeclared_ones_are_refused() {
    let p = pool(2);
    assert_eq!(
        *p.submit_task(collatz_steps, 27).unwrap().result().unwrap(),
        111
    );
    let got: Vec<u32> = p
        .map_task(collatz_steps, 1..=6u64, MapOptions::default().chunksize(2))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, [0, 1, 7, 2, 5, 8]);
    match p.submit_task(undeclared, 3) {
        Err(SubmitError::NotATask(e)) => {
            assert!(e.name.ends_with("::undeclared"), "{e}");
            assert!(e.to_string().contains("task!"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let e = p
        .map_task(|n: u64| n, 0..3, MapOptions::default())
        .unwrap_err();
    assert!(e.to_string().contains("is a closure"), "{e}");
}

#[test]
fn a_forwarded_exception_keeps_its_kind_and_a_broken_pool_s_map_items_say_broken() {
    let p = pool(1);
    let f = p
        .submit_fallible(|| -> Result<u8, concurrent_futures::Exception> {
            Err(concurrent_futures::Exception::from_panic(Box::new("inner")))
        })
        .unwrap();
    let e = f.exception().unwrap().unwrap();
    assert!(e.is_panic(), "{e:?}");
    assert_eq!(e.panic_message(), Some("inner"));

    let broken = ThreadPoolExecutor::builder()
        .max_workers(1)
        .initializer(|| Err("no".into()))
        .build()
        .unwrap();
    let _ = broken.submit(|| ()); // starts the worker, whose initializer fails
    until("the pool is broken", || broken.is_broken());
    let e = broken
        .map_with(|x: u8| x, 0..3, MapOptions::default().buffersize(1))
        .unwrap_err();
    assert!(matches!(e, SubmitError::Broken(_)), "{e}");
}

// ----- layering (docs/architecture.md) -----

/// The source files under `dir` (recursively), with their text.
fn sources(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((path, text));
        }
    }
    out
}

#[test]
fn the_core_names_no_backend_and_no_layer_imports_one_above_it() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut core = sources(&src.join("future"));
    for file in ["wait.rs", "as_completed.rs"] {
        let path = src.join(file);
        core.push((path.clone(), std::fs::read_to_string(path).unwrap()));
    }
    assert!(core.len() > 10, "found the core's files");
    for (path, text) in &core {
        for word in ["thread_pool", "process_pool", "mpi::", "crate::executor"] {
            assert!(!text.contains(word), "{} names {word}", path.display());
        }
    }
    let mut leaves = sources(&src.join("error"));
    for file in [
        "context.rs",
        "deadline.rs",
        "plant.rs",
        "preempt.rs",
        "sync.rs",
        "unwind.rs",
    ] {
        let path = src.join(file);
        leaves.push((path.clone(), std::fs::read_to_string(path).unwrap()));
    }
    // A leaf names only other leaves (and `State`, a plain enum re-exported at the root).
    let allowed = [
        "error",
        "sync",
        "context",
        "deadline",
        "plant",
        "preempt",
        "timer",
        "unwind",
        "State",
        "Exception",
    ];
    for (path, text) in &leaves {
        for (i, _) in text.match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            let item: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            assert!(
                allowed.contains(&item.as_str()),
                "{} names crate::{item}, above the leaves",
                path.display()
            );
        }
    }
    for (path, text) in sources(&src.join("executor")) {
        assert!(
            !text.contains("crate::thread_pool"),
            "{} imports a backend",
            path.display()
        );
    }
}
