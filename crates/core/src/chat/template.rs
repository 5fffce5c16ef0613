//! The minijinja environment that mimics Hugging Face's chat-template
//! rendering, and the splitting of a rendered prompt into segments.

use super::{ChatError, Segment};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind};

/// Prefix that marks errors produced by `raise_exception` (stripped again
/// when mapping to [`ChatError::Raised`]).
const RAISE_MARK: &str = "\u{E000}raise_exception\u{E001}";

/// Instructions one render may execute: real templates need a few hundred per
/// message (Gemma 3's, 5,000 messages: well under 10^7), while nested loops can
/// ask for 10^15. At roughly 10^7–10^8 instructions a second this bounds a render
/// to about a second.
pub const FUEL: u64 = 20_000_000;

/// An environment configured like `transformers`' chat-template renderer:
/// `trim_blocks` and `lstrip_blocks` on, loop controls, Python string/dict
/// methods (`.strip()`, `.startswith()`, `.items()` … via
/// `minijinja-contrib`'s pycompat), `raise_exception(msg)`,
/// `strftime_now(fmt)` (UTC) and a `tojson` that formats like Python's
/// `json.dumps` (`", "`/`": "` separators, optional `indent`, no HTML
/// escaping).
///
/// Rendering runs on a budget of [`FUEL`] instructions, so that a hostile template
/// (a model file's, or one passed by a client) fails instead of looping for hours.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", raise_exception);
    env.add_function("strftime_now", strftime_now);
    env.add_filter("tojson", tojson);
    env
}

fn raise_exception(msg: String) -> Result<Value, Error> {
    Err(Error::new(
        ErrorKind::InvalidOperation,
        format!("{RAISE_MARK}{msg}"),
    ))
}

/// Maps a render error: `raise_exception` → [`ChatError::Raised`] with the
/// template's message, anything else → [`ChatError::Render`].
pub fn map_render_error(err: Error) -> ChatError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(e) = cur {
        if let Some(me) = e.downcast_ref::<Error>() {
            if let Some(msg) = me.detail().and_then(|d| d.strip_prefix(RAISE_MARK)) {
                return ChatError::Raised(msg.to_string());
            }
        }
        cur = e.source();
    }
    ChatError::Render(format!("{err:#}"))
}

/// `json.dumps` separators without `indent`: `", "` and `": "`.
struct PyCompact;

impl serde_json::ser::Formatter for PyCompact {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

/// `tojson(indent=None)` like transformers' (Python `json.dumps`, raw UTF-8).
fn tojson(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let _: Option<Value> = kwargs.get("ensure_ascii")?; // accepted, always raw UTF-8
    kwargs.assert_all_used()?;
    let mut out = Vec::new();
    let res = match indent {
        Some(n) => {
            let spaces = vec![b' '; n];
            let fmt = serde_json::ser::PrettyFormatter::with_indent(&spaces);
            serde::Serialize::serialize(
                &value,
                &mut serde_json::Serializer::with_formatter(&mut out, fmt),
            )
        }
        None => serde::Serialize::serialize(
            &value,
            &mut serde_json::Serializer::with_formatter(&mut out, PyCompact),
        ),
    };
    res.map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
    let s = String::from_utf8(out)
        .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
    Ok(Value::from_safe_string(s))
}

/// `strftime_now(fmt)`: the current UTC time formatted with the common
/// C `strftime` directives (`%Y %y %m %d %e %H %I %M %S %p %b %B %a %A %j
/// %%`); unknown directives are copied literally.
fn strftime_now(fmt: String) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    strftime(&fmt, secs)
}

/// Formats a Unix time (seconds, UTC); see [`strftime_now`].
pub fn strftime(fmt: &str, unix_secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    let days = unix_secs.div_euclid(86_400);
    let sod = unix_secs.rem_euclid(86_400);
    let (h, mi, s) = (sod / 3600, sod % 3600 / 60, sod % 60);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy_mar = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy_mar + 2) / 153;
    let d = doy_mar - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = cum[(m - 1) as usize] + d + i64::from(leap && m > 2);
    let wday = (days + 4).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    let month = MONTHS[(m - 1) as usize];
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let piece = match chars.next() {
            Some('Y') => y.to_string(),
            Some('y') => format!("{:02}", y.rem_euclid(100)),
            Some('m') => format!("{m:02}"),
            Some('d') => format!("{d:02}"),
            Some('e') => format!("{d:2}"),
            Some('H') => format!("{h:02}"),
            Some('I') => format!("{:02}", (h + 11) % 12 + 1),
            Some('M') => format!("{mi:02}"),
            Some('S') => format!("{s:02}"),
            Some('p') => (if h < 12 { "AM" } else { "PM" }).to_string(),
            Some('b') => month[..3].to_string(),
            Some('B') => month.to_string(),
            Some('a') => DAYS[wday][..3].to_string(),
            Some('A') => DAYS[wday].to_string(),
            Some('j') => format!("{yday:03}"),
            Some('%') => "%".to_string(),
            Some(other) => format!("%{other}"),
            None => "%".to_string(),
        };
        out.push_str(&piece);
    }
    out
}

/// The placeholder that stands for message `i`'s content.
pub fn placeholder(i: usize) -> String {
    format!("\u{E000}wren-msg-{i}\u{E001}")
}

/// A piece of a placeholder rendering: template text or message `i`.
#[derive(Debug, PartialEq)]
pub enum Piece {
    Text(String),
    Msg(usize),
}

/// Splits a placeholder rendering into pieces. `None` if a marker character
/// is left over outside a well-formed placeholder for one of `n` messages
/// (the template altered a placeholder, e.g. `content | upper`).
pub fn split_placeholders(rendered: &str, n: usize) -> Option<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut rest = rendered;
    while let Some(start) = rest.find('\u{E000}') {
        let after = &rest[start + '\u{E000}'.len_utf8()..];
        let body = after.strip_prefix("wren-msg-")?;
        let end = body.find('\u{E001}')?;
        let i: usize = body[..end].parse().ok()?;
        if i >= n || body[..end] != i.to_string() {
            return None;
        }
        if start > 0 {
            pieces.push(Piece::Text(rest[..start].to_string()));
        }
        pieces.push(Piece::Msg(i));
        rest = &body[end + '\u{E001}'.len_utf8()..];
    }
    if rest.contains('\u{E001}') {
        return None;
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Some(pieces)
}

/// Rebuilds `real` (the rendering with real contents) from the placeholder
/// pieces, choosing for each content the transform the template applied
/// among identity, `trim`, `trim_start` and `trim_end`. Greedy with a
/// one-piece lookahead; `None` if `real` cannot be rebuilt this way.
pub fn align(real: &str, pieces: &[Piece], contents: &[&str]) -> Option<Vec<Segment>> {
    let mut segs = Vec::with_capacity(pieces.len());
    let mut pos = 0;
    for (j, piece) in pieces.iter().enumerate() {
        let rest = &real[pos..];
        match piece {
            Piece::Text(t) => {
                if !rest.starts_with(t.as_str()) {
                    return None;
                }
                segs.push(Segment::Template(t.clone()));
                pos += t.len();
            }
            Piece::Msg(i) => {
                let c = contents[*i];
                let options = [c, c.trim(), c.trim_start(), c.trim_end()];
                let fits = |cand: &&&str| {
                    rest.starts_with(**cand)
                        && match pieces.get(j + 1) {
                            Some(Piece::Text(next)) => {
                                rest[cand.len()..].starts_with(next.as_str())
                            }
                            Some(Piece::Msg(_)) => true,
                            None => rest.len() == cand.len(),
                        }
                };
                let chosen = options.iter().find(fits)?;
                segs.push(Segment::Content(chosen.to_string()));
                pos += chosen.len();
            }
        }
    }
    (pos == real.len()).then_some(segs)
}

/// Builds segments by plain substitution of the contents for the
/// placeholders (used when [`align`] fails).
pub fn substitute(pieces: &[Piece], contents: &[&str]) -> Vec<Segment> {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => Segment::Template(t.clone()),
            Piece::Msg(i) => Segment::Content(contents[*i].to_string()),
        })
        .collect()
}

/// Drops empty segments and merges adjacent template segments.
pub fn normalize(segs: Vec<Segment>) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::with_capacity(segs.len());
    for s in segs {
        match (out.last_mut(), s) {
            (_, Segment::Template(t)) | (_, Segment::Content(t)) if t.is_empty() => {}
            (Some(Segment::Template(prev)), Segment::Template(t)) => prev.push_str(&t),
            (_, s) => out.push(s),
        }
    }
    out
}
