//! Gravitee selection rules (Spring EL, `{#request.headers['x-plan'][0] == 'premium'}`)
//! in keygate's expression language, for the simple forms that have one: comparisons of a
//! request header, query parameter, method, path or host with a string, joined by
//! `&&`/`and`, `||`/`or`. Anything else is not translated, and the caller says so.

/// The keygate expression for `rule`, or `None` when it is not one of the simple forms.
pub fn translate(rule: &str) -> Option<String> {
    let body = rule.trim();
    let body = body
        .strip_prefix("{#")
        .and_then(|b| b.strip_suffix('}'))
        .unwrap_or(body)
        .trim();
    if body.is_empty() || body.contains('(') {
        return None;
    }
    let mut out = String::new();
    let mut rest = body;
    loop {
        let (atom, joiner, after) = next_atom(rest);
        out.push_str(&comparison(atom.trim())?);
        match joiner {
            Some(joiner) => {
                out.push_str(joiner);
                rest = after;
            }
            None => return Some(out),
        }
    }
}

/// The text up to the first `&&`, `||`, ` and ` or ` or ` outside quotes, the keygate
/// joiner, and the text after it.
fn next_atom(text: &str) -> (&str, Option<&'static str>, &str) {
    let bytes = text.as_bytes();
    let mut quote = None;
    for at in 0..bytes.len() {
        let c = bytes[at];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'\'' || c == b'"' => quote = Some(c),
            None => {
                for (word, joiner) in [
                    ("&&", " && "),
                    ("||", " || "),
                    (" and ", " && "),
                    (" or ", " || "),
                ] {
                    if text[at..].starts_with(word) {
                        return (&text[..at], Some(joiner), &text[at + word.len()..]);
                    }
                }
            }
        }
    }
    (text, None, "")
}

/// `LEFT == 'v'` or `LEFT != 'v'` with a known left side.
fn comparison(atom: &str) -> Option<String> {
    let (left, operator, right) = if let Some((l, r)) = atom.split_once("==") {
        (l, "===", r)
    } else {
        let (l, r) = atom.split_once("!=")?;
        (l, "!==", r)
    };
    let value = literal(right.trim())?;
    let left = left.trim().strip_prefix('#').unwrap_or(left.trim());
    let variable = variable(left)?;
    Some(format!(
        "{variable} {operator} {}",
        super::super::quote(&value)
    ))
}

/// A quoted string.
fn literal(text: &str) -> Option<String> {
    let inner = text
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .or_else(|| text.strip_prefix('"').and_then(|t| t.strip_suffix('"')))?;
    (!inner.contains(['\'', '"', '\\'])).then(|| inner.to_owned())
}

/// `request.headers['x'][0]`, `request.params['x'][0]`, `request.method`, `request.path`,
/// `request.host` (Gravitee's headers and parameters are lists: the first is compared).
fn variable(text: &str) -> Option<String> {
    match text {
        "request.method" => return Some("request.method".into()),
        "request.path" | "request.pathInfo" => return Some("request.path".into()),
        "request.host" => return Some("request.host".into()),
        _ => {}
    }
    for (gravitee, keygate) in [
        ("request.headers", "request.headers"),
        ("request.params", "request.query"),
    ] {
        let Some(rest) = text.strip_prefix(gravitee) else {
            continue;
        };
        let rest = rest.strip_prefix("['")?;
        let (name, after) = rest.split_once("']")?;
        if !matches!(after, "" | "[0]") || name.contains(['\'', '\\']) {
            return None;
        }
        if let Some(first) = after.strip_prefix('.') {
            let _ = first;
            return None;
        }
        return Some(format!("{keygate}['{name}']"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn simple_rules_translate() {
        for (rule, expected) in [
            (
                "{#request.headers['x-plan'][0] == 'premium'}",
                "request.headers['x-plan'] === 'premium'",
            ),
            (
                "{#request.params['tier'] != \"free\" && #request.method == 'GET'}",
                "request.query['tier'] !== 'free' && request.method === 'GET'",
            ),
            (
                "{#request.host == 'a.example' or #request.path == '/x'}",
                "request.host === 'a.example' || request.path === '/x'",
            ),
        ] {
            assert_eq!(translate(rule).as_deref(), Some(expected), "{rule}");
        }
    }

    #[test]
    fn other_rules_do_not() {
        for rule in [
            "{#context.attributes['user'] == 'x'}",
            "{#request.headers['x'][0].startsWith('a')}",
            "{#request.headers['x'][1] == 'a'}",
            "{#request.headers['x'] matches 'a.*'}",
            "",
        ] {
            assert_eq!(translate(rule), None, "{rule}");
        }
    }
}
