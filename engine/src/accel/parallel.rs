//! Two-way parallelism for loading large packs, where the platform has threads.
//!
//! Reference path: the same two pieces one after the other (what one core and WebAssembly do).
//! Held equal by `same_results_small_and_large` below, and on a whole pack by
//! `tests/index_differential.rs::a_split_index_decides_as_full_evaluation` (4,000 policies,
//! loaded on two threads where there are two cores) and the `pack::load` test
//! `large_texts_parse_in_two_halves_with_whole_text_positions`.
//!
//! Loading 10,000 policies parses, validates and indexes independent pieces; on a machine with
//! two or more cores, two threads take about half the time. The results are the same as running
//! the pieces one after the other, which is what happens on a single core and on WebAssembly.

/// Whether work on this many policies is worth a second thread: below it, starting the thread
/// costs more than it saves.
pub(crate) fn worth_a_thread(policies: usize) -> bool {
    policies >= 512
}

/// Runs `a` and `b`, in parallel when `worth_it` and the platform has a second core; the result
/// is the same either way.
pub(crate) fn join<A, B>(
    worth_it: bool,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B)
where
    A: Send,
{
    if !worth_it || !has_second_core() {
        return (a(), b());
    }
    threaded(a, b)
}

#[cfg(not(target_family = "wasm"))]
fn has_second_core() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

#[cfg(target_family = "wasm")]
fn has_second_core() -> bool {
    false
}

#[cfg(not(target_family = "wasm"))]
fn threaded<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    use std::sync::{Mutex, PoisonError};
    // `a` waits in a slot: the thread takes it, or, if no thread could be started, this one does.
    let slot = Mutex::new(Some(a));
    let take = || slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    std::thread::scope(|scope| {
        // The same stack as the caller's work is sized for: this thread parses policies too,
        // and Cedar's parser recurses once per level of nesting (the default 2 MiB is not
        // enough at the nesting limits).
        let handle = std::thread::Builder::new()
            .name("tollgate-load".into())
            .stack_size(crate::limits::Limits::current().stack_bytes())
            .spawn_scoped(scope, || take().map(|a| a()));
        let b = b();
        let a = match handle.map(|h| h.join()) {
            Ok(Ok(a)) => a,
            // `a` panicked on the thread: the same panic as running it here.
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => None,
        };
        match a {
            Some(a) => (a, b),
            // The thread never ran: `a` is still in the slot.
            None => match take() {
                Some(a) => (a(), b),
                None => unreachable_join(),
            },
        }
    })
}

/// The slot was empty twice: impossible, since the thread takes from it only if it started,
/// and this thread only after the other has finished or never started.
#[cfg(not(target_family = "wasm"))]
fn unreachable_join() -> ! {
    unreachable!("parallel::join: the task was taken twice")
}

#[cfg(target_family = "wasm")]
fn threaded<A, B>(a: impl FnOnce() -> A, b: impl FnOnce() -> B) -> (A, B) {
    (a(), b())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_results_small_and_large() {
        assert_eq!(join(false, || 1 + 1, || "b"), (2, "b"));
        assert_eq!(join(true, || 1 + 1, || "b"), (2, "b"));
        let data = [1, 2, 3];
        let (sum, len) = join(true, || data.iter().sum::<i32>(), || data.len());
        assert_eq!((sum, len), (6, 3));
    }
}
