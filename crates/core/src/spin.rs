//! Keeping a thread pool's workers awake through a batched forward pass.
//!
//! A forward pass is a chain of short parallel regions (a decode step of a small model has
//! over a hundred), separated by short serial steps (norms, RoPE, quantizing activations).
//! Between regions rayon's idle workers go to sleep, and waking them costs a futex round
//! trip through the scheduler for every region. [`with_spinning_workers`] parks every other
//! worker of the pool in a loop that runs the pool's pending work as soon as it appears,
//! until the pass ends, yielding its core to the OS scheduler between polls so that on a
//! busy machine it does not hold up the thread it waits for. Every forward pass of a
//! `Session` runs this way (one token, a verify pass, a batch).

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::Yield;

/// Runs `f` on the current thread (a worker of the current rayon pool) while the pool's
/// other workers wait for its parallel work by spinning instead of sleeping, yielding
/// their core to the OS scheduler after every `yield_every` idle polls. With one thread,
/// or outside a pool, it is just `f()`.
pub fn with_spinning_workers<R: Send>(yield_every: u32, f: impl FnOnce() -> R + Send) -> R {
    let yield_every = yield_every.max(1);
    let threads = rayon::current_num_threads();
    let Some(me) = rayon::current_thread_index() else {
        return f();
    };
    if threads < 2 {
        return f();
    }
    let done = AtomicBool::new(false);
    rayon::scope(|s| {
        for _ in 1..threads {
            s.spawn(|_| {
                // This thread runs `f`: waiting here would block `f` below it.
                if rayon::current_thread_index() == Some(me) {
                    return;
                }
                let mut idle = 0u32;
                while !done.load(Ordering::Acquire) {
                    if rayon::yield_now() == Some(Yield::Executed) {
                        idle = 0;
                        continue;
                    }
                    idle = idle.wrapping_add(1);
                    if idle.is_multiple_of(yield_every) {
                        // Give the core away if anything else wants it (another process,
                        // or the thread running `f` descheduled on an oversubscribed
                        // machine): a spinner must not hold up the work it waits for.
                        std::thread::yield_now();
                    } else {
                        std::hint::spin_loop();
                    }
                }
            });
        }
        // Set when `f` returns or unwinds, so the spinners always stop.
        struct Done<'a>(&'a AtomicBool);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Release);
            }
        }
        let _done = Done(&done);
        f()
    })
}

#[cfg(test)]
mod tests {
    use rayon::prelude::*;

    use super::with_spinning_workers;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    /// Parallel regions inside the pass still run (on the spinning workers too), and the
    /// pass returns its value, at several pool sizes and outside any pool.
    #[test]
    fn parallel_work_inside_completes() {
        let work = || {
            (0..200u64)
                .map(|i| (0..1000u64).into_par_iter().map(|j| i * j).sum::<u64>())
                .sum::<u64>()
        };
        let want: u64 = (0..200u64).map(|i| i * 499_500).sum();
        for threads in [1, 2, 3, 4] {
            for every in [1, 64] {
                assert_eq!(
                    pool(threads).install(|| with_spinning_workers(every, work)),
                    want
                );
            }
        }
        assert_eq!(with_spinning_workers(1, work), want);
    }

    /// A pass that panics still releases the spinners: the panic reaches the caller and
    /// the pool stays usable.
    #[test]
    fn a_panicking_pass_stops_the_spinners() {
        let p = pool(3);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            p.install(|| with_spinning_workers(1, || -> u32 { panic!("pass failed") }))
        }));
        assert!(r.is_err());
        assert_eq!(p.install(|| with_spinning_workers(1, || 7)), 7);
    }
}
