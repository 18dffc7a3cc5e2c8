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

fn examples_dir() -> PathBuf {
    // target/<profile>/deps/<this test> -> target/<profile>/examples
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join("examples")
}

/// Starts example `name` with `args` and waits for its banner, a first line
/// of stdout that ends in `on ADDR` (optionally followed by more words).
///
/// `cargo test` builds every example before it runs the tests; when only
/// this test was asked for, the example is built here.
pub fn start(name: &str, args: &[&str]) -> Example {
    let path = examples_dir().join(name);
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
