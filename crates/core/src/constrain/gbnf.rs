//! GBNF (llama.cpp's grammar format) → llguidance's Lark syntax.
//!
//! GBNF: rules `name ::= body` (the root rule is `root`); a body has string literals
//! `"..."`, character classes `[...]` / `[^...]`, `.` (any character), rule names,
//! groups `( )`, alternation `|`, repetition `*` `+` `?` `{m}` `{m,}` `{m,n}`, and `#`
//! comments. A rule runs until the next `name ::=`. The translation keeps the structure:
//! rule `name` becomes `g_name` (lower-cased, `-` → `_`), literals and classes become
//! regex terminals `/.../`, the rest is copied, and `start: g_root` is added.

/// Translates a GBNF grammar; errors name the line.
pub fn to_lark(src: &str) -> Result<String, String> {
    let toks = lex(src)?;
    let mut rules: Vec<(String, Vec<String>)> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match (&toks[i], toks.get(i + 1)) {
            ((Tok::Name(n), _), Some((Tok::Def, _))) => {
                rules.push((rule_name(n), Vec::new()));
                i += 2;
            }
            ((t, line), _) => {
                let Some((_, body)) = rules.last_mut() else {
                    return Err(format!("line {line}: expected `name ::=` to start a rule"));
                };
                body.push(match t {
                    Tok::Name(n) => rule_name(n),
                    Tok::Def => return Err(format!("line {line}: `::=` without a rule name")),
                    Tok::Other(s) => s.clone(),
                });
                i += 1;
            }
        }
    }
    if !rules.iter().any(|(n, _)| n == "g_root") {
        return Err("the grammar has no `root` rule".into());
    }
    let mut out = String::from("start: g_root\n");
    for (name, body) in &rules {
        if body.is_empty() {
            return Err(format!("rule {name} is empty"));
        }
        out.push_str(&format!("{name}: {}\n", body.join(" ")));
    }
    Ok(out)
}

fn rule_name(n: &str) -> String {
    let mut s = String::from("g_");
    for c in n.chars() {
        match c {
            'A'..='Z' => {
                s.push('_');
                s.push(c.to_ascii_lowercase());
            }
            '-' => s.push('_'),
            c => s.push(c),
        }
    }
    s
}

enum Tok {
    Name(String),
    Def,
    /// Already in Lark form: a terminal, an operator, a repetition.
    Other(String),
}

/// A regex for the literal characters `s`, as a Lark `/.../` terminal.
fn literal(s: &str) -> String {
    let mut r = String::from("/");
    for c in s.chars() {
        match c {
            '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$'
            | '/' => {
                r.push('\\');
                r.push(c);
            }
            '\n' => r.push_str("\\n"),
            '\r' => r.push_str("\\r"),
            '\t' => r.push_str("\\t"),
            c => r.push(c),
        }
    }
    r.push('/');
    r
}

/// Reads one escape after `\` in a literal or class; returns the character.
fn escape(chars: &mut std::iter::Peekable<std::str::Chars>, line: usize) -> Result<char, String> {
    let hex = |chars: &mut std::iter::Peekable<std::str::Chars>, n: usize| {
        let h: String = (0..n).filter_map(|_| chars.next()).collect();
        u32::from_str_radix(&h, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| format!("line {line}: bad escape \\x/\\u {h:?}"))
    };
    match chars.next() {
        Some('n') => Ok('\n'),
        Some('r') => Ok('\r'),
        Some('t') => Ok('\t'),
        Some('x') => hex(chars, 2),
        Some('u') => hex(chars, 4),
        Some('U') => hex(chars, 8),
        Some(c) => Ok(c),
        None => Err(format!("line {line}: unfinished escape")),
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, String> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            ':' if chars.peek() == Some(&':') => {
                chars.next();
                if chars.next() != Some('=') {
                    return Err(format!("line {line}: expected `::=`"));
                }
                out.push((Tok::Def, line));
            }
            '"' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => s.push(escape(&mut chars, line)?),
                        Some('\n') | None => {
                            return Err(format!("line {line}: unterminated string"))
                        }
                        Some(c) => s.push(c),
                    }
                }
                if s.is_empty() {
                    // An empty literal matches nothing: an empty group does the same.
                    out.push((Tok::Other("\"\"".into()), line));
                } else {
                    out.push((Tok::Other(literal(&s)), line));
                }
            }
            '[' => {
                let mut r = String::from("/[");
                if chars.peek() == Some(&'^') {
                    chars.next();
                    r.push('^');
                }
                loop {
                    match chars.next() {
                        Some(']') => break,
                        Some('\\') => {
                            let e = escape(&mut chars, line)?;
                            r.push_str(&class_char(e));
                        }
                        Some('\n') | None => {
                            return Err(format!("line {line}: unterminated character class"))
                        }
                        Some('-') => r.push('-'),
                        Some(c) => r.push_str(&class_char(c)),
                    }
                }
                r.push_str("]/");
                out.push((Tok::Other(r), line));
            }
            '.' => out.push((Tok::Other("/(?s:.)/".into()), line)),
            '(' | ')' | '|' | '*' | '+' | '?' => out.push((Tok::Other(c.to_string()), line)),
            '{' => {
                let mut s = String::from("{");
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) if c.is_ascii_digit() || c == ',' || c == ' ' => {
                            if c != ' ' {
                                s.push(c)
                            }
                        }
                        _ => return Err(format!("line {line}: bad repetition {{m,n}}")),
                    }
                }
                s.push('}');
                out.push((Tok::Other(s), line));
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => {
                let mut n = String::from(c);
                while chars
                    .peek()
                    .is_some_and(|&c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    n.extend(chars.next());
                }
                out.push((Tok::Name(n), line));
            }
            c => return Err(format!("line {line}: unexpected {c:?}")),
        }
    }
    Ok(out)
}

/// A character inside a regex class.
fn class_char(c: char) -> String {
    match c {
        '\\' | ']' | '[' | '^' | '-' | '/' => format!("\\{c}"),
        '\n' => "\\n".into(),
        '\r' => "\\r".into(),
        '\t' => "\\t".into(),
        c => c.to_string(),
    }
}
