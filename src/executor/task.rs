//! Named tasks: plain functions declared once, at their definition, with
//! [`task!`](crate::task), and called by a stable name.
//!
//! A thread pool calls a task directly (nothing is encoded). Another process or a cluster
//! rank cannot receive a function, so there a task travels as its name (module path and
//! function name, the way Python pickles a function by its qualified name) and its argument
//! encoded with serde ([`postcard`]); the other side looks the name up in the same registry
//! and calls the function. Never a function pointer or an address: those mean nothing in
//! another binary, and a mismatch would be a wrong call, not an error.
//!
//! The registry is a [`linkme`] distributed slice: every `task!` adds one entry at link
//! time, with no registration call in `main`, and it works the same in unit tests,
//! integration tests, doctests and examples.

use std::any::type_name;
use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::NotATask;
use crate::sync::OnceLock;

/// A declared task, as the registry holds it. Built by [`task!`](crate::task) only.
#[doc(hidden)]
pub struct TaskEntry {
    /// The stable name: the function item's `type_name`, `crate::module::function` (with
    /// the enclosing functions, for one declared inside a function body). Both sides of a
    /// process boundary run the same binary, so both compute the same name; and it is how a
    /// call site's function is recognised.
    pub name: fn() -> &'static str,
    /// Decodes the argument, calls the function, encodes its result.
    pub invoke: fn(&[u8]) -> Result<Vec<u8>, TaskError>,
}

/// Every task declared in this binary.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static TASKS: [TaskEntry];

/// What the [`task!`](crate::task) macro needs, under a path it can name from any crate.
#[doc(hidden)]
pub mod __private {
    pub use super::{TASKS, TaskEntry, invoke};
    pub use linkme;
}

/// Declares a plain function as a task that every executor can run: directly on a thread
/// pool, and by its stable name (module path + function name) where it must cross a process
/// boundary. Write the function inside the macro, at module level; nothing else is needed,
/// at the call site or in `main`.
///
/// A task takes one argument (a tuple or a struct when it needs more) and returns a value;
/// both must be serde types (`Serialize + DeserializeOwned`), so that the same program runs
/// on processes and cluster ranks.
///
/// ```
/// use concurrent_futures::{Executor, ThreadPoolExecutor, task};
///
/// task! {
///     /// Whether `n` is prime (the seeds' example).
///     pub fn is_prime(n: u64) -> bool {
///         n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
///     }
/// }
///
/// assert!(is_prime(97)); // still an ordinary function
/// let pool = ThreadPoolExecutor::new(2).unwrap();
/// let f = pool.submit_task(is_prime, 112_272_535_095_293).unwrap();
/// assert!(*f.result().unwrap());
/// ```
#[macro_export]
macro_rules! task {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident ($arg:ident : $arg_ty:ty) -> $ret:ty $body:block
    ) => {
        $(#[$meta])*
        $vis fn $name($arg: $arg_ty) -> $ret $body

        const _: () = {
            #[$crate::__private::linkme::distributed_slice($crate::__private::TASKS)]
            #[linkme(crate = $crate::__private::linkme)]
            static ENTRY: $crate::__private::TaskEntry = $crate::__private::TaskEntry {
                name: || ::core::any::type_name_of_val(&$name),
                invoke: |bytes| {
                    $crate::__private::invoke::<$arg_ty, $ret>(
                        bytes,
                        $name,
                        ::core::any::type_name_of_val(&$name),
                    )
                },
            };
        };
    };
    ($($other:tt)*) => {
        ::core::compile_error!(
            "task! takes one function: `fn name(arg: Type) -> Type { .. }`, with exactly one \
             argument (a tuple or a struct for more) and a return type"
        );
    };
}

/// A task call that could not be carried out: its argument or result did not encode or
/// decode, or no task of that name exists in this binary.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskError {
    /// No task of this name is declared in this binary.
    Unknown {
        /// The name asked for.
        name: String,
    },
    /// The argument's bytes are not a valid encoding of the task's argument type.
    DecodeArgument {
        /// The task.
        task: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// The result could not be encoded.
    EncodeResult {
        /// The task.
        task: &'static str,
        /// What the encoder said.
        reason: String,
    },
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Unknown { name } => write!(
                f,
                "no task named `{name}` is declared in this binary; declare it with \
                 `concurrent_futures::task!`, and run the same binary on both sides"
            ),
            TaskError::DecodeArgument { task, reason } => {
                write!(
                    f,
                    "the argument of task `{task}` could not be decoded: {reason}"
                )
            }
            TaskError::EncodeResult { task, reason } => {
                write!(
                    f,
                    "the result of task `{task}` could not be encoded: {reason}"
                )
            }
        }
    }
}

impl std::error::Error for TaskError {}

/// The entry's `invoke`: decode, call, encode.
#[doc(hidden)]
pub fn invoke<A: DeserializeOwned, R: Serialize>(
    bytes: &[u8],
    f: fn(A) -> R,
    task: &'static str,
) -> Result<Vec<u8>, TaskError> {
    let arg: A = postcard::from_bytes(bytes).map_err(|e| TaskError::DecodeArgument {
        task,
        reason: e.to_string(),
    })?;
    postcard::to_allocvec(&f(arg)).map_err(|e| TaskError::EncodeResult {
        task,
        reason: e.to_string(),
    })
}

struct Registry {
    /// `None` for a name declared twice: two versions of one crate in the build, whose
    /// paths `type_name` cannot tell apart. Such a task is refused by name, never guessed.
    by_name: HashMap<&'static str, Option<&'static TaskEntry>>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        by_name: index(&TASKS),
    })
}

/// Entries by name; a name declared twice maps to `None`.
fn index(entries: &'static [TaskEntry]) -> HashMap<&'static str, Option<&'static TaskEntry>> {
    let mut by_name = HashMap::new();
    for e in entries {
        by_name
            .entry((e.name)())
            .and_modify(|slot| *slot = None)
            .or_insert(Some(e));
    }
    by_name
}

/// The stable name of the declared task `F` (a function item), or an error naming `F` and
/// saying what to add.
pub(crate) fn name_of<F>() -> Result<&'static str, NotATask> {
    let name = type_name::<F>();
    match registry().by_name.get(name) {
        Some(Some(_)) => Ok(name),
        Some(None) => Err(NotATask {
            name,
            ambiguous: true,
        }),
        None => Err(NotATask {
            name,
            ambiguous: false,
        }),
    }
}

/// Every declared task's name.
#[cfg_attr(concurrent_futures_loom, allow(dead_code))] // the process pool's (not in loom builds)
pub(crate) fn names() -> Vec<&'static str> {
    registry().by_name.keys().copied().collect()
}

/// Calls the task named `name` on an encoded argument and returns its encoded result, as a
/// worker process or a cluster rank does. Panics of the task propagate to the caller.
#[cfg_attr(concurrent_futures_loom, allow(dead_code))] // the process pool's (not in loom builds)
pub(crate) fn call_by_name(name: &str, arg: &[u8]) -> Result<Vec<u8>, TaskError> {
    match registry().by_name.get(name) {
        Some(Some(e)) => (e.invoke)(arg),
        Some(None) | None => Err(TaskError::Unknown {
            name: name.to_owned(),
        }),
    }
}

#[cfg(all(test, not(concurrent_futures_loom)))]
mod tests {
    use super::*;

    crate::task! {
        fn double(x: u64) -> u64 {
            x * 2
        }
    }

    crate::task! {
        fn describe(p: (String, Vec<u8>)) -> String {
            format!("{} has {} bytes", p.0, p.1.len())
        }
    }

    fn not_declared(x: u64) -> u64 {
        x
    }

    fn name_of_val<F>(_: &F) -> Result<&'static str, NotATask> {
        name_of::<F>()
    }

    #[test]
    fn a_declared_task_is_found_by_its_path_and_called_by_name() {
        let name = name_of_val(&double).unwrap();
        assert_eq!(name, "concurrent_futures::executor::task::tests::double");
        let out = call_by_name(name, &postcard::to_allocvec(&21u64).unwrap()).unwrap();
        assert_eq!(postcard::from_bytes::<u64>(&out).unwrap(), 42);
        let arg = ("abc".to_owned(), vec![1u8, 2, 3]);
        let out = call_by_name(
            name_of_val(&describe).unwrap(),
            &postcard::to_allocvec(&arg).unwrap(),
        )
        .unwrap();
        assert_eq!(
            postcard::from_bytes::<String>(&out).unwrap(),
            "abc has 3 bytes"
        );
    }

    #[test]
    fn undeclared_functions_and_closures_are_named_in_the_error() {
        let e = name_of_val(&not_declared).unwrap_err();
        assert!(e.name.ends_with("tests::not_declared"), "{e}");
        assert!(e.to_string().contains("task!"), "{e}");
        let e = name_of_val(&|x: u64| x).unwrap_err();
        assert!(e.to_string().contains("is a closure"), "{e}");
    }

    #[test]
    fn a_function_pointer_and_a_name_declared_twice_are_refused_with_the_reason() {
        let e = name_of_val(&(double as fn(u64) -> u64)).unwrap_err();
        assert!(e.to_string().contains("function pointer"), "{e}");
        static TWICE: [TaskEntry; 3] = [
            TaskEntry {
                name: || "dup::work",
                invoke: |_| Ok(vec![1]),
            },
            TaskEntry {
                name: || "dup::work",
                invoke: |_| Ok(vec![2]),
            },
            TaskEntry {
                name: || "dup::other",
                invoke: |_| Ok(vec![3]),
            },
        ];
        let by_name = index(&TWICE);
        assert!(
            by_name["dup::work"].is_none(),
            "ambiguous: neither entry is guessed"
        );
        assert!(by_name["dup::other"].is_some());
        let e = NotATask {
            name: "dup::work",
            ambiguous: true,
        };
        assert!(e.to_string().contains("more than once"), "{e}");
    }

    #[test]
    fn unknown_names_and_bad_bytes_are_errors() {
        let e = call_by_name("nowhere::nothing", &[]).unwrap_err();
        assert!(matches!(e, TaskError::Unknown { .. }));
        assert!(e.to_string().contains("same binary"), "{e}");
        let name = name_of_val(&describe).unwrap();
        let e = call_by_name(name, &[0xff, 0xff, 0xff]).unwrap_err();
        assert!(
            matches!(e, TaskError::DecodeArgument { task, .. } if task == name),
            "{e}"
        );
    }
}
