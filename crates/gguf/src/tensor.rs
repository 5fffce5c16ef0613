//! Tensor descriptors and the checks on their shape, size and placement.

use crate::{GgmlType, GgufError};

/// One tensor as described by the file's tensor-info table. Everything here has been
/// validated when the file was opened.
#[derive(Clone, Debug)]
pub struct TensorInfo {
    pub name: String,
    /// Shape in ggml order: `dims[0]` (ne[0]) is the innermost, contiguous dimension.
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    /// Offset of the tensor's data relative to the start of the data section.
    pub offset: u64,
    /// Size of the tensor's data in bytes.
    pub n_bytes: u64,
}

impl TensorInfo {
    /// Total number of elements.
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().fold(1u64, |acc, &d| acc.saturating_mul(d))
    }

    /// Number of rows: the product of `dims[1..]` (1 for a vector).
    pub fn n_rows(&self) -> u64 {
        self.dims
            .iter()
            .skip(1)
            .fold(1u64, |acc, &d| acc.saturating_mul(d))
    }

    /// Elements per row: `dims[0]`.
    pub fn row_len(&self) -> u64 {
        self.dims.first().copied().unwrap_or(1)
    }

    /// Bytes per row.
    pub fn row_bytes(&self) -> u64 {
        self.ty.row_bytes(self.row_len()).unwrap_or(0)
    }
}

/// Byte size of a tensor of shape `dims` and type `ty`, checking that the element count
/// does not overflow and that rows are whole blocks.
pub(crate) fn byte_size(name: &str, dims: &[u64], ty: GgmlType) -> Result<u64, GgufError> {
    let bad = |msg: String| GgufError::Malformed(format!("tensor {name}: {msg}"));
    let mut n_elements = 1u64;
    for &d in dims {
        n_elements = n_elements
            .checked_mul(d)
            .ok_or_else(|| bad(format!("shape {dims:?} has more than 2^64 elements")))?;
    }
    let row_len = dims[0];
    let row_bytes = ty.row_bytes(row_len).ok_or_else(|| {
        bad(format!(
            "row length {row_len} (dims[0]) is not a multiple of the {ty} block size {}",
            ty.block_size()
        ))
    })?;
    row_bytes.checked_mul(n_elements / row_len).ok_or_else(|| {
        bad(format!(
            "shape {dims:?} of type {ty} is more than 2^64 bytes"
        ))
    })
}

/// Checks that every tensor's data is aligned, lies inside the file, and that no two
/// tensors overlap.
pub(crate) fn check_layout(
    tensors: &[TensorInfo],
    data_offset: u64,
    alignment: u64,
    file_size: u64,
) -> Result<(), GgufError> {
    let bad = |msg: String| Err(GgufError::Malformed(msg));
    for t in tensors {
        if t.offset % alignment != 0 {
            return bad(format!(
                "tensor {}: data offset {} is not a multiple of the alignment {alignment}",
                t.name, t.offset
            ));
        }
        let end = data_offset
            .checked_add(t.offset)
            .and_then(|start| start.checked_add(t.n_bytes));
        match end {
            None => {
                return bad(format!(
                    "tensor {}: data offset {} + size {} overflows a 64-bit file offset",
                    t.name, t.offset, t.n_bytes
                ))
            }
            Some(end) if end > file_size => {
                return bad(format!(
                "tensor {}: data ends at byte {end}, past the end of the file ({file_size} bytes)",
                t.name
            ))
            }
            Some(_) => {}
        }
    }
    let mut order: Vec<&TensorInfo> = tensors.iter().collect();
    order.sort_by_key(|t| t.offset);
    for pair in order.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        // Cannot overflow: offset + n_bytes <= file_size was checked above.
        let a_end = a.offset + a.n_bytes;
        if a_end > b.offset {
            return bad(format!(
                "tensors {} and {} overlap: {} occupies data bytes {}..{} and {} starts at {}",
                a.name, b.name, a.name, a.offset, a_end, b.name, b.offset
            ));
        }
    }
    Ok(())
}

/// The error for a tensor type id that wren cannot read.
pub(crate) fn unsupported_type(name: &str, id: u32, at: usize) -> GgufError {
    let known = match id {
        4 => Some("Q4_2, removed from ggml"),
        5 => Some("Q4_3, removed from ggml"),
        16 => Some("IQ2_XXS"),
        17 => Some("IQ2_XS"),
        18 => Some("IQ3_XXS"),
        19 => Some("IQ1_S"),
        21 => Some("IQ3_S"),
        22 => Some("IQ2_S"),
        24 => Some("I8"),
        25 => Some("I16"),
        26 => Some("I32"),
        27 => Some("I64"),
        28 => Some("F64"),
        29 => Some("IQ1_M"),
        31..=33 | 36..=38 => Some("a removed repacked type"),
        34 => Some("TQ1_0"),
        35 => Some("TQ2_0"),
        39 => Some("MXFP4"),
        _ => None,
    };
    let supported: Vec<&str> = GgmlType::ALL.iter().map(|t| t.name()).collect();
    let supported = supported.join(", ");
    GgufError::Unsupported(match known {
        Some(k) => format!(
            "tensor {name}: tensor type {id} ({k}) at byte {at} is not supported by wren \
             (supported: {supported})"
        ),
        None => format!(
            "tensor {name}: unknown tensor type {id} at byte {at}, not supported by wren \
             (supported: {supported})"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, offset: u64, n_bytes: u64) -> TensorInfo {
        TensorInfo {
            name: name.into(),
            dims: vec![n_bytes / 4],
            ty: GgmlType::F32,
            offset,
            n_bytes,
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(byte_size("x", &[512, 3], GgmlType::Q4K).unwrap(), 3 * 288);
        assert_eq!(byte_size("x", &[640], GgmlType::F32).unwrap(), 2560);
        let e = byte_size("x", &[33], GgmlType::Q8_0)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not a multiple of the Q8_0 block size 32"),
            "{e}"
        );
        let e = byte_size("x", &[1 << 32, 1 << 32], GgmlType::F32)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 2^64 elements"), "{e}");
        let e = byte_size("x", &[1 << 32, 1 << 31], GgmlType::F32)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 2^64 bytes"), "{e}");
    }

    #[test]
    fn layout() {
        assert!(check_layout(&[t("a", 0, 32), t("b", 32, 4)], 64, 32, 100).is_ok());
        let e = check_layout(&[t("a", 0, 64), t("b", 32, 4)], 64, 32, 200).unwrap_err();
        assert!(e.to_string().contains("tensors a and b overlap"), "{e}");
        let e = check_layout(&[t("a", 0, 64)], 64, 32, 100).unwrap_err();
        assert!(
            e.to_string()
                .contains("data ends at byte 128, past the end"),
            "{e}"
        );
        let e = check_layout(&[t("a", 8, 4)], 64, 32, 100).unwrap_err();
        assert!(
            e.to_string().contains("not a multiple of the alignment 32"),
            "{e}"
        );
        let e = check_layout(&[t("a", u64::MAX - 31, 64)], 64, 32, 100).unwrap_err();
        assert!(e.to_string().contains("overflows"), "{e}");
    }
}
