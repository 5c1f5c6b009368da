//! A Rill Flow descriptor (its YAML) as a Baton definition document; see the module docs of
//! `compat::rill` for the mapping.

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

use super::Fail;

fn names(next: Option<&Value>) -> Vec<String> {
    match next {
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Rill's mappings as Baton's: `source` and `target` kept, other keys dropped; a sync task's
/// `$.output` is the reply's body.
fn mappings(list: Option<&Value>, output_is_body: bool, at: &str) -> Result<Value, Fail> {
    let Some(list) = list else {
        return Ok(json!([]));
    };
    let Value::Array(list) = list else {
        return Err(Fail::bad(format!("{at}: a list of {{source, target}}")));
    };
    let mut out = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let (Some(source), Some(target)) = (
            m.get("source").and_then(Value::as_str),
            m.get("target").and_then(Value::as_str),
        ) else {
            return Err(Fail::bad(format!("{at}[{i}]: needs source and target")));
        };
        let source = match source.strip_prefix("$.output") {
            Some(rest) if output_is_body => format!("$.output.body{rest}"),
            _ => source.to_string(),
        };
        out.push(json!({"source": source, "target": target}));
    }
    Ok(json!(out))
}

/// One YAML task as a node.
fn node(task: &Value, at: &str) -> Result<Value, Fail> {
    let name = task
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| Fail::bad(format!("{at}.name is required")))?;
    let category = task
        .get("category")
        .and_then(Value::as_str)
        .unwrap_or("function");
    let mut node = match category {
        "pass" => json!({"id": name, "kind": "parallel"}),
        "function" => {
            let url = task
                .get("resourceName")
                .and_then(Value::as_str)
                .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
                .ok_or_else(|| {
                    Fail::bad(format!(
                        "{at}.resourceName: the http or https URL the task calls"
                    ))
                })?;
            match task
                .get("pattern")
                .and_then(Value::as_str)
                .unwrap_or("task_sync")
            {
                "task_sync" => json!({"id": name, "kind": "http", "method": "POST", "url": url}),
                "task_async" => json!({
                    "id": name, "kind": "callback", "method": "POST", "url": url,
                    "body": {
                        "input": "{{input}}",
                        "passthrough": {"execution_id": "{{callback.instance}}", "task_name": name},
                    },
                }),
                other => {
                    return Err(Fail::bad(format!(
                        "{at}.pattern: `{other}`; use task_sync or task_async"
                    )))
                }
            }
        }
        other => {
            return Err(Fail::bad(format!(
                "{at}.category: `{other}` is not supported here; use function or pass"
            )))
        }
    };
    let sync = node["kind"] == "http";
    node["input_mappings"] = mappings(
        task.get("inputMappings"),
        false,
        &format!("{at}.inputMappings"),
    )?;
    node["output_mappings"] = mappings(
        task.get("outputMappings"),
        sync,
        &format!("{at}.outputMappings"),
    )?;
    Ok(node)
}

/// The descriptor as a definition document stored as `key`.
pub(super) fn document(key: &str, yaml: &Value, meta: Value) -> Result<Value, Fail> {
    let tasks = match yaml.get("tasks") {
        Some(Value::Array(tasks)) if !tasks.is_empty() => tasks,
        _ => return Err(Fail::bad("tasks: the descriptor needs a list of tasks")),
    };
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let mut kept = Map::new();
    for (i, task) in tasks.iter().enumerate() {
        let at = format!("tasks[{i}]");
        let node = node(task, &at)?;
        let name = node["id"].as_str().unwrap_or_default().to_string();
        for to in names(task.get("next")) {
            edges.push(json!({"from": name, "to": to}));
        }
        kept.insert(name, task.clone());
        nodes.push(node);
    }
    let mut start = "start".to_string();
    let mut n = 1;
    while kept.contains_key(&start) {
        start = format!("start-{n}");
        n += 1;
    }
    for name in kept.keys() {
        if !edges.iter().any(|e| e["to"] == name.as_str()) {
            edges.push(json!({"from": start, "to": name}));
        }
    }
    nodes.insert(0, json!({"id": start, "kind": "start"}));
    let mut meta = meta;
    meta["start"] = json!(start);
    meta["tasks"] = Value::Object(kept);
    Ok(json!({
        "key": key,
        "name": key,
        "nodes": nodes,
        "edges": edges,
        "metadata": {"rill": meta},
    }))
}

/// A definition's issues in the descriptor's terms.
pub(super) fn issues(found: &[engine::definition::Issue]) -> Fail {
    let message = found.first().map_or_else(
        || "the descriptor is not valid".to_string(),
        |i| match (&i.node, &i.field) {
            (Some(task), Some(field)) => format!("task `{task}` ({field}): {}", i.message),
            (Some(task), None) => format!("task `{task}`: {}", i.message),
            (None, _) => i.message.clone(),
        },
    );
    Fail::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}
