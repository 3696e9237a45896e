//! Reading a compose file into a generic, line-annotated YAML tree (`Node`) with Docker Compose
//! interpolation applied by serde-saphyr.
//!
//! Why a generic tree rather than typed structs: compose accepts several shapes per key (string or
//! list, short or long form), coerces interpolated strings to numbers and booleans, and `stack` must
//! name every unsupported key with its service, file and line. Decoding a tree by hand gives exact
//! messages where serde's untagged enums would only say "did not match any variant".
//!
//! Invariants: interpolation follows serde-saphyr's `PropertySyntax::DockerCompose` (values only, never
//! mapping keys, like compose-go); merge keys (`<<`) are already expanded; duplicate keys are an error
//! (as in compose); only YAML 1.2 booleans are booleans (`on`/`yes` stay strings, as in compose-go).

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Error as YamlError, PropertySyntax, Spanned};

/// One YAML node and the line it starts on (1-based; 0 when unknown).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub line: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order; keys are scalars rendered as text.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The scalar as compose would see it as a string (numbers and booleans in their YAML text).
    pub fn scalar(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// Short description of the node's kind for error messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node {
            value: spanned.value,
            line: spanned.referenced.line(),
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i128::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

/// Why reading the YAML failed, before it is tied to a file name.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// `${V:?msg}` / `${V?msg}` with `V` unset (or empty for `:?`).
    Required {
        name: String,
        message: String,
        line: u64,
    },
    /// Any other YAML or interpolation problem; the text already carries line and column.
    Syntax(String),
}

fn options(env: &BTreeMap<String, String>) -> serde_saphyr::Options {
    let properties: HashMap<String, String> =
        env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    serde_saphyr::options! {
        property_syntax: PropertySyntax::DockerCompose,
        strict_booleans: true,
        with_snippet: false,
    }
    .with_properties(properties)
}

fn read_error(err: &YamlError) -> ReadError {
    match err.without_snippet() {
        YamlError::PropertyRequiredButUnset {
            name,
            message,
            location,
        }
        | YamlError::PropertyRequiredButEmpty {
            name,
            message,
            location,
        } => ReadError::Required {
            name: name.clone(),
            message: message.clone(),
            line: location.line(),
        },
        other => ReadError::Syntax(other.to_string()),
    }
}

/// Parses `src` and interpolates every scalar value from `env`.
pub(crate) fn parse(src: &str, env: &BTreeMap<String, String>) -> Result<Node, ReadError> {
    serde_saphyr::from_str_with_options::<Node>(src, options(env)).map_err(|e| read_error(&e))
}

/// Parses `src` without interpolation: the raw text is needed to warn about unset variables, which
/// serde-saphyr's compose mode silently replaces with "" (as compose does, but compose warns).
pub(crate) fn parse_raw(src: &str) -> Result<Node, ReadError> {
    let opts = serde_saphyr::options! { strict_booleans: true, with_snippet: false };
    serde_saphyr::from_str_with_options::<Node>(src, opts).map_err(|e| read_error(&e))
}

/// Interpolates a single string with compose rules (used for `env_file` values, which compose
/// expands with the same template engine as the compose file). Any text is accepted: compose-go's
/// template engine takes every character, so the YAML layer used here to reach serde-saphyr's
/// interpolation must not refuse any.
pub(crate) fn substitute(text: &str, env: &BTreeMap<String, String>) -> Result<String, ReadError> {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            ' '..='~' => quoted.push(c),
            // Everything else as an escape: YAML refuses control characters and the noncharacters
            // U+FFFE and U+FFFF as literal text, and treats some (NEL, LS, PS, BOM) as line breaks
            // or stream marks, but an escape yields any character unchanged.
            c if u32::from(c) <= 0xffff => {
                let _ = write!(quoted, "\\u{:04x}", u32::from(c));
            }
            c => {
                let _ = write!(quoted, "\\U{:08x}", u32::from(c));
            }
        }
    }
    quoted.push('"');
    serde_saphyr::from_str_with_options::<String>(&quoted, options(env)).map_err(|e| read_error(&e))
}

/// Names referenced as plain `${NAME}` or `$NAME` in `text` that are absent from `env`. Compose
/// substitutes "" for them and warns; operator forms (`${V:-d}`, `${V?e}`…) are deliberate and are
/// not reported.
pub(crate) fn unset_references(text: &str, env: &BTreeMap<String, String>) -> Vec<String> {
    let is_start = |c: char| c == '_' || c.is_ascii_alphabetic();
    let is_cont = |c: char| c == '_' || c.is_ascii_alphanumeric();
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' {
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => i += 2,
            Some('{') => {
                let start = i + 2;
                let mut j = start;
                while j < chars.len() && is_cont(chars[j]) {
                    j += 1;
                }
                if j > start && is_start(chars[start]) && chars.get(j) == Some(&'}') {
                    let name: String = chars[start..j].iter().collect();
                    if !env.contains_key(&name) {
                        found.push(name);
                    }
                }
                i = j.max(i + 2);
            }
            Some(&c) if is_start(c) => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && is_cont(chars[j]) {
                    j += 1;
                }
                let name: String = chars[start..j].iter().collect();
                if !env.contains_key(&name) {
                    found.push(name);
                }
                i = j;
            }
            _ => i += 1,
        }
    }
    found
}

/// Every unset plain reference in the string values of `node` (keys are never interpolated).
pub(crate) fn collect_unset(node: &Node, env: &BTreeMap<String, String>, out: &mut Vec<String>) {
    match &node.value {
        Value::Str(s) => {
            for name in unset_references(s, env) {
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        Value::Seq(items) => items.iter().for_each(|n| collect_unset(n, env, out)),
        Value::Map(entries) => entries.iter().for_each(|(_, v)| collect_unset(v, env, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn one(template: &str, vars: &[(&str, &str)]) -> String {
        let yaml = format!("v: '{template}'\n");
        let node = parse(&yaml, &env(vars)).unwrap();
        let Value::Map(entries) = node.value else {
            panic!("not a map")
        };
        entries[0].1.scalar().unwrap()
    }

    #[test]
    fn interpolation_forms() {
        let vars = [("SET", "v"), ("EMPTY", "")];
        assert_eq!(one("${SET}", &vars), "v");
        assert_eq!(one("$SET/x", &vars), "v/x");
        assert_eq!(one("${UNSET}", &vars), "");
        assert_eq!(one("${UNSET:-d}", &vars), "d");
        assert_eq!(one("${EMPTY:-d}", &vars), "d");
        assert_eq!(one("${EMPTY-d}", &vars), "");
        assert_eq!(one("${UNSET-d}", &vars), "d");
        assert_eq!(one("${SET:+r}", &vars), "r");
        assert_eq!(one("${EMPTY:+r}", &vars), "");
        assert_eq!(one("${EMPTY+r}", &vars), "r");
        assert_eq!(one("${UNSET+r}", &vars), "");
        assert_eq!(one("${SET:?e}", &vars), "v");
        assert_eq!(one("${EMPTY?e}", &vars), "");
        assert_eq!(one("$$SET $${SET}", &vars), "$SET ${SET}");
        assert_eq!(one("${UNSET:-${SET}}", &vars), "v");
    }

    #[test]
    fn required_variable_reports_line_and_message() {
        let err = parse("a: 1\nb: ${NOPE:?set NOPE please}\n", &env(&[])).unwrap_err();
        match err {
            ReadError::Required {
                name,
                message,
                line,
            } => {
                assert_eq!(
                    (name.as_str(), message.as_str(), line),
                    ("NOPE", "set NOPE please", 2)
                );
            }
            ReadError::Syntax(s) => panic!("{s}"),
        }
        assert!(matches!(
            parse("b: ${EMPTY:?must not be empty}\n", &env(&[("EMPTY", "")])),
            Err(ReadError::Required { .. })
        ));
    }

    #[test]
    fn interpolated_values_stay_strings_and_keys_are_not_interpolated() {
        let node = parse("${K}: ${N}\nn: 3\nb: on\n", &env(&[("N", "5"), ("K", "x")])).unwrap();
        let Value::Map(entries) = node.value else {
            panic!()
        };
        assert_eq!(entries[0].0.value, Value::Str("${K}".into()));
        assert_eq!(entries[0].1.value, Value::Str("5".into()));
        assert_eq!(entries[1].1.value, Value::Int(3));
        assert_eq!(entries[2].1.value, Value::Str("on".into()));
    }

    #[test]
    fn merge_keys_and_lines() {
        let src = "x-a: &a\n  k: 1\n  j: 2\ns:\n  <<: *a\n  j: 3\n";
        let node = parse(src, &env(&[])).unwrap();
        let Value::Map(top) = node.value else {
            panic!()
        };
        let Value::Map(s) = &top[1].1.value else {
            panic!()
        };
        let pairs: Vec<(String, String)> = s
            .iter()
            .map(|(k, v)| (k.scalar().unwrap(), v.scalar().unwrap()))
            .collect();
        assert!(pairs.contains(&("k".into(), "1".into())));
        assert!(pairs.contains(&("j".into(), "3".into())));
        assert!(!pairs.contains(&("j".into(), "2".into())));
        assert_eq!(top[1].0.line, 4);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        assert!(matches!(
            parse("a: 1\na: 2\n", &env(&[])),
            Err(ReadError::Syntax(_))
        ));
    }

    #[test]
    fn substitute_keeps_any_text() {
        let vars = env(&[("A", "1")]);
        assert_eq!(
            substitute("x\"\\\n\t$A ${B:-d}", &vars).unwrap(),
            "x\"\\\n\t1 d"
        );
        assert_eq!(substitute("$$A", &vars).unwrap(), "$A");
    }

    /// Found by the `dotenv` fuzz target: U+FFFF in a `.env` value was refused ("invalid
    /// character"), while Docker Compose reads it. Every character YAML would refuse or read as a
    /// line break or mark gets through, also inside an interpolation default.
    #[test]
    fn substitute_accepts_characters_yaml_refuses_as_text() {
        let vars = env(&[("A", "1")]);
        let odd =
            "\u{ffff}\u{fffe}\u{feff}\u{85}\u{2028}\u{2029}\u{1}\u{7f}\u{9f}\u{fdd0}\u{10ffff}é😀";
        assert_eq!(substitute(odd, &vars).unwrap(), odd);
        assert_eq!(
            substitute(&format!("${{B:-{odd}}}$A{odd}"), &vars).unwrap(),
            format!("{odd}1{odd}")
        );
    }

    #[test]
    fn unset_references_skip_operators_and_escapes() {
        let vars = env(&[("SET", "1")]);
        assert_eq!(
            unset_references("$SET ${A} $B ${C:-x} $$D ${E?x} $1", &vars),
            vec!["A".to_owned(), "B".to_owned()]
        );
    }
}
