//! A body whose value does not fit the return type is reported in the body.

#[roost::main]
async fn main() -> Result<(), String> {
    Ok(5)
}
