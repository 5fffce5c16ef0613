//! Drafters' records: how often a drafted token was accepted (prompt lookup's by kind of
//! match, and FR drafting's), and how long a draft that record says pays
//! ([`Record::reach`]). The generation step ([`super::step`]) verifies drafts while they
//! pay and shadows them otherwise.

use super::ngram;
use super::spec::MAX_DRAFT;

/// Weight of a [`Record`] so far against its latest draft.
pub(super) const RECORD_KEEP: f64 = 0.7;

/// Weight of a [`Record`] so far against one observed token ([`Record::observe`]): about
/// the last seven tokens count.
pub(super) const SHADOW_KEEP: f64 = 0.85;

/// A record of prompt-lookup drafts, in draft tokens: accepted, and tried (accepted, plus
/// one for each rejection), means over the latest drafts, verified or shadowed
/// ([`RECORD_KEEP`]). Their ratio `p` estimates the chance that a drafted token is accepted
/// once the one before it was, which bounds how long a draft pays ([`Record::reach`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Record {
    pub(super) hits: f64,
    pub(super) tries: f64,
}

impl Record {
    /// Before the first draft: one try, half a hit. Where a verified row costs half a
    /// decode step or more (the AVX2 tier), the first drafts are shadows until one would
    /// have paid; where rows are cheap (the VNNI tier), the first draft is verified.
    pub(super) const PRIOR: Record = Record {
        hits: 0.5,
        tries: 1.0,
    };

    /// A draft of `drafted` tokens of which `accepted` were accepted.
    pub(super) fn learn(&mut self, drafted: usize, accepted: usize) {
        self.start();
        self.hits += accepted as f64;
        self.tries += accepted as f64;
        if accepted < drafted {
            self.tries += 1.0;
        }
    }

    /// One token a drafter would have proposed, compared with the token decoding emitted
    /// (`hit`): FR drafting's record learns so on every pass it does not draft. A token
    /// counts as a draft of one, but what came before weighs more ([`SHADOW_KEEP`]).
    pub(super) fn observe(&mut self, hit: bool) {
        self.hits = self.hits * SHADOW_KEEP + f64::from(u8::from(hit));
        self.tries = self.tries * SHADOW_KEEP + 1.0;
    }

    /// The estimated chance that a drafted token is accepted.
    pub(super) fn p(&self) -> f64 {
        self.hits / self.tries
    }

    /// A new draft: what came before weighs less. Its tokens are then added one by one
    /// (a shadow learns as decoding confirms it).
    pub(super) fn start(&mut self) {
        self.hits *= RECORD_KEEP;
        self.tries *= RECORD_KEEP;
    }

    /// The longest draft whose every token pays: the `i`-th drafted token is accepted with
    /// probability `p^i`, and pays when that is more than what it costs, `cost` of a decode
    /// step. Zero (shadow the drafts) when even the first would not pay.
    pub(super) fn reach(&self, cost: f64) -> usize {
        let p = self.p();
        if p <= cost {
            0
        } else if p >= 0.999 {
            MAX_DRAFT
        } else {
            ((cost.ln() / p.ln()) as usize).min(MAX_DRAFT)
        }
    }
}

/// Prompt-lookup drafts of two kinds keep separate records: a match that reaches far back
/// (the output has been copying its source for a while) predicts its next tokens far
/// better than a fresh three-token match (on free text, mostly chance).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Fresh = 0,
    Copying = 1,
}

impl Kind {
    /// Tokens of agreement with the source, ending at the pending token, that make a match
    /// a copy in progress.
    const COPYING: usize = 8;

    /// The kind of a draft copied from context index `from` after `history` and `pending`.
    pub(super) fn of(history: &[u32], pending: u32, from: usize) -> Kind {
        if ngram::match_len(history, pending, from, Kind::COPYING) >= Kind::COPYING {
            Kind::Copying
        } else {
            Kind::Fresh
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_is_as_long_as_its_every_token_pays() {
        let mut r = Record::PRIOR;
        // The prior: half a hit in one try. Rows at 0.3 of a step: the first drafted token
        // pays (0.5 > 0.3), the second would not (0.25); at 0.75: shadows.
        assert_eq!(r.reach(0.3), 1);
        assert_eq!(r.reach(0.75), 0);
        // p = 0.9: the second token pays at 0.75 (0.81), the third does not (0.729).
        r = Record {
            hits: 9.0,
            tries: 10.0,
        };
        assert_eq!(r.reach(0.75), 2);
        assert_eq!(r.reach(0.3), 11);
        r.hits = 10.0;
        assert_eq!(r.reach(0.75), MAX_DRAFT);
        // Drafts that miss bring the record down; one that is accepted whole brings it up.
        r = Record {
            hits: 1.0,
            tries: 1.0,
        };
        r.learn(4, 1);
        r.learn(4, 0);
        r.learn(4, 0);
        assert_eq!(r.reach(0.45), 0, "{r:?}");
        r.learn(8, 8);
        assert!(r.reach(0.45) >= 2, "{r:?}");
    }

    #[test]
    fn observed_tokens_stop_and_resume_drafting() {
        // FR drafting's record at Gemma 3's AVX2 break-even, 0.61: from the prior, two
        // observed misses stop the drafts, and three hits in a row resume them.
        let mut r = Record::PRIOR;
        r.observe(false);
        assert!(r.p() > 0.2 && r.p() < 0.25, "{r:?}");
        r.observe(false);
        assert_eq!(r.reach(0.61), 0);
        let mut n = 0;
        while r.reach(0.61) == 0 {
            r.observe(true);
            n += 1;
        }
        assert_eq!(n, 3, "{r:?}");
        // A long run of hits approaches p = 1 and long drafts; what came before fades
        // (0.85 per token).
        for _ in 0..40 {
            r.observe(true);
        }
        assert!(r.p() > 0.99 && r.reach(0.61) >= 16, "{r:?}");
    }
}
