//! Which slot a new request goes to: a pure decision over token histories.
//!
//! Prefix reuse: each slot keeps the tokens its KV cache holds (its history). A prompt
//! that shares a prefix with a free slot's history can continue in that slot, so only
//! the rest is evaluated: a prompt that extends the whole history (the next turn), or one
//! that shares only part of it (a regenerated reply, an edited last turn), when the slot
//! can rewind its cache to the shared prefix (`Session::truncate_to`: global layers
//! always can; sliding-window rings by at most their slack, `max_rewind`). Otherwise the
//! prompt is recomputed from scratch in a reset slot.
//!
//! Invariants of [`pick`]: it returns a free slot; when it reports `reuse = n > 0`, that
//! slot's history starts with `prompt[..n]`, holds at most `max_rewind` tokens more, and
//! `n < prompt.len()` (there is always at least one token to evaluate, so the logits of
//! the last prompt token are fresh).

/// A free slot as seen by the picker.
#[derive(Clone, Copy, Debug)]
pub struct FreeSlot<'a> {
    pub index: usize,
    /// Tokens its cache holds.
    pub history: &'a [u32],
    /// Tokens its cache can drop from the end of its history.
    pub max_rewind: usize,
    /// When it was last used (larger = more recent).
    pub last_used: u64,
}

/// The chosen slot and how many prompt tokens it already holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pick {
    pub index: usize,
    pub reuse: usize,
}

/// Picks a slot for `prompt` among `free` (must not be empty): the one that can reuse
/// the longest prefix (shared with its history, short of the whole prompt, within its
/// rewind); otherwise an empty slot, else the least recently used one (to keep the most
/// recent histories around for later reuse).
pub fn pick(free: &[FreeSlot<'_>], prompt: &[u32]) -> Option<Pick> {
    let reusable = free
        .iter()
        .map(|s| (s, reusable(s, prompt)))
        .filter(|&(_, n)| n > 0)
        .max_by_key(|&(s, n)| (n, std::cmp::Reverse(s.history.len())));
    if let Some((s, n)) = reusable {
        return Some(Pick {
            index: s.index,
            reuse: n,
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

/// Prompt tokens slot `s` can keep: the shared prefix, short of the whole prompt, if the
/// slot can drop the rest of its history.
fn reusable(s: &FreeSlot<'_>, prompt: &[u32]) -> usize {
    let common = s
        .history
        .iter()
        .zip(prompt)
        .take_while(|(a, b)| a == b)
        .count()
        .min(prompt.len().saturating_sub(1));
    if s.history.len() - common <= s.max_rewind {
        common
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slot that cannot rewind (a ring past its slack).
    fn slot(index: usize, history: &[u32], last_used: u64) -> FreeSlot<'_> {
        FreeSlot {
            index,
            history,
            max_rewind: 0,
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
        // Shares only [1, 2], and this slot cannot rewind: start over.
        assert_eq!(
            pick(&[slot(0, &a, 0)], &[1, 2, 7, 8]),
            Some(Pick { index: 0, reuse: 0 })
        );
    }

    #[test]
    fn a_shared_prefix_is_reused_when_the_slot_can_rewind_to_it() {
        let a = [1, 2, 3, 4, 5];
        let rewind = |n| FreeSlot {
            max_rewind: n,
            ..slot(0, &a, 0)
        };
        // A regenerated last reply: the prompt is the history's first 3 tokens and more.
        assert_eq!(
            pick(&[rewind(2)], &[1, 2, 3, 8, 9]),
            Some(Pick { index: 0, reuse: 3 })
        );
        // One token short of what the rewind allows: start over.
        assert_eq!(
            pick(&[rewind(1)], &[1, 2, 3, 8, 9]),
            Some(Pick { index: 0, reuse: 0 })
        );
        // The same prompt again: all but its last token are kept.
        assert_eq!(pick(&[rewind(1)], &a), Some(Pick { index: 0, reuse: 4 }));
        // The longest reusable prefix wins over a longer history.
        let b = [1, 2, 3, 4, 5, 6, 7];
        let free = [
            FreeSlot {
                max_rewind: 100,
                ..slot(1, &b, 0)
            },
            FreeSlot {
                max_rewind: 100,
                ..slot(0, &a[..2], 0)
            },
        ];
        assert_eq!(
            pick(&free, &[1, 2, 3, 9]),
            Some(Pick { index: 1, reuse: 3 })
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
