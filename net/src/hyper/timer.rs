//! `hyper::rt::Timer` on roost's timer wheel.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use roost_runtime::time::Sleep;

/// hyper's timer on roost's wheel: each sleep belongs to the worker that
/// first polls it (the one serving the connection), as any roost timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoostTimer;

/// A roost [`Sleep`] as hyper's `Sleep` (which must be `Send + Sync`, as
/// roost's is).
#[derive(Debug)]
pub struct RoostSleep(Sleep);

impl Future for RoostSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl ::hyper::rt::Sleep for RoostSleep {}

impl ::hyper::rt::Timer for RoostTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(RoostSleep(roost_runtime::time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(RoostSleep(roost_runtime::time::sleep_until(deadline)))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn ::hyper::rt::Sleep>>, new_deadline: Instant) {
        // Ours: move the deadline in place (one wheel update); a sleep from
        // another timer is replaced.
        match sleep.as_mut().downcast_mut_pin::<RoostSleep>() {
            Some(mut ours) => ours.0.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}
