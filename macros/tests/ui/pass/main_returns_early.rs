//! `?` and `return` leave the body, as in a plain `fn main`.

use std::num::ParseIntError;

#[roost::main(worker_threads = 1, pin_workers = false)]
async fn main() -> Result<(), ParseIntError> {
    let n: u8 = "7".parse()?;
    if n == 7 {
        return Ok(());
    }
    panic!("not reached");
}
