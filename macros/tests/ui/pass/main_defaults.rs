//! The defaults: one worker per core the process may use, pinned.

#[roost::main]
async fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = roost::runtime::worker_count().unwrap();
    assert!(workers >= 1 && workers <= cores.max(1) * 2, "{workers} workers on {cores} cores");
    assert_eq!(roost::runtime::current_worker(), Some(0));
}
