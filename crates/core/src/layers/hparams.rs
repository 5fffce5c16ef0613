//! The hyperparameters every decoder declares under `<arch>.*`, read and checked once.
//!
//! Every count read here is checked against what the file holds before anything is
//! sized from it: the layer count must equal the number of `blk.N` layers that have
//! tensors, head counts must divide evenly, head sizes stay within the kernels' limits.
//! Shapes of the tensors themselves are checked as they load.

use wren_gguf::{GgufFile, Value};

use crate::error::{Error, Result};

/// The largest head size the attention kernels and RoPE tables take.
pub const MAX_HEAD_DIM: usize = 1024;

/// Common decoder hyperparameters.
#[derive(Clone, Debug)]
pub struct HParams {
    pub arch: String,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_ff: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    /// RMS-norm epsilon (`attention.layer_norm_rms_epsilon`).
    pub eps: f32,
    pub n_ctx_train: usize,
    /// `rope.freq_base`, if the file gives it.
    pub rope_base: Option<f32>,
    /// Rotated dimensions per head (`rope.dimension_count`, default the head size).
    pub n_rot: usize,
    /// Linear RoPE scaling factor (`rope.scaling.type = linear`); 1 for none.
    pub rope_linear_scale: f32,
    /// `rope.scaling.type = longrope` (only accepted by [`HParams::from_gguf_longrope`]).
    pub longrope: bool,
}

impl HParams {
    /// Reads `<arch>.*` for `arch` (the file's `general.architecture`), with `eps_default`
    /// when the file has no epsilon.
    pub fn from_gguf(f: &GgufFile, arch: &str, eps_default: f32) -> Result<HParams> {
        Self::read(f, arch, eps_default, false)
    }

    /// [`from_gguf`](Self::from_gguf), also accepting LongRoPE scaling, for a family that
    /// loads its per-frequency factors (`rope_factors_{short,long}`) itself.
    pub fn from_gguf_longrope(f: &GgufFile, arch: &str, eps_default: f32) -> Result<HParams> {
        Self::read(f, arch, eps_default, true)
    }

    fn read(f: &GgufFile, arch: &str, eps_default: f32, longrope_ok: bool) -> Result<HParams> {
        let key = |k: &str| format!("{arch}.{k}");
        let u = |k: &str| -> Result<usize> { Ok(f.get_usize(&key(k))?) };
        let opt_u = |k: &str| -> Result<Option<usize>> { f.get(&key(k)).map(|_| u(k)).transpose() };
        let opt_f32 = |k: &str| -> Result<Option<f32>> {
            f.get(&key(k))
                .map(|_| f.get_f32(&key(k)))
                .transpose()
                .map_err(Into::into)
        };
        let bad = |msg: String| Error::Model(format!("{arch}: {msg}"));

        let n_layer = u("block_count")?;
        let in_file = count_layers(f).map_err(bad)?;
        if n_layer != in_file {
            return Err(bad(format!(
                "{} declares {n_layer} layers but the file has tensors for {in_file}",
                key("block_count")
            )));
        }
        let n_embd = u("embedding_length")?;
        for k in [
            "attention.head_count",
            "attention.head_count_kv",
            "feed_forward_length",
        ] {
            if let Some(Value::Array(_)) = f.get(&key(k)) {
                return Err(bad(format!("per-layer {} is not supported", key(k))));
            }
        }
        let n_head = u("attention.head_count")?;
        let n_head_kv = opt_u("attention.head_count_kv")?.unwrap_or(n_head);
        let head_dim = match opt_u("attention.key_length")? {
            Some(d) => d,
            None if n_head > 0 => n_embd / n_head,
            None => 0,
        };
        if let Some(vd) = opt_u("attention.value_length")? {
            if vd != head_dim {
                return Err(bad(format!(
                    "value head size {vd} differs from the key head size {head_dim}, which wren does not support"
                )));
            }
        }
        if head_dim > MAX_HEAD_DIM {
            return Err(bad(format!(
                "head size {head_dim} is larger than wren supports ({MAX_HEAD_DIM})"
            )));
        }
        if n_embd == 0
            || n_head == 0
            || n_head_kv == 0
            || n_head % n_head_kv != 0
            || head_dim == 0
            || head_dim % 2 != 0
        {
            return Err(bad(format!(
                "inconsistent attention shape: embedding {n_embd}, {n_head} heads, {n_head_kv} KV heads, head size {head_dim}"
            )));
        }
        let n_rot = opt_u("rope.dimension_count")?.unwrap_or(head_dim);
        if n_rot > head_dim || n_rot % 2 != 0 {
            return Err(bad(format!(
                "rope.dimension_count {n_rot} must be even and at most the head size {head_dim}"
            )));
        }
        let scaling = f.get(&key("rope.scaling.type")).and_then(|v| v.as_str());
        let longrope = longrope_ok && scaling == Some("longrope");
        let rope_linear_scale = match scaling {
            None | Some("none") => 1.0,
            Some("longrope") if longrope_ok => 1.0,
            Some("linear") => opt_f32("rope.scaling.factor")?.unwrap_or(1.0),
            Some(other) => {
                return Err(bad(format!(
                    "RoPE scaling type {other:?} is not supported (wren supports none and linear)"
                )))
            }
        };
        if !(rope_linear_scale.is_finite() && rope_linear_scale > 0.0) {
            return Err(bad(format!("bad RoPE scaling factor {rope_linear_scale}")));
        }
        let eps = opt_f32("attention.layer_norm_rms_epsilon")?.unwrap_or(eps_default);
        Ok(HParams {
            arch: arch.to_string(),
            n_embd,
            n_layer,
            n_ff: u("feed_forward_length")?,
            n_head,
            n_head_kv,
            head_dim,
            eps,
            n_ctx_train: u("context_length")?,
            rope_base: opt_f32("rope.freq_base")?,
            n_rot,
            rope_linear_scale,
            longrope,
        })
    }

    /// `<arch>.<k>` as f32, if present.
    pub fn opt_f32(&self, f: &GgufFile, k: &str) -> Result<Option<f32>> {
        let key = format!("{}.{k}", self.arch);
        Ok(f.get(&key).map(|_| f.get_f32(&key)).transpose()?)
    }
}

/// The number of layers the file has tensors for: the number of distinct `N` among the
/// tensor names `blk.N.*`, provided they are exactly `0..count`. A file whose layer
/// numbers have gaps (say one tensor named `blk.2147483646.*`) reports the gap, so a
/// matching `block_count` cannot size an allocation from a single stray name.
pub fn count_layers(f: &GgufFile) -> std::result::Result<usize, String> {
    let indices: std::collections::BTreeSet<usize> = f
        .tensors()
        .iter()
        .filter_map(|t| {
            t.name
                .strip_prefix("blk.")?
                .split('.')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .collect();
    match indices.iter().next_back() {
        None => Ok(0),
        Some(&max) if max == indices.len() - 1 => Ok(indices.len()),
        Some(&max) => Err(format!(
            "the file has tensors for {} layers numbered up to blk.{max}: layers are missing",
            indices.len()
        )),
    }
}
