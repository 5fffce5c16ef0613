//! Weight matrices viewed straight from the memory-mapped GGUF, in their stored format.

use std::sync::Arc;

use wren_gguf::{GgmlType, GgufFile};

use crate::error::{Error, Result};

/// A 2-D weight `[rows, cols]` (ggml dims `[cols, rows]`): row `r` is `cols` contiguous
/// elements of `ty`. No copy is made: the bytes stay in the mapped file.
#[derive(Clone)]
pub struct QMatrix {
    pub name: String,
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    row_bytes: usize,
    index: usize,
    file: Arc<GgufFile>,
}

impl QMatrix {
    /// Look up tensor `name`, checking it is 2-D with the expected shape (`None` = any).
    pub fn load(
        file: &Arc<GgufFile>,
        name: &str,
        cols: Option<usize>,
        rows: Option<usize>,
    ) -> Result<QMatrix> {
        let (index, info) = file
            .tensors()
            .iter()
            .enumerate()
            .find(|(_, t)| t.name == name)
            .ok_or_else(|| Error::Tensor {
                name: name.into(),
                msg: "missing from the model file".into(),
            })?;
        let dims: Vec<u64> = info.dims.clone();
        let bad = |msg: String| Error::Tensor {
            name: name.into(),
            msg,
        };
        if dims.len() > 2 && dims[2..].iter().any(|&d| d != 1) {
            return Err(bad(format!("expected a matrix, found shape {dims:?}")));
        }
        let c = dims[0] as usize;
        let r = dims.get(1).copied().unwrap_or(1) as usize;
        if cols.is_some_and(|want| want != c) || rows.is_some_and(|want| want != r) {
            return Err(bad(format!(
                "shape {dims:?} does not match the expected [{}, {}]",
                cols.map_or("?".into(), |v| v.to_string()),
                rows.map_or("?".into(), |v| v.to_string())
            )));
        }
        if !wren_kernels::is_weight_type(info.ty) {
            return Err(bad(format!(
                "tensor type {} cannot be used as a weight matrix",
                info.ty
            )));
        }
        let row_bytes = info
            .ty
            .row_bytes(c as u64)
            .ok_or_else(|| bad("row is not a whole number of blocks".into()))?
            as usize;
        Ok(QMatrix {
            name: name.into(),
            ty: info.ty,
            rows: r,
            cols: c,
            row_bytes,
            index,
            file: file.clone(),
        })
    }

    /// All rows' bytes.
    pub fn data(&self) -> &[u8] {
        self.file.tensor_data(&self.file.tensors()[self.index])
    }

    /// Bytes of one row.
    pub fn row_bytes(&self) -> usize {
        self.row_bytes
    }

    /// Total bytes of the tensor.
    pub fn n_bytes(&self) -> usize {
        self.row_bytes * self.rows
    }

    /// Dequantize row `r` into `out` (`cols` elements).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        let d = &self.data()[r * self.row_bytes..(r + 1) * self.row_bytes];
        wren_kernels::dequantize_row(self.ty, d, out);
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
