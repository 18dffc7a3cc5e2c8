//! What `#[roost::main]` and `#[roost::test]` accept and refuse, checked by
//! compiling the programs under `ui/` (trybuild). The `pass` programs also
//! run; each `fail` program's errors are compared with its `.stderr`, so
//! that every message names the mistake and points at it (regenerate them
//! with `TRYBUILD=overwrite cargo test -p roost-macros --test compile`
//! after a deliberate change, and read the diff).

#[test]
fn attributes_accept_and_refuse() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
