//! Runs the programs of `examples/` as a user would: as processes, with
//! the listen address as first argument, reading the address they print.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A running example, killed when dropped.
pub struct Example {
    child: Child,
    /// The address the example said it listens on.
    pub addr: SocketAddr,
}

/// The folder cargo puts the examples in, `<target>/[<triple>/]<profile>/examples`,
/// found from this test's own executable. Cargo has two layouts for that:
///
/// - the classic one (stable cargo up to 1.99): `<profile>/deps/<test>`;
/// - the build-dir layout (always on since cargo 1.100, e.g. the nightly of
///   the sanitizer steps in `.ci/run`): `<profile>/build/<package>/<hash>/out/<test>`.
///
/// A build dir configured apart from the target dir (`CARGO_BUILD_BUILD_DIR`)
/// is not supported: the examples then live elsewhere.
pub fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().expect("test executable folder");
    let profile = if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent()
    } else {
        // out -> <hash> -> <package> -> build -> <profile>
        dir.ancestors()
            .nth(3)
            .filter(|build| build.file_name().is_some_and(|n| n == "build"))
            .and_then(|build| build.parent())
    };
    profile
        .unwrap_or_else(|| panic!("no cargo target layout around {}", exe.display()))
        .join("examples")
}

/// Starts example `name` with `args` and waits for its banner, a first line
/// of stdout that ends in `on ADDR` (optionally followed by more words).
///
/// `cargo test` builds every example before it runs the tests; when only
/// this test was asked for, a missing example is built here (a stale one
/// is not: run `cargo test` without a filter, or build the examples, after
/// changing one).
pub fn start(name: &str, args: &[&str]) -> Example {
    let path = examples_dir().join(name);
    // Not "older than the test": one `cargo test` may link the example
    // before the test, and the sanitizer steps build with flags and a
    // target that a plain `cargo build` here would not match.
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", name])
            .status()
            .expect("cargo build --example");
        assert!(status.success(), "building example {name} failed");
    }
    let mut child = Command::new(&path)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", path.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut banner = String::new();
    BufReader::new(stdout).read_line(&mut banner).expect("banner line");
    let addr = banner
        .split_whitespace()
        .skip_while(|w| *w != "on")
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("{name}: no address in its banner {banner:?}"));
    Example { child, addr }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the outside client `program` runs (`args` is a harmless probe).
/// A test skips when it does not, saying so, unless `ROOST_REQUIRE_CLIENTS`
/// is set (`.ci/run` installs the clients and sets it): then it fails.
pub fn client_available(program: &str, args: &[&str]) -> bool {
    let ok = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("ROOST_REQUIRE_CLIENTS").is_none(),
            "ROOST_REQUIRE_CLIENTS is set, and `{program} {}` fails",
            args.join(" ")
        );
        eprintln!("skipped: `{program} {}` fails (not installed?)", args.join(" "));
    }
    ok
}

/// The system's Python, where Debian's `python3-grpcio` is (a pyenv or
/// virtualenv `python3` earlier on the PATH does not see it); `python3`
/// where there is none.
pub fn system_python() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}
