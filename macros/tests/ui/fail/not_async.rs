#[roost::main]
fn main() {}
