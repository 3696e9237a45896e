//! Just enough of the Caddyfile lexer to find a snippet's site addresses and check that its
//! braces balance, without reformatting anything: the output is the input with `http://`
//! inserted before each address that has no scheme.
//!
//! Follows Caddy's rules: tokens are separated by whitespace; `{` and `}` open and close a block
//! only as tokens of their own (so `docs.{$FAMSTACK_DOMAIN}` is one token); `#` starts a comment
//! only at the start of a token; `"…"` (with `\` escapes), `` `…` `` and `<<MARKER` heredocs are
//! single tokens that may span lines. At the top level, the tokens before a `{` are a site's
//! addresses unless they define a snippet (`(name)`), a named route (`&(name)`) or are the
//! global options block (no tokens at all); addresses continue onto the next line after a comma.

#[derive(Debug)]
struct Token<'a> {
    text: &'a str,
    /// Byte offset where the token's content starts (after an opening quote).
    content: usize,
    line: usize,
    quoted: bool,
}

/// `Ok` when every brace closes and every quote ends.
pub fn check(source: &str) -> Result<(), String> {
    addresses(source).map(|_| ())
}

/// `source` with `http://` before every site address that has no scheme.
pub fn plain_http(source: &str) -> Result<String, String> {
    let mut offsets = Vec::new();
    for token in addresses(source)? {
        let mut at = token.content;
        for part in token.text.split(',') {
            if !part.trim().is_empty() && !part.contains("://") {
                offsets.push(at + (part.len() - part.trim_start().len()));
            }
            at += part.len() + 1;
        }
    }
    let mut out = String::with_capacity(source.len() + offsets.len() * 7);
    let mut from = 0;
    for at in offsets {
        out.push_str(&source[from..at]);
        out.push_str("http://");
        from = at;
    }
    out.push_str(&source[from..]);
    Ok(out)
}

/// The top-level site address tokens, after checking the block structure.
fn addresses(source: &str) -> Result<Vec<Token<'_>>, String> {
    let tokens = tokenize(source)?;
    let mut depth = 0usize;
    let mut opened = Vec::new();
    let mut pending: Vec<Token> = Vec::new();
    let mut found = Vec::new();
    for token in tokens {
        match (token.text, token.quoted) {
            ("{", false) => {
                if depth == 0 && is_site_head(&pending) {
                    found.append(&mut pending);
                }
                pending.clear();
                opened.push(token.line);
                depth += 1;
            }
            ("}", false) => {
                if depth == 0 {
                    return Err(format!("line {}: `}}` closes no block", token.line));
                }
                opened.pop();
                depth -= 1;
                pending.clear();
            }
            _ if depth == 0 => {
                let continues = pending
                    .last()
                    .is_some_and(|last| last.line == token.line || last.text.ends_with(','));
                if !continues {
                    pending.clear();
                }
                pending.push(token);
            }
            _ => {}
        }
    }
    if let Some(line) = opened.first() {
        return Err(format!("line {line}: `{{` is never closed"));
    }
    Ok(found)
}

fn is_site_head(tokens: &[Token]) -> bool {
    match tokens.first() {
        None => false,
        Some(first) => {
            !(first.text.starts_with('(') || first.text.starts_with("&(") || first.text == "import")
        }
    }
}

// Long by design: a single-pass lexer, one loop with a branch per token kind; splitting the loop
// would scatter the position state every branch advances.
fn tokenize(source: &str) -> Result<Vec<Token<'_>>, String> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\n' {
            line += 1;
            i += 1;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start_line = line;
        if c == b'"' || c == b'`' {
            let quote = c;
            let content = i + 1;
            i += 1;
            loop {
                match bytes.get(i) {
                    None => return Err(format!("line {start_line}: a quote is never closed")),
                    Some(b'\\') if quote == b'"' => i += 2,
                    Some(&b) if b == quote => break,
                    Some(b'\n') => {
                        line += 1;
                        i += 1;
                    }
                    Some(_) => i += 1,
                }
            }
            tokens.push(Token {
                text: &source[content..i.min(source.len())],
                content,
                line: start_line,
                quoted: true,
            });
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let text = &source[start..i];
        if let Some(marker) = text.strip_prefix("<<").filter(|m| !m.is_empty()) {
            // A heredoc runs to the line holding only its marker; braces inside are text.
            let rest = &source[i..];
            let mut consumed = 0;
            let mut closed = false;
            for (n, l) in rest.split_inclusive('\n').enumerate() {
                let indent = l.len() - l.trim_start().len();
                let after = l.trim_start().strip_prefix(marker);
                if n > 0
                    && after.is_some_and(|a| a.is_empty() || a.starts_with(char::is_whitespace))
                {
                    // The closing marker may be followed by more arguments (`HTML 200`): leave
                    // them, and the line's newline, to the main loop.
                    consumed += indent + marker.len();
                    closed = true;
                    break;
                }
                consumed += l.len();
                if l.ends_with('\n') {
                    line += 1;
                }
            }
            if !closed {
                return Err(format!(
                    "line {start_line}: heredoc `{marker}` is never closed"
                ));
            }
            i += consumed;
            tokens.push(Token {
                text,
                content: start,
                line: start_line,
                quoted: true,
            });
            continue;
        }
        tokens.push(Token {
            text,
            content: start,
            line,
            quoted: false,
        });
    }
    Ok(tokens)
}
