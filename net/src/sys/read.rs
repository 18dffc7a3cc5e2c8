//! Reads into memory that may be uninitialised.
//!
//! `std::io::Read::read` takes `&mut [u8]`, and a `&mut [u8]` must point at
//! initialised bytes: handing it a buffer's spare capacity is undefined
//! behaviour even though `read(2)` only writes there (the trait's contract
//! lets an implementation read the slice). So the receive paths call
//! `read(2)` themselves, with the raw pointer of a `[MaybeUninit<u8>]`,
//! and mark initialised only the bytes the kernel reports written.
//!
//! `read(2)` rather than `recv(2)`: on a connected stream socket they do the
//! same, and `read` works on every descriptor a stream wraps (TCP, Unix).

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;

/// One `read(2)` of `fd` into `buf`. Returns how many bytes the kernel
/// wrote at the start of `buf` (0 at end of stream); those bytes are
/// initialised, the rest of `buf` is untouched.
///
/// # Errors
///
/// As `read(2)` (`WouldBlock`, `Interrupted`, `ConnectionReset`, ...).
pub(crate) fn read_uninit(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole
    // call (we hold it mutably), and `read(2)` writes at most that many and
    // never reads them, so their being uninitialised is no matter. An
    // invalid `fd` is an `EBADF` error, not undefined behaviour.
    let n = roost_runtime::syscall!(read(fd, buf.as_mut_ptr().cast(), buf.len()))?;
    // `syscall!` turned -1 into an error: `n` is in `0..=buf.len()`.
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn reads_into_uninitialised_memory_and_reports_what_it_wrote() {
        let (mut tx, rx) = UnixStream::pair().unwrap();
        tx.write_all(b"roost").unwrap();
        let mut buf = [MaybeUninit::<u8>::uninit(); 16];
        let n = read_uninit(rx.as_raw_fd(), &mut buf).unwrap();
        assert_eq!(n, 5);
        // SAFETY: the kernel initialised the first `n` bytes.
        let read = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) };
        assert_eq!(read, b"roost");
        drop(tx);
        assert_eq!(read_uninit(rx.as_raw_fd(), &mut buf).unwrap(), 0);
    }

    #[test]
    fn a_short_buffer_gets_a_prefix_and_the_rest_stays_queued() {
        let (mut tx, rx) = UnixStream::pair().unwrap();
        tx.write_all(b"abcdef").unwrap();
        let mut buf = [MaybeUninit::<u8>::uninit(); 4];
        assert_eq!(read_uninit(rx.as_raw_fd(), &mut buf).unwrap(), 4);
        assert_eq!(read_uninit(rx.as_raw_fd(), &mut buf).unwrap(), 2);
        // SAFETY: the last read initialised the first two bytes.
        let read = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), 2) };
        assert_eq!(read, b"ef");
    }

    #[test]
    fn errors_are_io_errors() {
        let (_tx, rx) = UnixStream::pair().unwrap();
        rx.set_nonblocking(true).unwrap();
        let mut buf = [MaybeUninit::<u8>::uninit(); 4];
        let err = read_uninit(rx.as_raw_fd(), &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(read_uninit(-1, &mut buf).unwrap_err().raw_os_error(), Some(libc::EBADF));
    }
}
