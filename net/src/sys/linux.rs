//! Linux: a classic-BPF reuseport program that steers each new connection
//! to the listener of the CPU that received it.

use std::io;
use std::os::fd::RawFd;

use roost_runtime::syscall;

/// `SKF_AD_OFF + SKF_AD_CPU`: the BPF ancillary load of the current CPU.
const SKF_AD_CPU_LOAD: u32 = (-0x1000i32 + 36) as u32;

/// Attaches, to the reuseport group of `fd`, a program that answers
/// `cpu % listeners`: the index (in bind order) of the listener that gets the
/// connection. Listener `i` is the one bound by worker `i`, pinned to the
/// `i`-th allowed core, so with cores `0..n` a connection lands on the worker
/// of the CPU whose softirq received it.
pub(crate) fn attach_cpu_steering(fd: RawFd, listeners: u32) -> io::Result<()> {
    if listeners == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no listeners to steer to"));
    }
    let mut program = [
        // A = current CPU
        libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k: SKF_AD_CPU_LOAD,
        },
        // A = A % listeners
        libc::sock_filter {
            code: (libc::BPF_ALU | libc::BPF_MOD | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: listeners,
        },
        // return A
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_A) as u16,
            jt: 0,
            jf: 0,
            k: 0,
        },
    ];
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `program`, both live locals, and its length
    // is the program's; the kernel copies the program during the call.
    syscall!(setsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_ATTACH_REUSEPORT_CBPF,
        (&prog as *const libc::sock_fprog).cast(),
        std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
    ))
    .map(drop)
}
