#[roost::test(worker_threads = "four")]
async fn words() {}

#[roost::test(worker_threads = 0)]
async fn zero() {}

#[roost::test(pin_workers = 1)]
async fn number() {}

#[roost::test(worker_threads)]
async fn no_value() {}

#[roost::test(crate = roost)]
async fn unquoted_crate() {}

#[roost::test(flavor = "current_thread", worker_threads = 2)]
async fn contradiction() {}

fn main() {}
