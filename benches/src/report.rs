//! Summary lines that put a subject beside its baselines.

/// Three significant figures or so: `18.1`, `700`, `5.23`.
///
/// # Examples
///
/// ```
/// use roost_benches::report::ns;
/// assert_eq!(ns(18.14), "18.1");
/// assert_eq!(ns(700.4), "700");
/// assert_eq!(ns(5.234), "5.23");
/// ```
pub fn ns(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// `label: subject X ns/op | other Y | ... | speedup Zx`, where speedup is
/// the best (lowest) other over the subject; `-` for a missing figure. Also
/// returns the speedup, if there is one.
///
/// # Examples
///
/// ```
/// use roost_benches::report::comparison_line;
///
/// let (line, speedup) = comparison_line(
///     "cross-core 2048 B",
///     ("roost", Some(18.1)),
///     &[("glibc", Some(700.0)), ("jemalloc", Some(410.0)), ("mimalloc", Some(120.0))],
/// );
/// assert_eq!(
///     line,
///     "cross-core 2048 B: roost 18.1 ns/op | glibc 700 | jemalloc 410 | mimalloc 120 | speedup 6.6x"
/// );
/// assert!((speedup.unwrap() - 6.63).abs() < 0.01);
/// ```
pub fn comparison_line(
    label: &str,
    subject: (&str, Option<f64>),
    others: &[(&str, Option<f64>)],
) -> (String, Option<f64>) {
    let missing = || "-".to_owned();
    let mut line = format!("{label}: {} ", subject.0);
    line += &subject.1.map_or_else(missing, |v| format!("{} ns/op", ns(v)));
    for (name, value) in others {
        line += &format!(" | {name} {}", value.map_or_else(missing, ns));
    }
    let best_other = others.iter().filter_map(|(_, v)| *v).min_by(f64::total_cmp);
    let speedup = match (subject.1, best_other) {
        (Some(s), Some(best)) => Some(best / s),
        _ => None,
    };
    if let Some(speedup) = speedup {
        line += &format!(" | speedup {speedup:.1}x");
    }
    (line, speedup)
}

/// `worker N (io sources .., polls .., parks .., ticks .., idle spin .. ms,
/// spin hits .. misses .. preempted .., core ..)`: what a roost worker did
/// in a benchmark, for the lines after its tables.
pub fn worker_line(w: &roost_runtime::WorkerMetrics) -> String {
    format!(
        "worker {} (io sources {}, polls {}, parks {}, ticks {}, idle spin {} ms, spin hits {} misses {} preempted {}, core {})",
        w.index,
        w.io_sources,
        w.tasks_polled,
        w.parks,
        w.ticks,
        w.spin_nanos / 1_000_000,
        w.spin_hits,
        w.spin_misses,
        w.spin_preempted,
        w.core.map_or_else(|| "any".to_string(), |c| c.to_string())
    )
}
