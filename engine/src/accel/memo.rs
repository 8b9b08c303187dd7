//! Per-thread memos for values Cedar is slow to build from text (an extension value's name, an
//! entity type name), where a run of decisions asks for the same few again and again.
//!
//! Reference path: calling the computation every time. A memo returns only what the
//! computation returned for the same text; the `uid` and `context` differential tests run through
//! the memos, and `computes_once_and_stays_bounded` below checks the memo itself.

use std::cell::RefCell;
use std::collections::HashMap;
use std::thread::LocalKey;

/// A memo from text to value. Declare one with `thread_local!`.
pub(crate) type Memo<V> = RefCell<HashMap<String, V>>;

/// A memo is cleared when it holds this many values, so that input with many distinct texts
/// cannot grow it.
const BOUND: usize = 64;

/// The value for `key`: from `memo`, or computed by `compute` and kept.
pub(crate) fn memoised<V: Clone + 'static>(
    memo: &'static LocalKey<Memo<V>>,
    key: &str,
    compute: impl FnOnce(&str) -> V,
) -> V {
    memo.with(|memo| {
        if let Some(value) = memo.borrow().get(key) {
            return value.clone();
        }
        let value = compute(key);
        let mut memo = memo.borrow_mut();
        if memo.len() >= BOUND {
            memo.clear();
        }
        memo.insert(key.to_string(), value.clone());
        value
    })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    thread_local! {
        static LENGTHS: Memo<usize> = Memo::default();
    }

    #[test]
    fn computes_once_and_stays_bounded() {
        let calls = Cell::new(0);
        let length = |s: &str| {
            calls.set(calls.get() + 1);
            s.len()
        };
        assert_eq!(memoised(&LENGTHS, "abc", length), 3);
        assert_eq!(memoised(&LENGTHS, "abc", length), 3);
        assert_eq!(calls.get(), 1);
        for i in 0..1_000 {
            assert_eq!(
                memoised(&LENGTHS, &i.to_string(), length),
                i.to_string().len()
            );
        }
        assert!(LENGTHS.with(|m| m.borrow().len()) <= BOUND);
    }
}
