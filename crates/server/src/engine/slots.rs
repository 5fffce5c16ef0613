//! Which slot a new request goes to: a pure decision over token histories.
//!
//! Prefix reuse: each slot keeps the tokens its KV cache holds (its history). A prompt
//! that *strictly extends* a free slot's whole history can continue in that slot, so only
//! the suffix is evaluated. Nothing shorter is reused: the sliding-window layers keep a
//! ring of the last `window` positions, and a ring cannot be rewound to an earlier
//! position, so a prompt that shares only part of a history (a regenerated reply, an
//! edited earlier turn) is recomputed from scratch in a reset slot.
//!
//! Invariants of [`pick`]: it returns a free slot; when it reports `reuse = n > 0`, that
//! slot's history is exactly `prompt[..n]` and `n < prompt.len()` (there is always at
//! least one token to evaluate, so the logits of the last prompt token are fresh).

/// A free slot as seen by the picker.
#[derive(Clone, Copy, Debug)]
pub struct FreeSlot<'a> {
    pub index: usize,
    /// Tokens its cache holds.
    pub history: &'a [u32],
    /// When it was last used (larger = more recent).
    pub last_used: u64,
}

/// The chosen slot and how many prompt tokens it already holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pick {
    pub index: usize,
    pub reuse: usize,
}

/// Picks a slot for `prompt` among `free` (must not be empty): the one with the longest
/// history that `prompt` strictly extends; otherwise an empty slot, else the least
/// recently used one (to keep the most recent histories around for later reuse).
pub fn pick(free: &[FreeSlot<'_>], prompt: &[u32]) -> Option<Pick> {
    let reusable = free
        .iter()
        .filter(|s| {
            !s.history.is_empty() && s.history.len() < prompt.len() && prompt.starts_with(s.history)
        })
        .max_by_key(|s| s.history.len());
    if let Some(s) = reusable {
        return Some(Pick {
            index: s.index,
            reuse: s.history.len(),
        });
    }
    let fresh = free
        .iter()
        .min_by_key(|s| (!s.history.is_empty(), s.last_used))?;
    Some(Pick {
        index: fresh.index,
        reuse: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(index: usize, history: &[u32], last_used: u64) -> FreeSlot<'_> {
        FreeSlot {
            index,
            history,
            last_used,
        }
    }

    #[test]
    fn reuses_the_longest_extended_history() {
        let a = [1, 2];
        let b = [1, 2, 3];
        let c = [9];
        let free = [slot(0, &a, 5), slot(1, &b, 1), slot(2, &c, 0)];
        assert_eq!(
            pick(&free, &[1, 2, 3, 4]),
            Some(Pick { index: 1, reuse: 3 })
        );
    }

    #[test]
    fn equal_or_partial_history_is_not_reused() {
        let a = [1, 2, 3];
        // Same prompt: nothing left to evaluate, so no reuse.
        assert_eq!(
            pick(&[slot(0, &a, 0)], &[1, 2, 3]),
            Some(Pick { index: 0, reuse: 0 })
        );
        // Shares only [1, 2]: a ring cache cannot rewind, so start over.
        assert_eq!(
            pick(&[slot(0, &a, 0)], &[1, 2, 7, 8]),
            Some(Pick { index: 0, reuse: 0 })
        );
    }

    #[test]
    fn prefers_empty_then_least_recently_used() {
        let a = [5];
        let b = [6];
        let free = [slot(0, &a, 3), slot(1, &b, 1), slot(2, &[], 9)];
        assert_eq!(pick(&free, &[1]), Some(Pick { index: 2, reuse: 0 }));
        assert_eq!(pick(&free[..2], &[1]), Some(Pick { index: 1, reuse: 0 }));
        assert_eq!(pick(&[], &[1]), None);
    }
}
