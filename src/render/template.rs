//! `stack`'s template language (docs/templates-and-secrets.md): `{name}` is replaced by a variable's value, `{{` and
//! `}}` are literal braces, and anything else involving a brace is an error.
//!
//! Invariants:
//! - A template that parses has only two kinds of pieces: literal text and variable references.
//!   Nothing in literal text is ever interpreted, whatever it contains (`{%`, `{#`, `$`, …).
//! - A variable's value is inserted verbatim and never expanded again, so a secret containing
//!   `{x}` stays `{x}`.
//! - An unknown variable is an error naming it (with the closest known name), never an empty string.
//!
//! Rendering goes through minijinja (the engine the project chose) with strict undefined
//! behaviour, no auto-escaping and the trailing newline kept. Our syntax is much smaller than
//! Jinja's, so we parse it ourselves and hand minijinja a translated template in which literal text
//! can never become Jinja syntax and variables are referred to by generated names (so a name such
//! as `docs-bot_url`, valid for us, is never read by Jinja as a subtraction). Why minijinja does
//! not parse `{name}` itself: docs/decisions.md, "Templates stay parsed by `stack`".

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("Unknown template variable `{name}`")]
    UnknownVariable {
        name: String,
        /// The known variable closest to `name`, for a `did you mean` hint.
        closest: Option<String>,
    },
    /// A `{` that opens nothing or a `}` that closes nothing (write `{{` / `}}` for a literal brace).
    #[error(
        "Lone `{brace}` at line {line}, column {column} (write `{brace}{brace}` for a literal brace)"
    )]
    LoneBrace {
        brace: char,
        line: usize,
        column: usize,
    },
    #[error("Empty `{{}}` at line {line}, column {column} (write `{{{{}}}}` for literal braces)")]
    EmptyName { line: usize, column: usize },
    #[error(
        "Invalid template variable name `{name}` at line {line}, column {column} (names are letters, digits, `_` and `-`, not starting with a digit or `-`)"
    )]
    InvalidName {
        name: String,
        line: usize,
        column: usize,
    },
    /// minijinja refused the translated template or failed while rendering. Parsing guarantees
    /// well-formed input, so this means a bug in the translation rather than in the user's file.
    #[error("Template engine error: {0}")]
    Engine(String),
}

impl TemplateError {
    /// The `did you mean` hint for an unknown variable, if there is a close enough name.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::UnknownVariable {
                closest: Some(c), ..
            } => Some(format!("did you mean `{c}`?")),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var(String),
}

/// A parsed template. Parsing checks the syntax; rendering checks the variables.
#[derive(Clone, Debug)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = src.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().is_some_and(|&(_, n)| n == '{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek().is_some_and(|&(_, n)| n == '}') => {
                    chars.next();
                    text.push('}');
                }
                '}' => return Err(lone('}', src, at)),
                '{' => {
                    let rest = &src[at + 1..];
                    // The reference must close before any other brace or line break: `{a{b}` and
                    // an unclosed `{` at the end of a line are both a lone `{`.
                    let Some(end) = rest.find(['}', '{', '\n']) else {
                        return Err(lone('{', src, at));
                    };
                    if rest.as_bytes()[end] != b'}' {
                        return Err(lone('{', src, at));
                    }
                    let name = &rest[..end];
                    let (line, column) = position(src, at);
                    if name.is_empty() {
                        return Err(TemplateError::EmptyName { line, column });
                    }
                    if !is_valid_name(name) {
                        return Err(TemplateError::InvalidName {
                            name: name.to_owned(),
                            line,
                            column,
                        });
                    }
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Var(name.to_owned()));
                    // Skip the name and the closing brace (all ASCII, one char per byte).
                    for _ in 0..=end {
                        chars.next();
                    }
                }
                _ => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template { pieces })
    }

    /// Every variable the template refers to, in order of appearance (repeats included).
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var(name) => Some(name.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// The literal text before the first variable (all of it when there is none).
    pub fn literal_prefix(&self) -> &str {
        match self.pieces.first() {
            Some(Piece::Text(text)) => text,
            _ => "",
        }
    }

    pub fn render(&self, vars: &BTreeMap<String, String>) -> Result<String, TemplateError> {
        // Check every name ourselves first: it gives a precise error with a hint, where
        // minijinja's strict mode (still on below, as a backstop) would only say "undefined".
        if let Some(name) = self.variables().find(|name| !vars.contains_key(*name)) {
            let closest = crate::error::closest(name, vars.keys().map(String::as_str));
            return Err(TemplateError::UnknownVariable {
                name: name.to_owned(),
                closest: closest.map(str::to_owned),
            });
        }

        // Translate: literal text is emitted as template data, except `{` (the only character
        // that can start Jinja syntax with our delimiters), which goes through a `raw` block.
        // Variables become `{v<N>}` with a context entry `v<N>` holding the value.
        let mut source = String::new();
        let mut context = BTreeMap::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => {
                    for (i, part) in text.split('{').enumerate() {
                        if i > 0 {
                            source.push_str("{% raw %}{{% endraw %}");
                        }
                        source.push_str(part);
                    }
                }
                Piece::Var(name) => {
                    let slot = format!("v{}", context.len());
                    let _ = write!(source, "{{{slot}}}");
                    context.insert(slot, Value::from(vars[name].as_str()));
                }
            }
        }
        engine()
            .render_str(&source, Value::from(context))
            .map_err(|e| TemplateError::Engine(e.to_string()))
    }
}

/// Parse and render in one go.
pub fn render(src: &str, vars: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    Template::parse(src)?.render(vars)
}

/// `[A-Za-z_][A-Za-z0-9_-]*`. The `-` (not first) is allowed because stacklet ids may contain it
/// and variables are named after ids (`{<id>_url}`, `{<id>__<NAME>}`).
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The one minijinja environment, built on first use: our delimiters, strict undefined, no escaping.
fn engine() -> &'static Environment<'static> {
    static ENGINE: OnceLock<Environment<'static>> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let syntax = SyntaxConfig::builder()
            .variable_delimiters("{", "}")
            .block_delimiters("{%", "%}")
            .comment_delimiters("{#", "#}")
            // The default drops one trailing newline, which would change multi-line values.
            .keep_trailing_newline(true)
            .build()
            .expect("fixed, distinct delimiters are a valid syntax");
        let mut env = Environment::new();
        env.set_syntax(syntax);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // `.env` files, URLs and hints are not HTML.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env
    })
}

fn lone(brace: char, src: &str, at: usize) -> TemplateError {
    let (line, column) = position(src, at);
    TemplateError::LoneBrace {
        brace,
        line,
        column,
    }
}

/// 1-based line and column (in characters) of byte offset `at`.
fn position(src: &str, at: usize) -> (usize, usize) {
    let before = &src[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn ok(src: &str, pairs: &[(&str, &str)]) -> String {
        render(src, &vars(pairs)).unwrap_or_else(|e| panic!("{src:?}: {e}"))
    }

    #[test]
    fn replaces_variables() {
        assert_eq!(
            ok("{data_dir}/photos/library", &[("data_dir", "/srv/data")]),
            "/srv/data/photos/library"
        );
        assert_eq!(ok("plain text", &[]), "plain text");
        assert_eq!(ok("", &[]), "");
        assert_eq!(
            ok(
                "{photos__DB_PASSWORD}",
                &[("photos__DB_PASSWORD", "s3cret")]
            ),
            "s3cret"
        );
        assert_eq!(
            ok("{docs-bot_url}", &[("docs-bot_url", "http://x")]),
            "http://x"
        );
    }

    #[test]
    fn adjacent_and_repeated_variables() {
        let v = [("a", "1"), ("b", "2")];
        assert_eq!(ok("{a}{b}{a}", &v), "121");
        assert_eq!(ok("{a}-{b}", &v), "1-2");
    }

    #[test]
    fn double_braces_are_literal() {
        assert_eq!(ok("{{}}", &[]), "{}");
        assert_eq!(ok("{{a}}", &[("a", "x")]), "{a}");
        assert_eq!(ok("{{{a}}}", &[("a", "x")]), "{x}");
        assert_eq!(ok("json={{\"k\": 1}}", &[]), "json={\"k\": 1}");
        assert_eq!(ok("${{HOME}}", &[]), "${HOME}");
        assert_eq!(ok("{{{{", &[]), "{{");
        // The example in docs/templates-and-secrets.md.
        assert_eq!(
            ok("{{\"lang\": \"{language}\"}}", &[("language", "en")]),
            "{\"lang\": \"en\"}"
        );
    }

    #[test]
    fn jinja_syntax_in_literal_text_stays_literal() {
        assert_eq!(ok("{{% if x %}}", &[]), "{% if x %}");
        assert_eq!(ok("{{# c #}}", &[]), "{# c #}");
        assert_eq!(ok("{{{{ x }}}}", &[]), "{{ x }}");
        assert_eq!(ok("{{% endraw %}}{a}", &[("a", "1")]), "{% endraw %}1");
        assert_eq!(ok("%}} #}} }}}} -}}", &[]), "%} #} }} -}");
        assert_eq!(ok("{{-a-}}", &[]), "{-a-}");
    }

    #[test]
    fn unicode_and_whitespace_are_kept() {
        assert_eq!(
            ok("Grüße {name} 😀\n", &[("name", "Zoë")]),
            "Grüße Zoë 😀\n"
        );
        assert_eq!(ok("a\n\n", &[]), "a\n\n");
        assert_eq!(ok("  {a}  \n", &[("a", " x ")]), "   x   \n");
    }

    #[test]
    fn values_are_not_expanded_again() {
        let v = [("a", "{b} {{ {% x %} {# y #} ${c}"), ("b", "no")];
        assert_eq!(ok("{a}", &v), "{b} {{ {% x %} {# y #} ${c}");
        assert_eq!(ok("<{a}>", &[("a", "<&>\"'")]), "<<&>\"'>");
    }

    #[test]
    fn unknown_variable_names_the_closest() {
        let err = render("{dta_dir}/x", &vars(&[("data_dir", "/d"), ("domain", "")])).unwrap_err();
        assert_eq!(
            err,
            TemplateError::UnknownVariable {
                name: "dta_dir".into(),
                closest: Some("data_dir".into())
            }
        );
        assert_eq!(err.to_string(), "Unknown template variable `dta_dir`");
        assert_eq!(err.hint().as_deref(), Some("did you mean `data_dir`?"));
        let err = render("{zzzzzzzz}", &vars(&[("data_dir", "/d")])).unwrap_err();
        assert_eq!(err.hint(), None);
    }

    fn parse_err(src: &str) -> TemplateError {
        match Template::parse(src) {
            Ok(t) => panic!("{src:?} parsed as {t:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn lone_braces_everywhere_are_errors() {
        let lone = |brace, line, column| TemplateError::LoneBrace {
            brace,
            line,
            column,
        };
        assert_eq!(parse_err("{"), lone('{', 1, 1));
        assert_eq!(parse_err("}"), lone('}', 1, 1));
        assert_eq!(parse_err("abc{"), lone('{', 1, 4));
        assert_eq!(parse_err("abc}"), lone('}', 1, 4));
        assert_eq!(parse_err("{abc"), lone('{', 1, 1));
        assert_eq!(parse_err("abc}def"), lone('}', 1, 4));
        assert_eq!(parse_err("{a}}"), lone('}', 1, 4));
        assert_eq!(parse_err("{a{b}"), lone('{', 1, 1));
        assert_eq!(parse_err("{a\n}"), lone('{', 1, 1));
        assert_eq!(parse_err("ok\nü {x"), lone('{', 2, 3));
        assert_eq!(parse_err("{{{"), lone('{', 1, 3));
        assert_eq!(parse_err("}}}"), lone('}', 1, 3));
        assert_eq!(parse_err("${HOME"), lone('{', 1, 2));
    }

    #[test]
    fn empty_and_invalid_names_are_errors() {
        assert_eq!(
            parse_err("a{}b"),
            TemplateError::EmptyName { line: 1, column: 2 }
        );
        for (src, name) in [
            ("{ bad name }", " bad name "),
            ("{ data_dir }", " data_dir "),
            ("{1abc}", "1abc"),
            ("{-x}", "-x"),
            ("{a.b}", "a.b"),
            ("{a|upper}", "a|upper"),
            ("{%x%}", "%x%"),
            ("{#c#}", "#c#"),
            ("{\"k\": 1}", "\"k\": 1"),
            ("{ü}", "ü"),
        ] {
            assert_eq!(
                parse_err(src),
                TemplateError::InvalidName {
                    name: name.into(),
                    line: 1,
                    column: 1
                },
                "{src:?}"
            );
        }
    }

    #[test]
    fn variables_lists_references_in_order() {
        let t = Template::parse("{b}{{a}}{a}{b}").unwrap();
        assert_eq!(t.variables().collect::<Vec<_>>(), ["b", "a", "b"]);
    }
}
