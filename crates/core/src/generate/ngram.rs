//! Prompt-lookup drafting: find the latest earlier occurrence of the context's last `n`
//! tokens (longest `n` first) and propose the tokens that followed it. Input-grounded
//! work (quoting, correcting, renaming, extracting) repeats long runs of the prompt, and
//! there a match predicts many tokens; elsewhere it finds nothing and costs nothing.

/// Longest suffix tried.
pub const NGRAM_MAX: usize = 4;
/// Shortest suffix tried: a single token matches too often to predict much.
pub const NGRAM_MIN: usize = 2;

/// The context's token at index `i`: the history, then the pending token.
fn context(history: &[u32], pending: u32) -> impl Fn(usize) -> u32 + '_ {
    move |i| {
        if i < history.len() {
            history[i]
        } else {
            pending
        }
    }
}

/// Drafts up to `max` tokens to follow `context` (the history, then the pending token)
/// into `out` (cleared first).
#[cfg(test)]
pub fn lookup(history: &[u32], pending: u32, max: usize, out: &mut Vec<u32>) {
    lookup_min(history, pending, max, NGRAM_MIN, out);
}

/// [`lookup`] with suffixes of at least `min_n` tokens (`auto` asks for 3: on free text
/// two-token matches predict too little to pay). Returns where the draft was copied from
/// (the context index of its first token), `None` when nothing was drafted.
pub fn lookup_min(
    history: &[u32],
    pending: u32,
    max: usize,
    min_n: usize,
    out: &mut Vec<u32>,
) -> Option<usize> {
    out.clear();
    if max == 0 {
        return None;
    }
    let len = history.len() + 1;
    let at = context(history, pending);
    for n in (min_n.max(1)..=NGRAM_MAX).rev() {
        if n >= len {
            continue;
        }
        let tail = len - n;
        // Latest earlier start j < tail with context[j..j+n] == context[tail..].
        let found = (0..tail)
            .rev()
            .find(|&j| (0..n).all(|d| at(j + d) == at(tail + d)));
        if let Some(j) = found {
            let from = j + n;
            let to = (from + max).min(len);
            out.extend((from..to).map(at));
            return (from < to).then_some(from);
        }
    }
    None
}

/// Drafts after the first occurrence of `pending` at context indices `near..near + window`
/// (before `pending` itself): after the text being copied and the generated text part
/// (a corrected word, a renamed identifier), the next token found again close past where
/// the copy left off resumes the copy at once, where a suffix match would need several
/// more tokens of agreement. Returns where the draft was copied from, as [`lookup_min`].
pub fn lookup_near(
    history: &[u32],
    pending: u32,
    near: usize,
    window: usize,
    max: usize,
    out: &mut Vec<u32>,
) -> Option<usize> {
    out.clear();
    let end = (near + window).min(history.len());
    let j = (near..end).find(|&j| history[j] == pending)?;
    let from = j + 1;
    let to = (from + max).min(history.len());
    out.extend_from_slice(&history[from..to]);
    (from < to).then_some(from)
}

/// How many tokens before context index `from` agree with the end of the context (the
/// history, then the pending token), counted back from the pending token, at most `limit`:
/// how long the text has been following the source a draft copies from.
pub fn match_len(history: &[u32], pending: u32, from: usize, limit: usize) -> usize {
    let len = history.len() + 1;
    let at = context(history, pending);
    (0..limit.min(from))
        .take_while(|&d| at(from - 1 - d) == at(len - 1 - d))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(ctx: &[u32], max: usize) -> Vec<u32> {
        let mut out = Vec::new();
        lookup(&ctx[..ctx.len() - 1], *ctx.last().unwrap(), max, &mut out);
        out
    }

    #[test]
    fn longest_latest_match_wins() {
        // "1 2 3 4 5 | 9 2 3 4 7 | ... 2 3 4": the 3-gram "2 3 4" last occurred before 7.
        let ctx = [0, 2, 3, 4, 5, 9, 2, 3, 4, 7, 8, 1, 2, 3, 4];
        assert_eq!(draft(&ctx, 3), vec![7, 8, 1]);
        // A 4-gram "1 2 3 4" occurs at 0 only: it wins over the later 3-gram.
        let ctx = [1, 2, 3, 4, 5, 6, 9, 2, 3, 4, 7, 1, 2, 3, 4];
        assert_eq!(draft(&ctx, 2), vec![5, 6]);
        // The draft stops at the end of the context.
        let ctx = [5, 6, 7, 5, 6];
        assert_eq!(draft(&ctx, 8), vec![7, 5, 6]);
    }

    #[test]
    fn a_draft_says_where_it_was_copied_from() {
        let mut out = Vec::new();
        // "5 6" occurs at 0: the draft starts at index 2.
        assert_eq!(lookup_min(&[5, 6, 7, 8, 9, 5], 6, 2, 2, &mut out), Some(2));
        assert_eq!(out, vec![7, 8]);
        assert_eq!(lookup_min(&[1, 2, 3], 4, 2, 2, &mut out), None);
        assert!(out.is_empty());
    }

    #[test]
    fn near_the_anchor_one_token_resumes_the_copy() {
        // Source "10 11 12 13 14 15", the copy broke at 12 (anchor 2) with a new token 99;
        // the pending 13 is found just past the anchor and the copy resumes after it.
        let history = [10, 11, 12, 13, 14, 15, 20, 10, 11, 99];
        let mut out = Vec::new();
        assert_eq!(lookup_near(&history, 13, 2, 12, 3, &mut out), Some(4));
        assert_eq!(out, vec![14, 15, 20]);
        // Outside the window, or not present: nothing.
        assert_eq!(lookup_near(&history, 13, 4, 12, 3, &mut out), None);
        assert!(out.is_empty());
        assert_eq!(lookup_near(&history, 15, 0, 3, 3, &mut out), None);
        // The first occurrence past the anchor wins, and the draft stops at the end.
        assert_eq!(lookup_near(&history, 10, 0, 12, 8, &mut out), Some(1));
        assert_eq!(out, vec![11, 12, 13, 14, 15, 20, 10, 11]);
        assert_eq!(lookup_near(&history, 11, 8, 12, 8, &mut out), Some(9));
        assert_eq!(out, vec![99]);
    }

    #[test]
    fn match_length_counts_back_from_the_pending_token() {
        // Source "1 2 3 4 5 6", then the copy "9 2 3 4" with 5 pending: the draft from
        // index 5 (token 6) follows a match of "2 3 4 5", four tokens.
        let history = [1, 2, 3, 4, 5, 6, 9, 2, 3, 4];
        assert_eq!(match_len(&history, 5, 5, 8), 4);
        assert_eq!(match_len(&history, 5, 5, 3), 3);
        // The source's start bounds it, and a pending token that differs gives zero.
        let history = [2, 3, 9, 2];
        assert_eq!(match_len(&history, 3, 2, 8), 2);
        assert_eq!(match_len(&history, 7, 2, 8), 0);
    }

    #[test]
    fn no_match_or_no_room_drafts_nothing() {
        assert!(draft(&[1, 2, 3, 4, 5], 8).is_empty());
        assert!(draft(&[1, 2, 1, 2], 0).is_empty());
        assert!(draft(&[7], 8).is_empty());
        // A single repeated token is below NGRAM_MIN.
        assert!(draft(&[3, 9, 3], 4).is_empty());
    }
}
