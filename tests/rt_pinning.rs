//! Where workers are pinned by default: only where the process's cores are
//! its own (a cpuset narrower than the machine), never on cores it shares;
//! `pin_workers` overrides either way. Unpinned workers run under
//! `SCHED_BATCH` by default, pinned ones do not; `sched_batch` overrides.
//!
//! The default depends on the process's affinity mask, read once per
//! process, so each case runs this test binary again as a child whose mask
//! the parent sets, and reads back the cores its workers got.
#![cfg(target_os = "linux")]

use std::os::unix::process::CommandExt;
use std::process::Command;

use roost_runtime::Runtime;

const CHILD: &str = "ROOST_PINNING_CHILD";

/// In the child: builds a runtime of two workers (pinned as the child's
/// variable says: `default`, `on`, `off`) and prints the cores they got.
#[test]
#[ignore = "run by the other tests of this file, in a child process"]
fn child_reports_worker_cores() {
    let Ok(mode) = std::env::var(CHILD) else { return };
    let mut builder = Runtime::builder().worker_threads(2);
    match mode.as_str() {
        "on" => builder = builder.pin_workers(true),
        "off" => builder = builder.pin_workers(false),
        _ => {}
    }
    if std::env::var("ROOST_PINNING_CHILD_BATCH").is_ok_and(|v| v == "0") {
        builder = builder.sched_batch(false);
    }
    let rt = builder.build().unwrap();
    let workers = rt.handle().metrics().workers;
    let cores: Vec<String> = workers
        .iter()
        .map(|w| {
            let core = w.core.map_or_else(|| "any".to_string(), |c| c.to_string());
            format!("{core}{}", if w.sched_batch { "/batch" } else { "" })
        })
        .collect();
    println!("worker cores: {}", cores.join(","));
}

/// Runs the child with `mode`, its affinity mask set to `cores` (if any);
/// returns the worker cores it printed.
fn child(mode: &str, cores: Option<&[usize]>) -> String {
    child_with(mode, cores, true)
}

/// As [`child`], with the default policy (`batch`) or `sched_batch(false)`.
fn child_with(mode: &str, cores: Option<&[usize]>, batch: bool) -> String {
    child_env(mode, cores, if batch { "default" } else { "0" }, &[])
}

/// This test binary, to run [`child_reports_worker_cores`] alone in `mode`.
fn child_command(mode: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--ignored",
            "--exact",
            "child_reports_worker_cores",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, mode);
    command
}

/// As [`child`], with extra environment variables.
fn child_env(mode: &str, cores: Option<&[usize]>, batch: &str, vars: &[(&str, &str)]) -> String {
    let mut command = child_command(mode);
    command
        .env("ROOST_PINNING_CHILD_BATCH", batch)
        .envs(vars.iter().copied());
    if let Some(cores) = cores {
        // SAFETY: cpu_set_t is a plain bitmask; all-zero is valid.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        for &c in cores {
            // SAFETY: the ids come from the kernel's own list, below CPU_SETSIZE.
            unsafe { libc::CPU_SET(c, &mut set) };
        }
        // SAFETY: the closure only calls sched_setaffinity, which is
        // async-signal-safe, on a set it owns.
        unsafe {
            command.pre_exec(move || {
                if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    }
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split_once("worker cores: ").map(|(_, cores)| cores.trim()))
        .unwrap_or_else(|| panic!("no report from the child: {stdout}"))
        .to_string()
}

fn cpu_list(path: &str) -> Vec<usize> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut cores = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => cores.extend(a.parse::<usize>().unwrap()..=b.parse::<usize>().unwrap()),
            None => cores.push(part.parse().unwrap()),
        }
    }
    cores
}

fn allowed() -> Vec<usize> {
    // SAFETY: cpu_set_t is a plain bitmask; all-zero is valid.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: the set outlives the call and its size is passed with it.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    assert_eq!(rc, 0);
    // SAFETY: every index is below CPU_SETSIZE.
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect()
}

#[test]
fn a_process_given_a_cpuset_pins_its_workers_by_default() {
    let allowed = allowed();
    if allowed.len() < 2 && cpu_list("/sys/devices/system/cpu/online").len() < 2 {
        eprintln!("skipped: one core, nothing to narrow the mask to");
        return;
    }
    // One core out of those we may use: narrower than the machine.
    let core = allowed[allowed.len() - 1];
    // Two workers on one core share it: each runs as a batch.
    assert_eq!(child("default", Some(&[core])), format!("{core}/batch,{core}/batch"));
    assert_eq!(child_with("default", Some(&[core]), false), format!("{core},{core}"));
    // Told not to, it does not; unpinned, its workers run as a batch.
    assert_eq!(child("off", Some(&[core])), "any/batch,any/batch");
}

#[test]
fn a_process_on_every_core_leaves_its_workers_to_the_scheduler_by_default() {
    let online = cpu_list("/sys/devices/system/cpu/online");
    let isolated = cpu_list("/sys/devices/system/cpu/isolated");
    let allowed = allowed();
    // Every online core allowed is what makes them shared; a test run inside
    // a narrower cpuset cannot widen it, and an isolated core would make the
    // cores the process's own.
    if online.is_empty() || allowed != online || online.iter().any(|c| isolated.contains(c)) {
        eprintln!("skipped: this process does not run on every online core, or some are isolated");
        return;
    }
    assert_eq!(child("default", Some(&allowed)), "any/batch,any/batch");
    assert_eq!(child_with("default", Some(&allowed), false), "any,any");
    // Asked to, it pins worker i to the i-th core.
    let expected: Vec<String> = (0..2).map(|i| allowed[i % allowed.len()].to_string()).collect();
    assert_eq!(child("on", Some(&allowed)), expected.join(","));
}

#[test]
fn the_environment_overrides_the_defaults_and_the_builder_overrides_it() {
    let allowed = allowed();
    let first = allowed[0];
    // Every allowed core, whatever the machine: pinned only when told.
    let pinned = child_env(
        "default",
        Some(&allowed),
        "default",
        &[("ROOST_PIN_WORKERS", "1"), ("ROOST_SCHED_BATCH", "1")],
    );
    let expected: Vec<String> = (0..2)
        .map(|i| format!("{}/batch", allowed[i % allowed.len()]))
        .collect();
    assert_eq!(pinned, expected.join(","));
    // One core: pinned by default; the variables say otherwise.
    assert_eq!(
        child_env(
            "default",
            Some(&[first]),
            "default",
            &[("ROOST_PIN_WORKERS", "0"), ("ROOST_SCHED_BATCH", "0")]
        ),
        "any,any"
    );
    // The builder wins over the variable.
    assert_eq!(
        child_env(
            "on",
            Some(&[first]),
            "default",
            &[("ROOST_PIN_WORKERS", "0"), ("ROOST_SCHED_BATCH", "0")]
        ),
        format!("{first},{first}")
    );
}

#[test]
fn a_bad_value_in_the_environment_fails_the_build() {
    let out = child_command("default")
        .env("ROOST_PIN_WORKERS", "yes")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ROOST_PIN_WORKERS=yes: expected 1 or 0"), "{stderr}");
    assert!(stderr.contains("InvalidInput"), "{stderr}");
}
