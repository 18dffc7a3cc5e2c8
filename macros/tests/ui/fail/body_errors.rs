//! An error in the body points at the user's code, not at the macro.

#[roost::main]
async fn main() {
    let n: u32 = "not a number";
    let _ = n;
}
