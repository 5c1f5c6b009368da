//! `{{ path }}` templates, as in http URLs and bodies and human-task titles: each placeholder is a
//! dotted path (`input.user.name`, `context.items.0`) into a scope document. A string that is
//! exactly one placeholder takes the value itself (a number stays a number); elsewhere values are
//! written as text (strings bare, everything else as JSON). A path that finds nothing renders empty.

use serde_json::Value;

/// Renders every placeholder in `text`.
pub fn render(text: &str, scope: &Value) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..open]);
        let path = rest[open + 2..open + 2 + close].trim();
        match lookup(scope, path) {
            Some(Value::String(s)) => out.push_str(s),
            Some(Value::Null) | None => {}
            Some(other) => out.push_str(&other.to_string()),
        }
        rest = &rest[open + 2 + close + 2..];
    }
    out.push_str(rest);
    out
}

/// Renders the strings inside a JSON value; a string that is exactly one placeholder becomes the
/// value it names.
pub fn render_value(value: &Value, scope: &Value) -> Value {
    match value {
        Value::String(text) => match whole_placeholder(text) {
            Some(path) => lookup(scope, path).cloned().unwrap_or(Value::Null),
            None => Value::String(render(text, scope)),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| render_value(v, scope)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), render_value(v, scope)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The placeholders of a text, for validation (`{{` without `}}` is reported as `None`).
pub fn placeholders(text: &str) -> Option<Vec<&str>> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let close = rest[open + 2..].find("}}")?;
        found.push(rest[open + 2..open + 2 + close].trim());
        rest = &rest[open + 2 + close + 2..];
    }
    Some(found)
}

fn whole_placeholder(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then(|| inner.trim())
}

fn lookup<'a>(scope: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(scope, |here, part| match here {
        Value::Object(map) => map.get(part),
        Value::Array(items) => items.get(part.parse::<usize>().ok()?),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_render_values_and_keep_types_when_whole() {
        let scope = json!({"input": {"id": 7, "name": "a b", "tags": ["x"]}, "context": {}});
        assert_eq!(
            render("/users/{{ input.id }}?n={{input.name}}", &scope),
            "/users/7?n=a b"
        );
        assert_eq!(render("{{input.missing}}-{{input.tags.0}}", &scope), "-x");
        assert_eq!(
            render_value(
                &json!({"id": "{{input.id}}", "t": ["{{input.tags}}"]}),
                &scope
            ),
            json!({"id": 7, "t": [["x"]]})
        );
        assert_eq!(render("no {{ end", &scope), "no {{ end");
        assert_eq!(placeholders("a {{x}} b {{ y.z }}"), Some(vec!["x", "y.z"]));
        assert_eq!(placeholders("a {{x"), None);
    }
}
