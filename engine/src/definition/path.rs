//! JSONPath in mappings (RFC 9535, through `serde_json_path`). A mapping reads with any path but
//! writes only to a singular one — `$.context.a.b`, `$.input['x'][0]` — whose segments this
//! module also splits out for the executor that writes there.

use serde_json_path::JsonPath;

/// One step of a singular path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Parses any JSONPath query; the message says what is wrong.
pub fn parse(path: &str) -> Result<JsonPath, String> {
    JsonPath::parse(path).map_err(|e| format!("`{path}` is not a JSONPath: {e}"))
}

/// The segments of a singular path (`$` then `.name`, `['name']` or `[n]` steps), or `None`.
pub fn singular(path: &str) -> Option<Vec<Segment>> {
    let mut rest = path.trim().strip_prefix('$')?;
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            segments.push(Segment::Key(after[..end].to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']')?;
            let inner = after[..close].trim();
            let quoted = inner
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            if let Some(key) = quoted {
                segments.push(Segment::Key(key.to_string()));
            } else {
                segments.push(Segment::Index(inner.parse().ok()?));
            }
            rest = &after[close + 1..];
        } else {
            return None;
        }
    }
    Some(segments)
}

/// Whether `path` is rooted at `$.root` (for example `$.context` or `$.context.x[0]`).
pub fn is_under(path: &str, root: &str) -> bool {
    let Some(rest) = path.trim().strip_prefix('$') else {
        return false;
    };
    let after = rest
        .strip_prefix('.')
        .and_then(|r| r.strip_prefix(root))
        .or_else(|| rest.strip_prefix(&format!("['{root}']")))
        .or_else(|| rest.strip_prefix(&format!("[\"{root}\"]")));
    match after {
        Some(tail) => tail.is_empty() || tail.starts_with('.') || tail.starts_with('['),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singular_paths_split_into_steps() {
        assert_eq!(
            singular("$.context.a['b c'][2]"),
            Some(vec![
                Segment::Key("context".into()),
                Segment::Key("a".into()),
                Segment::Key("b c".into()),
                Segment::Index(2),
            ])
        );
        assert_eq!(singular("$"), Some(vec![]));
        assert_eq!(singular("$.context[*]"), None);
        assert_eq!(singular("$..x"), None);
        assert_eq!(singular("context.x"), None);
    }

    #[test]
    fn roots_are_recognised() {
        assert!(is_under("$.context.size", "context"));
        assert!(is_under("$['context'].size", "context"));
        assert!(is_under("$.output", "output"));
        assert!(is_under("$.context[?@.x > 1]", "context"));
        assert!(!is_under("$.contextual", "context"));
        assert!(!is_under("$..context", "context"));
    }

    #[test]
    fn rfc_9535_queries_parse_and_garbage_does_not() {
        assert!(parse("$.context.items[?@.size > 2].name").is_ok());
        assert!(parse("$.context[").is_err());
        assert!(parse("context.x").is_err());
    }
}
