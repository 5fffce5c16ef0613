//! `wren info [MODEL]`: metadata and a tensor table (also `wren show --verbose`).

use anyhow::Result;
use wren_gguf::{GgufFile, Value};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// GGUF file or catalogue name (default: gemma3-270m); never downloads.
    pub model: Option<std::path::PathBuf>,
    /// Print arrays in full instead of their first elements.
    #[arg(long)]
    pub full: bool,
}

fn show(v: &Value, full: bool) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => {
            let shown = if full {
                items.len()
            } else {
                items.len().min(8)
            };
            let parts: Vec<String> = items[..shown].iter().map(|x| show(x, full)).collect();
            let more = if shown < items.len() {
                format!(", … ({} items)", items.len())
            } else {
                String::new()
            };
            format!("[{}{more}]", parts.join(", "))
        }
        Value::U8(x) => x.to_string(),
        Value::I8(x) => x.to_string(),
        Value::U16(x) => x.to_string(),
        Value::I16(x) => x.to_string(),
        Value::U32(x) => x.to_string(),
        Value::I32(x) => x.to_string(),
        Value::U64(x) => x.to_string(),
        Value::I64(x) => x.to_string(),
        Value::F32(x) => x.to_string(),
        Value::F64(x) => x.to_string(),
        Value::Bool(x) => x.to_string(),
    }
}

pub fn main(a: Args) -> Result<()> {
    let path = crate::resolve::locate(a.model.as_deref(), &wren_core::paths::DEFAULT_MODEL)?.path;
    let f = GgufFile::open(&path)?;
    println!("file: {}", path.display());
    print_details(&f, a.full);
    Ok(())
}

/// The header, every metadata key and the tensor table.
pub fn print_details(f: &GgufFile, full: bool) {
    println!(
        "GGUF version {}, {} bytes, alignment {}, data at byte {}",
        f.version(),
        f.file_size(),
        f.alignment(),
        f.data_offset()
    );
    println!("\nmetadata ({} keys):", f.metadata().len());
    for (k, v) in f.metadata() {
        println!("  {k:<42} {:<8} {}", v.type_name(), show(v, full));
    }
    println!("\ntensors ({}):", f.tensors().len());
    println!(
        "  {:<36} {:<6} {:<20} {:>12} {:>12}",
        "name", "type", "shape", "elements", "bytes"
    );
    let mut total = 0u64;
    let mut by_type: std::collections::BTreeMap<&str, (usize, u64)> = Default::default();
    for t in f.tensors() {
        total += t.n_bytes;
        let e = by_type.entry(t.ty.name()).or_default();
        e.0 += 1;
        e.1 += t.n_bytes;
        println!(
            "  {:<36} {:<6} {:<20} {:>12} {:>12}",
            t.name,
            t.ty.name(),
            format!("{:?}", t.dims),
            t.n_elements(),
            t.n_bytes
        );
    }
    println!("\ntensor data: {total} bytes");
    for (ty, (n, b)) in by_type {
        println!("  {ty:<6} {n:>4} tensors {b:>12} bytes");
    }
}
