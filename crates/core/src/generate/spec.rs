//! Speculative decoding settings: which drafter, how many tokens a step may draft.

use crate::error::{Error, Result};

/// Where draft tokens come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SpecMode {
    /// No drafts: one token per forward pass.
    #[default]
    Off,
    /// Prompt lookup: the tokens that followed the latest earlier occurrence of the last
    /// few tokens, in the prompt or the text generated so far.
    Ngram,
    /// FR-Spec self-drafting: the model's own trunk and an output head restricted to the
    /// most frequent tokens ([`super::FrDraft`]); drafts while the reduced head is
    /// confident.
    Fr,
    /// Prompt lookup when it finds a match, FR drafting otherwise.
    Auto,
}

impl SpecMode {
    pub const ALL: [SpecMode; 4] = [SpecMode::Off, SpecMode::Ngram, SpecMode::Fr, SpecMode::Auto];

    pub fn name(self) -> &'static str {
        match self {
            SpecMode::Off => "off",
            SpecMode::Ngram => "ngram",
            SpecMode::Fr => "fr",
            SpecMode::Auto => "auto",
        }
    }

    /// Whether the mode drafts by prompt lookup.
    pub fn ngram(self) -> bool {
        matches!(self, SpecMode::Ngram | SpecMode::Auto)
    }

    /// Whether the mode drafts with an FR draft head.
    pub fn fr(self) -> bool {
        matches!(self, SpecMode::Fr | SpecMode::Auto)
    }

    pub fn from_name(s: &str) -> Result<SpecMode> {
        SpecMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown speculative mode {s:?} (expected one of: {})",
                    SpecMode::ALL.map(SpecMode::name).join(", ")
                ))
            })
    }
}

/// Most draft tokens one step may propose (a verify pass is at most this plus one rows,
/// and a rejected draft is rolled back, which a sliding-window cache allows up to its
/// slack of [`crate::kv::RING_SLACK`] positions).
pub const MAX_DRAFT: usize = 32;

/// How a sequence speculates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpecConfig {
    pub mode: SpecMode,
    /// Most tokens drafted per step (the adaptive length stays within `n_min..=n_max`).
    pub n_max: usize,
    /// Fewest tokens worth drafting: a shorter lookup match is not verified.
    pub n_min: usize,
}

impl Default for SpecConfig {
    fn default() -> Self {
        SpecConfig {
            mode: SpecMode::Off,
            n_max: 8,
            n_min: 1,
        }
    }
}

impl SpecConfig {
    pub fn new(mode: SpecMode, n_max: usize) -> SpecConfig {
        SpecConfig {
            mode,
            n_max,
            ..SpecConfig::default()
        }
    }

    /// Checks the bounds: `1 <= n_min <= n_max <= MAX_DRAFT`.
    pub fn validate(&self) -> Result<()> {
        if self.n_max == 0 || self.n_max > MAX_DRAFT {
            return Err(Error::Invalid(format!(
                "draft length {} is outside 1..={MAX_DRAFT}",
                self.n_max
            )));
        }
        if self.n_min == 0 || self.n_min > self.n_max {
            return Err(Error::Invalid(format!(
                "minimum draft length {} is outside 1..={} (the maximum)",
                self.n_min, self.n_max
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bounds() {
        for m in SpecMode::ALL {
            assert_eq!(SpecMode::from_name(m.name()).unwrap(), m);
        }
        let e = SpecMode::from_name("medusa").unwrap_err().to_string();
        assert!(e.contains("off, ngram, fr, auto"), "{e}");
        assert!(SpecConfig::new(SpecMode::Ngram, 8).validate().is_ok());
        assert!(SpecConfig::new(SpecMode::Ngram, 0).validate().is_err());
        assert!(SpecConfig::new(SpecMode::Ngram, MAX_DRAFT + 1)
            .validate()
            .is_err());
        let c = SpecConfig {
            n_min: 9,
            ..SpecConfig::new(SpecMode::Ngram, 8)
        };
        assert!(c.validate().is_err());
    }
}
