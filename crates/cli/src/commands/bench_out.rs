//! `wren bench -o md|csv|json|jsonl`: how the result rows are written.
//!
//! `md` (default) is a markdown table whose columns are sized from every value known
//! before the run (and grow, never shrink, if a speed is wider), so rows stream as tests
//! finish and still line up; `csv` has a header and one line per test; `jsonl` one JSON
//! object per line as tests finish; `json` one JSON array of those objects at the end
//! (llama-bench's `-o json`).

use std::io::Write;

use serde_json::Value;

/// Output format of `wren bench`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Csv,
    Json,
    Jsonl,
}

/// Markdown column titles.
pub const MD_COLUMNS: [&str; 10] = [
    "model", "size", "params", "compute", "isa", "threads", "test", "t/s", "min", "median",
];

/// CSV columns: keys of each row's JSON object.
pub const CSV_COLUMNS: [&str; 19] = [
    "model",
    "model_size_bytes",
    "model_params",
    "compute",
    "isa",
    "threads",
    "test",
    "kind",
    "n_tokens",
    "n_depth",
    "n_sequences",
    "ctx",
    "kv_type",
    "reps",
    "tokens_per_s",
    "stddev",
    "min",
    "median",
    "max",
];

pub struct Table {
    fmt: Format,
    widths: [usize; 10],
    json_rows: Vec<Value>,
}

impl Table {
    /// `widest` holds, per markdown column, the widest value expected.
    pub fn new(fmt: Format, widest: [usize; 10]) -> Table {
        let mut widths = widest;
        for (w, h) in widths.iter_mut().zip(MD_COLUMNS) {
            *w = (*w).max(h.len());
        }
        Table {
            fmt,
            widths,
            json_rows: Vec::new(),
        }
    }

    pub fn header(&self, out: &mut impl Write) -> std::io::Result<()> {
        match self.fmt {
            Format::Md => {
                let titles = MD_COLUMNS.map(str::to_string);
                self.md_line(out, &titles)?;
                let rule: Vec<String> = self
                    .widths
                    .iter()
                    .enumerate()
                    .map(|(i, &w)| {
                        if i == 0 {
                            format!(":{}", "-".repeat(w - 1))
                        } else {
                            format!("{}:", "-".repeat(w - 1))
                        }
                    })
                    .collect();
                writeln!(out, "| {} |", rule.join(" | "))
            }
            Format::Csv => writeln!(out, "{}", CSV_COLUMNS.join(",")),
            Format::Json | Format::Jsonl => Ok(()),
        }
    }

    fn md_line(&self, out: &mut impl Write, cells: &[String; 10]) -> std::io::Result<()> {
        let parts: Vec<String> = cells
            .iter()
            .zip(self.widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        writeln!(out, "| {} |", parts.join(" | "))
    }

    /// One test's result: its markdown cells and its JSON object.
    pub fn row(
        &mut self,
        out: &mut impl Write,
        cells: [String; 10],
        v: Value,
    ) -> std::io::Result<()> {
        match self.fmt {
            Format::Md => {
                for (w, c) in self.widths.iter_mut().zip(&cells) {
                    *w = (*w).max(c.chars().count());
                }
                self.md_line(out, &cells)?;
            }
            Format::Csv => {
                let fields: Vec<String> = CSV_COLUMNS.iter().map(|k| csv_field(&v[*k])).collect();
                writeln!(out, "{}", fields.join(","))?;
            }
            Format::Jsonl => writeln!(out, "{v}")?,
            Format::Json => self.json_rows.push(v),
        }
        out.flush()
    }

    pub fn finish(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        if self.fmt == Format::Json {
            let all = Value::Array(std::mem::take(&mut self.json_rows));
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&all).map_err(std::io::Error::other)?
            )?;
        }
        out.flush()
    }
}

/// A JSON value as a CSV field (RFC 4180 quoting where needed).
fn csv_field(v: &Value) -> String {
    let s = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(test: &str, tps: &str) -> [String; 10] {
        [
            "m.gguf", "1 MiB", "1 M", "auto", "avx2", "2", test, tps, "1.00", "1.00",
        ]
        .map(str::to_string)
    }

    #[test]
    fn markdown_columns_line_up() {
        let mut t = Table::new(Format::Md, [6, 5, 3, 4, 4, 1, 5, 13, 4, 4]);
        let mut out = Vec::new();
        t.header(&mut out).unwrap();
        t.row(&mut out, cells("pp512", "100.00 ± 1.00"), Value::Null)
            .unwrap();
        t.row(&mut out, cells("tg128", "10.00 ± 0.10"), Value::Null)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let bars: Vec<Vec<usize>> = text
            .lines()
            .map(|l| {
                l.char_indices()
                    .filter(|(_, c)| *c == '|')
                    .map(|(i, _)| l[..i].chars().count())
                    .collect()
            })
            .collect();
        assert!(bars.windows(2).all(|w| w[0] == w[1]), "{text}");
    }

    #[test]
    fn csv_quotes_and_json_array() {
        assert_eq!(csv_field(&Value::String("a,b".into())), "\"a,b\"");
        let mut t = Table::new(Format::Json, [0; 10]);
        let mut out = Vec::new();
        t.header(&mut out).unwrap();
        t.row(
            &mut out,
            cells("pp1", "1"),
            serde_json::json!({"test": "pp1"}),
        )
        .unwrap();
        t.finish(&mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v[0]["test"], "pp1");
    }
}
