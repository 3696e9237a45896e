//! Assembly and `http://` prefixing: pure text, no Caddy needed.

use super::lex::plain_http;
use super::*;

fn snippet(id: &str, text: &str) -> Snippet {
    Snippet {
        id: id.into(),
        text: text.into(),
    }
}

#[test]
fn prefixes_every_site_address() {
    let src = "messages.{$FAMSTACK_DOMAIN}, messages-element.{$FAMSTACK_DOMAIN} {\n    reverse_proxy stack-messages-element:80\n}\n\nmessages-synapse.{$FAMSTACK_DOMAIN} {\n    reverse_proxy stack-messages-synapse:8008\n}\n";
    assert_eq!(
        plain_http(src).unwrap(),
        "http://messages.{$FAMSTACK_DOMAIN}, http://messages-element.{$FAMSTACK_DOMAIN} {\n    reverse_proxy stack-messages-element:80\n}\n\nhttp://messages-synapse.{$FAMSTACK_DOMAIN} {\n    reverse_proxy stack-messages-synapse:8008\n}\n"
    );
}

#[test]
fn addresses_continue_after_a_trailing_comma_and_inside_one_token() {
    let src = "a.{$D},\n  b.{$D}\n{\n  respond ok\n}\nc.x,d.x {\n}\n";
    assert_eq!(
        plain_http(src).unwrap(),
        "http://a.{$D},\n  http://b.{$D}\n{\n  respond ok\n}\nhttp://c.x,http://d.x {\n}\n"
    );
}

#[test]
fn leaves_schemes_blocks_comments_and_snippet_definitions_alone() {
    let src = "# docs.{$D} { is a comment\n(common) {\n  encode gzip\n}\nhttps://secure.x {\n  import common\n  handle /api/* {\n    reverse_proxy api:1\n  }\n  respond \"a { b\" 200\n}\nhttp://plain.x {\n}\n";
    assert_eq!(plain_http(src).unwrap(), src);
}

#[test]
fn braces_inside_tokens_quotes_and_heredocs_are_not_blocks() {
    let src = "x.{$D} {\n  respond <<HTML\n    }} not a block {\n    HTML 200\n  header X-A `{`\n}\ny.{$D} {\n}\n";
    assert_eq!(
        plain_http(src).unwrap(),
        "http://x.{$D} {\n  respond <<HTML\n    }} not a block {\n    HTML 200\n  header X-A `{`\n}\nhttp://y.{$D} {\n}\n"
    );
}

/// Found by the `caddy_snippet` fuzz target: `<<}` then a newline was taken for a heredoc with the
/// marker `}`, whose site address `plain_http` then turned into `http://<<}`, a plain word, so the
/// heredoc's `}` closed nothing and the prefixed snippet failed the check it had passed. Caddy
/// refuses that marker; so does the lexer now, in both modes.
#[test]
fn a_heredoc_marker_caddy_refuses_is_an_error() {
    let src = "<<}\n} {\n}";
    let refused = "line 1: heredoc marker `}` may hold only letters, digits, `-` and `_`";
    assert_eq!(lex::check(src).unwrap_err(), refused);
    assert_eq!(plain_http(src).unwrap_err(), refused);
    assert_eq!(
        plain_http("a.x {\n  respond <<\n}\n").unwrap_err(),
        "line 2: `<<` ends the line, which starts a heredoc, but names no marker (write `<<END`)"
    );
    assert_eq!(
        plain_http("a.x {\n  respond <<<END\nx\nEND\n}\n").unwrap_err(),
        "line 2: too many `<` for a heredoc (write two, as in `<<END`)"
    );
    let err = assemble(&[snippet("odd", src)], false).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("The Caddy snippet of `odd` (`stacklets/odd/caddy.snippet`) is invalid: {refused}")
    );
}

/// A site address that starts with `<<` cannot take `http://`: before it, a heredoc would no longer
/// be one. An error naming the line, not a snippet the check then refuses.
#[test]
fn a_site_address_starting_with_angles_cannot_be_made_plain_http() {
    for (src, address) in [
        ("<<END\nhost.x\nEND {\n}\n", "<<END"),
        ("a.x,\n<<END\nb.x\nEND {\n}\n", "<<END"),
        ("<<x {\n}\n", "<<x"),
    ] {
        lex::check(src).unwrap();
        assert_eq!(
            plain_http(src).unwrap_err(),
            format!(
                "line {}: the site address `{address}` starts with `<<`, so `http://` (for `[core].https = false`) cannot be put before it; write the address as a host name",
                if src.starts_with("a.x") { 2 } else { 1 }
            ),
            "{src:?}"
        );
    }
}

/// Caddy's heredoc rules: `<<WORD` followed by a space is a plain word; a heredoc ends at the first
/// occurrence of its marker, even mid-line; every body line starts with the text before the
/// closing marker on its line.
#[test]
fn heredocs_open_and_close_where_caddy_opens_and_closes_them() {
    let word = "a.x {\n  respond <<HTML 200\n}\n";
    assert_eq!(
        plain_http(word).unwrap(),
        "http://a.x {\n  respond <<HTML 200\n}\n"
    );
    let mid_line = "a.x {\n  respond <<END\n  } not a block END\n}\nb.x {\n}\n";
    assert_eq!(
        plain_http(mid_line).unwrap(),
        "http://a.x {\n  respond <<END\n  } not a block END\n}\nhttp://b.x {\n}\n"
    );
    let crlf = "a.x {\r\n  respond <<END\r\n  {\r\n\r\n  END\r\n}\r\n";
    assert!(plain_http(crlf).unwrap().starts_with("http://a.x {"));
    assert_eq!(
        lex::check("a.x {\n  respond <<HTML\n    ok\n\n   bad\n    HTML\n}\n").unwrap_err(),
        "line 5: this line of heredoc `HTML` does not start with \"    \", the indentation of its closing marker"
    );
    assert_eq!(
        lex::check("a.x {\n  respond <<HTML\n  {\n").unwrap_err(),
        "line 2: heredoc `HTML` is never closed"
    );
}

/// A sibling of the fuzz finding, where an address was left without `http://` and so served over
/// HTTPS: a `\` at the end of a line continues the line (Caddy's escaped newline), also after
/// `\r`, so the addresses on the next line belong to the same site.
#[test]
fn an_escaped_newline_continues_the_address_list() {
    assert_eq!(
        plain_http("a.x \\\nb.x {\n}\nc.x\\\r\n  d.x {\n}\n\\\n\\\ne.x f.x {\n}\n").unwrap(),
        "http://a.x \\\nhttp://b.x {\n}\nhttp://c.x\\\r\n  http://d.x {\n}\n\\\n\\\nhttp://e.x http://f.x {\n}\n"
    );
    // A comment line ends the continued line.
    assert_eq!(
        plain_http("(s) \\\n# note\nb.x {\n}\n").unwrap(),
        "(s) \\\n# note\nhttp://b.x {\n}\n"
    );
    // Lines still count from the file's start.
    assert_eq!(
        plain_http("a.x \\\nb.x {\n\"\\\nx\"\n").unwrap_err(),
        "line 2: `{` is never closed"
    );
    assert_eq!(
        plain_http("a.x {\n  respond \"a\\\nb\"\n}\n}\n").unwrap_err(),
        "line 5: `}` closes no block"
    );
}

#[test]
fn unbalanced_braces_name_the_line() {
    assert_eq!(
        plain_http("a.x {\n  respond ok\n").unwrap_err(),
        "line 1: `{` is never closed"
    );
    assert_eq!(
        plain_http("a.x {\n}\n}\n").unwrap_err(),
        "line 3: `}` closes no block"
    );
    assert!(plain_http("a.x {\n respond \"oops\n}\n").is_err());
}

#[test]
fn assembles_in_the_given_order_with_a_comment_per_stacklet() {
    let a = assemble(
        &[
            snippet(
                "docs",
                "docs.{$FAMSTACK_DOMAIN} {\n    reverse_proxy d:1\n}\n\n\n",
            ),
            snippet(
                "photos",
                "photos.{$FAMSTACK_DOMAIN} {\n    reverse_proxy p:2\n}",
            ),
        ],
        false,
    )
    .unwrap();
    let expected = "\
# Assembled by `stack` from the caddy.snippet of every set-up stacklet, in id order.
# Rewritten on every `stack up` and `stack destroy` in domain mode: edit the snippets, not this file.
# [core].https = false: every site address is served over plain HTTP (`http://`).

# ── docs ── stacklets/docs/caddy.snippet
http://docs.{$FAMSTACK_DOMAIN} {
    reverse_proxy d:1
}

# ── photos ── stacklets/photos/caddy.snippet
http://photos.{$FAMSTACK_DOMAIN} {
    reverse_proxy p:2
}

# ── start page ── the family start page, written by `stack` to .stack/start/
http://{$FAMSTACK_DOMAIN} {
    root * /srv/start
    file_server
}
";
    assert_eq!(a.text, expected);
    let lines: Vec<&str> = a.text.lines().collect();
    for section in &a.sections {
        assert_eq!(
            lines[section.first_line - 1..section.first_line - 1 + section.lines].join("\n") + "\n",
            section.text
        );
    }
    let at = |line| a.locate(line).map(|(s, at)| (s.id.as_str(), at));
    assert_eq!(at(7), Some(("docs", 2)));
    assert_eq!(at(11), Some(("photos", 1)));
    assert_eq!(at(10), None);
}

#[test]
fn https_keeps_addresses_for_automatic_https() {
    let src = "docs.{$FAMSTACK_DOMAIN} {\n    reverse_proxy d:1\n}\n";
    let a = assemble(&[snippet("docs", src)], true).unwrap();
    assert!(a.text.contains(src), "{}", a.text);
    assert!(
        a.text
            .contains("\n{$FAMSTACK_DOMAIN} {\n    root * /srv/start\n"),
        "{}",
        a.text
    );
    assert!(!a.text.contains("http://"));
}

#[test]
fn a_broken_snippet_is_blamed_on_its_stacklet() {
    let err = assemble(
        &[
            snippet("a", "a.x {\n}\n"),
            snippet("b", "b.x {\n  respond ok\n"),
        ],
        false,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "The Caddy snippet of `b` (`stacklets/b/caddy.snippet`) is invalid: line 1: `{` is never closed"
    );
}

#[test]
fn empty_assembly_serves_only_the_start_page() {
    let a = assemble(&[], false).unwrap();
    let sites: Vec<&str> = a.text.lines().filter(|l| l.ends_with(" {")).collect();
    assert_eq!(sites, ["http://{$FAMSTACK_DOMAIN} {"]);
    assert!(a.sections.is_empty());
}

#[test]
fn caddy_messages_drop_json_logs_and_find_lines() {
    let out = vec![
        "{\"level\":\"info\",\"msg\":\"using provided configuration\"}".to_string(),
        "Error: adapting config using caddyfile: /etc/caddy/Caddyfile.candidate:12: unrecognized directive: bogus".to_string(),
    ];
    let message = caddy_message(&out);
    assert_eq!(
        message,
        "/etc/caddy/Caddyfile.candidate:12: unrecognized directive: bogus"
    );
    assert_eq!(
        line_in(&message, "/etc/caddy/Caddyfile.candidate"),
        Some(12)
    );
    assert_eq!(line_in("ambiguous site definition", "/x"), None);
}
