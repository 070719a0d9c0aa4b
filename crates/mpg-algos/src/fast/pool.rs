//! A pool of worker threads that sleep when idle, for splitting one step's work over the run's
//! threads (the batch halves of the policy gradient, the twin critics).
//!
//! Why not libgomp or rayon: their idle workers spin, waiting for the next task; on a machine
//! whose cores are busy with other work the spinning workers take the cores the working ones
//! need, and a 2-thread training run fell from about 90 to 0.5 iterations/s (issue 23). Here a
//! worker spins at most [`SPIN`] rounds (a few microseconds, which covers the gap between the
//! splits of one step on an idle machine) and then sleeps on a condition variable; the caller
//! waits for the workers the same way.
//!
//! The workers are created once, on first use, and kept for the life of the process. Part 0 of
//! each call runs on the calling thread. A call made while the pool is serving another call
//! (a second learner thread, or a call from inside a part) runs its parts one after the other
//! on the calling thread instead: the parts compute the same values wherever they run, so the
//! results never depend on that, nor on the number of workers.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// Rounds of `spin_loop` a waiting thread polls before it sleeps: about 1–5 µs.
const SPIN: u32 = 1 << 11;

/// A part of a call, lifetime-erased: [`run`] does not return before every part has finished,
/// which is what makes the erasure sound.
type Part = &'static (dyn Fn(usize) + Sync);

/// One call's completion: parts still running, and the first panic of a worker's part.
struct Latch {
    left: AtomicUsize,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    lock: Mutex<()>,
    cv: Condvar,
}

impl Latch {
    fn done(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Taking the lock orders this notify after the waiter's check (no lost wake-up).
            let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.cv.notify_all();
        }
    }

    fn wait(&self) {
        for _ in 0..SPIN {
            if self.left.load(Ordering::Acquire) == 0 {
                return;
            }
            std::hint::spin_loop();
        }
        let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        while self.left.load(Ordering::Acquire) != 0 {
            g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// What a worker is handed.
struct Job {
    part: Part,
    index: usize,
    latch: Arc<Latch>,
}

/// A worker's mailbox.
struct Slot {
    ready: AtomicBool,
    job: Mutex<Option<Job>>,
    cv: Condvar,
}

impl Slot {
    fn give(&self, job: Job) {
        let mut g = self.job.lock().unwrap_or_else(|e| e.into_inner());
        *g = Some(job);
        self.ready.store(true, Ordering::Release);
        self.cv.notify_one();
    }

    fn take(&self) -> Job {
        for _ in 0..SPIN {
            if self.ready.load(Ordering::Acquire) {
                break;
            }
            std::hint::spin_loop();
        }
        let mut g = self.job.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(job) = g.take() {
                self.ready.store(false, Ordering::Relaxed);
                return job;
            }
            g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
}

fn work(slot: Arc<Slot>) {
    loop {
        let job = slot.take();
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| (job.part)(job.index))) {
            let mut first = job.latch.panic.lock().unwrap_or_else(|e| e.into_inner());
            first.get_or_insert(p);
        }
        job.latch.done();
    }
}

/// The workers, behind the lock a call holds while it uses them.
fn workers() -> &'static Mutex<Vec<Arc<Slot>>> {
    static WORKERS: OnceLock<Mutex<Vec<Arc<Slot>>>> = OnceLock::new();
    WORKERS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Run `f(0), …, f(parts − 1)`, part 0 on the calling thread and the others on workers, and
/// return when all have finished. A panic in any part is resumed here after all have finished.
pub fn run(parts: usize, f: impl Fn(usize) + Sync) {
    if parts <= 1 {
        if parts == 1 {
            f(0);
        }
        return;
    }
    let Ok(mut slots) = workers().try_lock() else {
        // Busy (another call, or a call from inside a part): in order, here.
        (0..parts).for_each(f);
        return;
    };
    while slots.len() < parts - 1 {
        let slot = Arc::new(Slot {
            ready: AtomicBool::new(false),
            job: Mutex::new(None),
            cv: Condvar::new(),
        });
        let s = Arc::clone(&slot);
        std::thread::Builder::new()
            .name(format!("mpg-pool-{}", slots.len() + 1))
            .spawn(move || work(s))
            .expect("spawn a pool worker");
        slots.push(slot);
    }
    let latch = Arc::new(Latch {
        left: AtomicUsize::new(parts - 1),
        panic: Mutex::new(None),
        lock: Mutex::new(()),
        cv: Condvar::new(),
    });
    let part: &(dyn Fn(usize) + Sync) = &f;
    // SAFETY: `part` borrows `f`, which outlives every use: the guard below waits for all
    // workers' parts to finish (the latch) before this function returns or unwinds.
    #[allow(unsafe_code)]
    let part: Part = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), Part>(part) };
    struct WaitAll<'a>(&'a Latch);
    impl Drop for WaitAll<'_> {
        fn drop(&mut self) {
            self.0.wait();
        }
    }
    {
        let _wait = WaitAll(&latch);
        for (i, slot) in slots.iter().take(parts - 1).enumerate() {
            slot.give(Job {
                part,
                index: i + 1,
                latch: Arc::clone(&latch),
            });
        }
        part(0);
    }
    drop(slots);
    if let Some(p) = latch.panic.lock().unwrap_or_else(|e| e.into_inner()).take() {
        resume_unwind(p);
    }
}

/// `(a(), b())`, `b` on a worker when `threads > 1`, both on the calling thread otherwise.
pub fn join<A: Send, B: Send>(
    threads: usize,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if threads <= 1 {
        return (a(), b());
    }
    let (a, b) = (Mutex::new(Some(a)), Mutex::new(Some(b)));
    let (ra, rb) = (Mutex::new(None), Mutex::new(None));
    run(2, |i| {
        if i == 0 {
            let f = a.lock().unwrap().take().expect("part 0 runs once");
            *ra.lock().unwrap() = Some(f());
        } else {
            let f = b.lock().unwrap().take().expect("part 1 runs once");
            *rb.lock().unwrap() = Some(f());
        }
    });
    (
        ra.into_inner().unwrap().expect("part 0 ran"),
        rb.into_inner().unwrap().expect("part 1 ran"),
    )
}

/// `f(i, &mut items[i])` for every item, the items shared out over the calling thread and
/// `items.len() − 1` workers; the results in item order.
pub fn map_mut<T: Send, R: Send>(items: &mut [T], f: impl Fn(usize, &mut T) -> R + Sync) -> Vec<R> {
    let cells: Vec<Mutex<(&mut T, Option<R>)>> =
        items.iter_mut().map(|t| Mutex::new((t, None))).collect();
    run(cells.len(), |i| {
        let mut cell = cells[i].lock().unwrap();
        let r = f(i, cell.0);
        cell.1 = Some(r);
    });
    cells
        .into_iter()
        .map(|c| c.into_inner().unwrap().1.expect("every part ran"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Work whose value depends on every input bit, so that a part computed twice, skipped or
    /// handed the wrong index shows.
    fn work(i: usize) -> u64 {
        (0..10_000u64).fold(i as u64 + 1, |h, x| {
            h.rotate_left(5) ^ x.wrapping_mul(0x9E37_79B9)
        })
    }

    #[test]
    fn parts_equal_the_serial_ones_at_every_width() {
        let serial: Vec<u64> = (0..8).map(work).collect();
        for parts in 1..=8 {
            for _ in 0..20 {
                let mut items: Vec<usize> = (0..parts).collect();
                let got = map_mut(&mut items, |i, x| {
                    assert_eq!(i, *x);
                    *x += 100;
                    work(i)
                });
                assert_eq!(got, serial[..parts]);
                assert_eq!(items, (100..100 + parts).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn join_returns_both_results_on_one_and_two_threads() {
        for threads in [1, 2, 3] {
            let v = [1u64, 2, 3];
            let (a, b) = join(threads, || v.iter().sum::<u64>(), || work(7));
            assert_eq!((a, b), (6, work(7)));
        }
    }

    #[test]
    fn calls_from_many_threads_and_from_inside_a_part_all_finish_with_the_same_results() {
        let want: Vec<u64> = (0..3).map(work).collect();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..50 {
                        let mut items = [0u8; 3];
                        let nested = map_mut(&mut items, |i, _| {
                            let mut inner = [0u8; 2];
                            let r = map_mut(&mut inner, |j, _| work(j));
                            (work(i), r)
                        });
                        for (i, (w, r)) in nested.into_iter().enumerate() {
                            assert_eq!(w, want[i]);
                            assert_eq!(r, want[..2]);
                        }
                    }
                });
            }
        });
    }

    #[test]
    fn a_panicking_part_panics_the_caller_after_the_others_finish() {
        let finished = AtomicUsize::new(0);
        let r = catch_unwind(AssertUnwindSafe(|| {
            run(3, |i| {
                if i == 1 {
                    panic!("part 1 fails");
                }
                work(i);
                finished.fetch_add(1, Ordering::SeqCst);
            })
        }));
        let msg = r.expect_err("the panic reaches the caller");
        assert_eq!(msg.downcast_ref::<&str>(), Some(&"part 1 fails"));
        assert_eq!(finished.load(Ordering::SeqCst), 2);
        // The pool still works afterwards.
        let mut items = [0u8; 3];
        assert_eq!(map_mut(&mut items, |i, _| i), [0, 1, 2]);
    }
}
