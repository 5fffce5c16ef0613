//! Sampling (filled in by the sampling work).
