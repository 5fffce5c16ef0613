//! Weight matrices viewed straight from the memory-mapped GGUF, in their stored format,
//! or repacked once at load where the kernels have a faster layout of the same values
//! (`wren_kernels::isa::Packing`).

use std::sync::Arc;

use rayon::prelude::*;
use wren_gguf::{GgmlType, GgufFile};
use wren_kernels::isa::{self, Packing, TokenTables};

use crate::error::{Error, Result};

/// Bytes repacked between releases of the file's pages (see [`QMatrix::load`]).
const REPACK_SPAN: usize = 4 << 20;

/// A 2-D weight `[rows, cols]` (ggml dims `[cols, rows]`): row `r` is `cols` contiguous
/// elements of `ty`. The bytes stay in the mapped file, unless the kernels of this CPU
/// have a packing for the format: then the rows are repacked once at load (same bytes per
/// row) and the file's pages are released.
#[derive(Clone)]
pub struct QMatrix {
    pub name: String,
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    row_bytes: usize,
    /// First row of the stored tensor this matrix views (see [`QMatrix::row_range`]).
    row0: usize,
    index: usize,
    file: Arc<GgufFile>,
    packed: Option<(Packing, Arc<Vec<u8>>)>,
    /// Rows gathered from another matrix ([`QMatrix::gather_rows`]): these bytes, in the
    /// packing of [`QMatrix::packing`].
    owned: Option<Arc<Vec<u8>>>,
}

impl QMatrix {
    /// Look up tensor `name`, checking it is 2-D with the expected shape (`None` = any).
    pub fn load(
        file: &Arc<GgufFile>,
        name: &str,
        cols: Option<usize>,
        rows: Option<usize>,
    ) -> Result<QMatrix> {
        let (index, dims) = find(file, name)?;
        if dims.len() > 2 && dims[2..].iter().any(|&d| d != 1) {
            return Err(bad(
                name,
                format!("expected a matrix, found shape {dims:?}"),
            ));
        }
        let c = dims[0] as usize;
        let r = dims.get(1).copied().unwrap_or(1) as usize;
        if cols.is_some_and(|want| want != c) || rows.is_some_and(|want| want != r) {
            return Err(bad(
                name,
                format!(
                    "shape {dims:?} does not match the expected [{}, {}]",
                    cols.map_or("?".into(), |v| v.to_string()),
                    rows.map_or("?".into(), |v| v.to_string())
                ),
            ));
        }
        Self::from_index(file, index, name, c, r)
    }

    /// The `n` matrices `[rows, cols]` stacked in 3-D tensor `name` (ggml dims `[cols,
    /// rows, n]`: a mixture-of-experts layer's `ffn_{gate,up,down}_exps`), each a view of
    /// its own rows of the one stored tensor (see [`QMatrix::row_range`]).
    pub fn load_stacked(
        file: &Arc<GgufFile>,
        name: &str,
        cols: usize,
        rows: usize,
        n: usize,
    ) -> Result<Vec<QMatrix>> {
        let (index, dims) = find(file, name)?;
        let want = [cols as u64, rows as u64, n as u64];
        if dims.len() < 3 || dims[..3] != want || dims[3..].iter().any(|&d| d != 1) {
            return Err(bad(
                name,
                format!("shape {dims:?} does not match the expected {want:?}"),
            ));
        }
        let total = rows
            .checked_mul(n)
            .ok_or_else(|| bad(name, format!("shape {dims:?} is too large")))?;
        let all = Self::from_index(file, index, name, cols, total)?;
        (0..n)
            .map(|e| all.row_range(e * rows..(e + 1) * rows, &format!("{name}[{e}]")))
            .collect()
    }

    /// The matrix of tensor `index` viewed as `[r, c]` (its shape already checked).
    fn from_index(
        file: &Arc<GgufFile>,
        index: usize,
        name: &str,
        c: usize,
        r: usize,
    ) -> Result<QMatrix> {
        let info = &file.tensors()[index];
        if !wren_kernels::is_weight_type(info.ty) {
            return Err(bad(
                name,
                format!("tensor type {} cannot be used as a weight matrix", info.ty),
            ));
        }
        let row_bytes = info
            .ty
            .row_bytes(c as u64)
            .ok_or_else(|| bad(name, "row is not a whole number of blocks".into()))?
            as usize;
        let packed = Packing::for_matrix(info.ty, c).map(|p| {
            // A few MiB at a time, each span's file pages released once copied, so the
            // copy never holds both versions of a large tensor in memory at once.
            let src = file.tensor_data(info);
            let mut dst = vec![0u8; src.len()];
            let span = row_bytes * (REPACK_SPAN / row_bytes).max(1);
            for (i, (d, s)) in dst.chunks_mut(span).zip(src.chunks(span)).enumerate() {
                d.par_chunks_mut(row_bytes * 64)
                    .zip(s.par_chunks(row_bytes * 64))
                    .for_each(|(d, s)| p.repack(c, s, d));
                file.release_tensor_range(info, i * span..i * span + s.len());
            }
            (p, Arc::new(dst))
        });
        Ok(QMatrix {
            name: name.into(),
            ty: info.ty,
            rows: r,
            cols: c,
            row_bytes,
            row0: 0,
            index,
            file: file.clone(),
            packed,
            owned: None,
        })
    }

    /// All rows' bytes: the file's, or the repacked copy (see [`QMatrix::packing`]).
    pub fn data(&self) -> &[u8] {
        let all = match (&self.owned, &self.packed) {
            (Some(b), _) => &b[..],
            (None, Some((_, b))) => &b[..],
            (None, None) => self.file.tensor_data(&self.file.tensors()[self.index]),
        };
        &all[self.row0 * self.row_bytes..(self.row0 + self.rows) * self.row_bytes]
    }

    /// Rows `rows` of this matrix as a matrix of their own, sharing the bytes: the parts
    /// of a fused tensor (Phi-3's `attn_qkv` holds Q, K and V; its `ffn_up` gate and up).
    /// Rows are independent in every format and packing, so a view needs no copy.
    pub fn row_range(&self, rows: std::ops::Range<usize>, name: &str) -> Result<QMatrix> {
        if rows.start > rows.end || rows.end > self.rows {
            return Err(Error::Tensor {
                name: self.name.clone(),
                msg: format!("rows {rows:?} of a {}-row matrix", self.rows),
            });
        }
        Ok(QMatrix {
            name: name.into(),
            rows: rows.len(),
            row0: self.row0 + rows.start,
            ..self.clone()
        })
    }

    /// A matrix of rows `ids` of this one, in that order, copied into memory of its own
    /// (same format and packing: rows are independent). FR-Spec's draft head is the
    /// frequent tokens' rows of the output head. Panics on a row out of range.
    pub fn gather_rows(&self, ids: &[u32], name: &str) -> QMatrix {
        let (rb, data) = (self.row_bytes, self.data());
        let mut bytes = Vec::with_capacity(ids.len() * rb);
        for &r in ids {
            let r = r as usize;
            assert!(r < self.rows, "gather_rows: row {r} of {}", self.rows);
            bytes.extend_from_slice(&data[r * rb..(r + 1) * rb]);
        }
        QMatrix {
            name: name.into(),
            rows: ids.len(),
            row0: 0,
            owned: Some(Arc::new(bytes)),
            ..self.clone()
        }
    }

    /// The load-time packing of [`QMatrix::data`], if the rows were repacked.
    pub fn packing(&self) -> Option<Packing> {
        self.packed.as_ref().map(|(p, _)| *p)
    }

    /// `out[r] = row r of w_rows · a`: `w_rows` whole rows of [`QMatrix::data`], `a` one
    /// activation row of `vec_dot_type(ty)`.
    pub fn dot_rows(&self, w_rows: &[u8], a: &[u8], out: &mut [f32]) {
        match self.packing() {
            Some(p) => isa::packed_rows(p, self.cols, w_rows, a, out),
            None => isa::vec_dot_rows(self.ty, self.cols, w_rows, a, out),
        }
    }

    /// Lays out `tokens` activation rows `a` (of `vec_dot_type(ty)`) in `tables` for
    /// [`QMatrix::dot_rows_tokens`]: once per matrix product, shared by its tasks.
    pub fn prepare_tokens(&self, a: &[u8], tokens: usize, tables: &mut TokenTables) {
        tables.prepare(self.ty, self.packing(), self.cols, a, tokens);
    }

    /// `out[t·ld + r] = row r of w_rows · row t of a` for `tokens` activation rows, with
    /// `tables` from [`QMatrix::prepare_tokens`] on the same `a`.
    pub fn dot_rows_tokens(
        &self,
        w_rows: &[u8],
        a: &[u8],
        tokens: usize,
        out: &mut [f32],
        ld: usize,
        tables: &TokenTables,
    ) {
        let n = self.cols;
        match self.packing() {
            Some(p) => isa::packed_rows_tokens_prepared(p, n, w_rows, a, tokens, out, ld, tables),
            None => {
                isa::vec_dot_rows_tokens_prepared(self.ty, n, w_rows, a, tokens, out, ld, tables)
            }
        }
    }

    /// Dequantizes one row's bytes (`row` from [`QMatrix::data`]) into `out`.
    pub fn dequantize_bytes(&self, row: &[u8], out: &mut [f32]) {
        match self.packing() {
            Some(p) => isa::packed_dequantize_row(p, row, out),
            None => wren_kernels::dequantize_row(self.ty, row, out),
        }
    }

    /// Bytes of one row.
    pub fn row_bytes(&self) -> usize {
        self.row_bytes
    }

    /// Total bytes of the tensor.
    pub fn n_bytes(&self) -> usize {
        self.row_bytes * self.rows
    }

    /// What one more token costs in a speculative verify pass's product with this matrix,
    /// as a share of a one-token product, at this process's tier
    /// ([`wren_kernels::isa::row_cost`]).
    pub fn verify_row_cost(&self) -> f64 {
        isa::row_cost(self.ty, self.packing())
    }

    /// Dequantize row `r` into `out` (`cols` elements).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        let d = &self.data()[r * self.row_bytes..(r + 1) * self.row_bytes];
        self.dequantize_bytes(d, out);
    }
}

/// Index and ggml dims of tensor `name`.
fn find(file: &GgufFile, name: &str) -> Result<(usize, Vec<u64>)> {
    file.tensors()
        .iter()
        .enumerate()
        .find(|(_, t)| t.name == name)
        .map(|(i, t)| (i, t.dims.clone()))
        .ok_or_else(|| bad(name, "missing from the model file".into()))
}

fn bad(name: &str, msg: String) -> Error {
    Error::Tensor {
        name: name.into(),
        msg,
    }
}

/// Load a 1-D tensor (a norm weight) as f32, checking its length.
pub fn load_vector(file: &GgufFile, name: &str, len: usize) -> Result<Vec<f32>> {
    let info = file.tensor(name).ok_or_else(|| Error::Tensor {
        name: name.into(),
        msg: "missing from the model file".into(),
    })?;
    if info.n_elements() != len as u64 {
        return Err(Error::Tensor {
            name: name.into(),
            msg: format!("expected {len} elements, found shape {:?}", info.dims),
        });
    }
    let mut out = vec![0f32; len];
    wren_kernels::dequantize_row(info.ty, file.tensor_data(info), &mut out);
    Ok(out)
}
