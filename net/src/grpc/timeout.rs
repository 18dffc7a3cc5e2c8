//! The `grpc-timeout` header: at most eight ASCII digits and a unit
//! (`H` hours, `M` minutes, `S` seconds, `m` milliseconds, `u`
//! microseconds, `n` nanoseconds), as gRPC's HTTP/2 protocol defines it.

use std::time::Duration;

use ::hyper::header::{HeaderMap, HeaderValue};

/// The header's name.
pub(crate) const GRPC_TIMEOUT: &str = "grpc-timeout";

/// The timeout a request carries; `None` when it has none, or one that
/// does not parse (ignored, as tonic's own server ignores it).
pub(crate) fn from_headers(headers: &HeaderMap) -> Option<Duration> {
    parse(headers.get(GRPC_TIMEOUT)?.as_bytes())
}

/// The sooner of two optional timeouts: a call's own and its server's or
/// channel's.
pub(crate) fn sooner(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Parses a `grpc-timeout` value.
pub(crate) fn parse(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The header value for `timeout`: the finest unit whose count fits in
/// eight digits (so a timeout is never rounded up to a longer one).
pub(crate) fn encode(timeout: Duration) -> HeaderValue {
    const MAX: u128 = 99_999_999;
    let nanos = timeout.as_nanos();
    let (n, unit) = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
    ]
    .into_iter()
    .map(|(per, unit)| (nanos / per, unit))
    .find(|(n, _)| *n <= MAX)
    .unwrap_or(((nanos / 3_600_000_000_000).min(MAX), 'H'));
    HeaderValue::from_str(&format!("{n}{unit}")).expect("digits and a unit letter are a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse(b"2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse(b"3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse(b"10S"), Some(Duration::from_secs(10)));
        assert_eq!(parse(b"250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse(b"7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse(b"99999999n"), Some(Duration::from_nanos(99_999_999)));
    }

    #[test]
    fn refuses_what_is_not_a_timeout() {
        for bad in [&b""[..], b"S", b"10", b"10s", b"123456789S", b"-1S", b"1.5S", b" 1S"] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn encodes_without_rounding_up() {
        assert_eq!(encode(Duration::from_millis(25)), "25000000n");
        assert_eq!(encode(Duration::from_millis(250)), "250000u");
        assert_eq!(encode(Duration::from_secs(1)), "1000000u");
        assert_eq!(encode(Duration::from_secs(3600)), "3600000m");
        assert_eq!(encode(Duration::from_secs(200_000)), "200000S");
        for d in [
            Duration::from_nanos(1),
            Duration::from_millis(1234),
            Duration::from_secs(86_400 * 30),
        ] {
            let back = parse(encode(d).as_bytes()).unwrap();
            assert!(
                back <= d && d - back < d / 1000 + Duration::from_nanos(1),
                "{d:?} -> {back:?}"
            );
        }
    }
}
