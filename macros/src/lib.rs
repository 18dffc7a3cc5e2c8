//! roost-macros: `#[roost::main]` and `#[roost::test]`, tokio's attributes
//! for roost. Use them through the facade (`roost::main`, `roost::test`).
//!
//! Both turn an `async fn` with no arguments into a plain `fn` that builds a
//! roost runtime with the calling thread as worker 0, runs the body there to
//! completion with `Builder::run`, and shuts the runtime down (cancelling
//! the tasks that are left). Since the body runs on a worker thread and is
//! not sent anywhere, it may hold `!Send` values across awaits, use
//! `roost::net` directly, and return a value that is not `Send` (such as
//! `Result<(), Box<dyn std::error::Error>>`).
//!
//! # Options
//!
//! tokio's syntax, `name = value` separated by commas:
//!
//! | option | value | `main` default | `test` default |
//! | --- | --- | --- | --- |
//! | `worker_threads` | an integer literal, at least 1 | one per core the process may use | 1 |
//! | `pin_workers` | `true` or `false` | the runtime's: pinned (worker `i` on the `i`-th core) only where the process's cores are its own, see `Builder::pin_workers` | `false` |
//! | `flavor` | `"multi_thread"` (one worker per core unless `worker_threads` says otherwise) or `"current_thread"` (one worker), as tokio's | | |
//! | `crate` | the path of the roost crate in a string, for a renamed dependency | `"::roost"` | `"::roost"` |
//!
//! A function that is not `async`, one with arguments, an unknown option or
//! a value of the wrong type is a compile error pointing at the offending
//! token.
#![warn(missing_docs)]

mod expand;
mod options;

use proc_macro::TokenStream;

use options::Kind;

/// Runs `async fn main` on a roost runtime whose worker 0 is the main
/// thread, as `#[tokio::main]` does on tokio's.
///
/// The body runs on worker 0; the other workers serve what it spawns there
/// (`roost::runtime::spawn_on`, per-core listeners). When the body returns,
/// the runtime shuts down and the function returns the body's value, so
/// `main` may return anything `fn main` may, a non-`Send` error included.
/// See the [crate docs](crate) for the options: by default one pinned worker
/// per core.
///
/// # Panics
///
/// The generated `main` panics if the runtime cannot start (a worker thread
/// or a reactor could not be created), and resumes the body's panic.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
///
/// #[roost::main(worker_threads = 2, pin_workers = false)]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let local = Rc::new("a !Send value held across an await");
///     roost::runtime::yield_now().await;
///     assert_eq!(roost::runtime::current_worker(), Some(0));
///     assert_eq!(roost::runtime::worker_count(), Some(2));
///     println!("{local}");
///     Ok(())
/// }
/// ```
///
/// A renamed dependency names its path:
///
/// ```
/// # extern crate roost as my_roost;
/// #[my_roost::main(crate = "my_roost", worker_threads = 1)]
/// async fn main() {}
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Main, args.into(), item.into()).into()
}

/// Makes an `async fn` a `#[test]` that runs on its own roost runtime, as
/// `#[tokio::test]` does on tokio's.
///
/// Each test builds a runtime of one unpinned worker (worker 0 is the test's
/// thread) unless told otherwise, runs the body, and shuts the runtime down.
/// The function keeps its other attributes (`#[should_panic]`, `#[ignore]`)
/// and its return type (`Result<(), E>` for tests that use `?`). See the
/// [crate docs](crate) for the options.
///
/// # Examples
///
/// ```no_run
/// #[roost::test(worker_threads = 2)]
/// async fn spawns_on_the_other_worker() {
///     let on = roost::runtime::spawn_on(1, async { roost::runtime::current_worker() });
///     assert_eq!(on.await.unwrap(), Some(1));
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Test, args.into(), item.into()).into()
}
