//! `main` may hold `!Send` values and return a `!Send` error; it runs on
//! worker 0 of the runtime the options describe.

use std::error::Error;
use std::rc::Rc;

#[roost::main(worker_threads = 2, pin_workers = false)]
async fn main() -> Result<(), Box<dyn Error>> {
    let local = Rc::new(7);
    roost::task::yield_now().await;
    assert_eq!(roost::runtime::current_worker(), Some(0));
    assert_eq!(roost::runtime::worker_count(), Some(2));
    let n: i32 = "35".parse()?;
    assert_eq!(*local + n, 42);
    Ok(())
}
