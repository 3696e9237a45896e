//! Just enough of the Caddyfile lexer to find a snippet's site addresses and check that its
//! braces balance, without reformatting anything: the output is the input with `http://`
//! inserted before each address that has no scheme.
//!
//! Follows Caddy's rules: tokens are separated by whitespace; `{` and `}` open and close a block
//! only as tokens of their own (so `docs.{$FAMSTACK_DOMAIN}` is one token); `#` starts a comment
//! only at the start of a token; `"…"` (with `\` escapes), `` `…` `` and `<<MARKER` heredocs are
//! single tokens that may span lines (heredocs as Caddy 2.7 and later read them, `angle_token`).
//! At the top level, the tokens before a `{` are a site's addresses unless they define a snippet
//! (`(name)`), a named route (`&(name)`) or are the global options block (no tokens at all);
//! addresses continue onto the next line after a comma.

#[derive(Debug)]
struct Token<'a> {
    text: &'a str,
    /// Byte offset where the token's content starts (after an opening quote).
    content: usize,
    line: usize,
    /// The line the token ends on (a quoted token or heredoc may span lines).
    end_line: usize,
    /// A `\` at the end of the previous line joined this token's line to it.
    joined: bool,
    quoted: bool,
}

/// `Ok` when every brace closes and every quote ends.
pub fn check(source: &str) -> Result<(), String> {
    addresses(source).map(|_| ())
}

/// `source` with `http://` before every site address that has no scheme. A site address starting
/// with `<<` is refused: put after `http://`, it would no longer be read as it was (a heredoc
/// would become a plain word and its body loose tokens).
pub fn plain_http(source: &str) -> Result<String, String> {
    let mut offsets = Vec::new();
    for token in addresses(source)? {
        if token.text.starts_with("<<") {
            return Err(format!(
                "line {}: the site address `{}` starts with `<<`, so `http://` (for `[core].https = false`) cannot be put before it; write the address as a host name",
                token.line,
                token.text.trim_end()
            ));
        }
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
                let continues = pending.last().is_some_and(|last| {
                    last.end_line == token.line || token.joined || last.text.ends_with(',')
                });
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
    // A `\` ended the previous line, so the next token continues it (Caddy's escaped newline).
    let mut joined = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\n' {
            line += 1;
            i += 1;
            joined = false;
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
                    Some(b'\\') if quote == b'"' => {
                        if bytes.get(i + 1) == Some(&b'\n') {
                            line += 1;
                        }
                        i += 2;
                    }
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
                end_line: line,
                joined: std::mem::take(&mut joined),
                quoted: true,
            });
            i += 1;
            continue;
        }
        let start = i;
        if source[start..].starts_with("<<") {
            let (mut token, next) = angle_token(source, start, &mut line)?;
            token.joined = std::mem::take(&mut joined);
            tokens.push(token);
            i = next;
            continue;
        }
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut text = &source[start..i];
        let token_joined = std::mem::take(&mut joined);
        // An odd number of `\` right before the newline escapes it: the word ends before the `\`
        // and the next line continues this one.
        let escapes = text.len() - text.trim_end_matches('\\').len();
        let newline = source[i..].trim_start_matches('\r').starts_with('\n');
        if escapes % 2 == 1 && newline {
            text = &text[..text.len() - 1];
            i += source[i..].find('\n').map_or(0, |n| n + 1);
            line += 1;
            joined = true;
            if text.is_empty() {
                continue;
            }
        }
        tokens.push(Token {
            text,
            content: start,
            line: start_line,
            end_line: start_line,
            joined: token_joined,
            quoted: false,
        });
    }
    Ok(tokens)
}

/// A token starting with `<<`, read as Caddy (2.7 and later) reads it. Its text runs to the next
/// space or newline (a tab does not end it). Followed by a space or the end of the input it is a
/// plain word; followed by a newline it opens a heredoc, whose marker (the text after `<<`,
/// carriage returns dropped) must be letters, digits, `-` and `_`. The heredoc ends at the first
/// occurrence of its marker, wherever that is, and what precedes the marker on that line is the
/// indentation every non-empty line of the body must start with. Returns the token and the byte
/// offset after it; `line` advances past the body.
fn angle_token<'a>(
    source: &'a str,
    start: usize,
    line: &mut usize,
) -> Result<(Token<'a>, usize), String> {
    let start_line = *line;
    let end = source[start..]
        .find([' ', '\n'])
        .map_or(source.len(), |n| start + n);
    let word = Token {
        text: &source[start..end],
        content: start,
        line: start_line,
        end_line: start_line,
        joined: false,
        quoted: false,
    };
    if !source[end..].starts_with('\n') {
        return Ok((word, end));
    }
    let marker: String = word.text[2..].chars().filter(|&c| c != '\r').collect();
    if marker.is_empty() {
        return Err(format!(
            "line {start_line}: `<<` ends the line, which starts a heredoc, but names no marker (write `<<END`)"
        ));
    }
    if marker.starts_with('<') {
        return Err(format!(
            "line {start_line}: too many `<` for a heredoc (write two, as in `<<END`)"
        ));
    }
    if !marker
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "line {start_line}: heredoc marker `{marker}` may hold only letters, digits, `-` and `_`"
        ));
    }
    let body_start = end + 1;
    let Some(len) = source[body_start..].find(marker.as_str()) else {
        return Err(format!(
            "line {start_line}: heredoc `{marker}` is never closed"
        ));
    };
    let body = &source[body_start..body_start + len];
    if let Some(last) = body.rfind('\n') {
        let indent = &body[last + 1..];
        for (n, text) in body[..last].split('\n').enumerate() {
            if !text.is_empty() && text != "\r" && !text.starts_with(indent) {
                return Err(format!(
                    "line {}: this line of heredoc `{marker}` does not start with {indent:?}, the indentation of its closing marker",
                    start_line + 1 + n
                ));
            }
        }
    }
    let next = body_start + len + marker.len();
    *line += source[start..next].matches('\n').count();
    Ok((
        Token {
            end_line: *line,
            quoted: true,
            ..word
        },
        next,
    ))
}
