//! The node_inst engine's process model translated to and from Baton's definition document.
//!
//! A process's tasks become nodes: `instId` is the node id, `template` the node kind (Baton's
//! kind names: `script`, `http`, `approval`, `timer`, `callback`, `subprocess`, `condition`,
//! `parallel`, `join`, `start`, `end`), each parameter's `value` (else its `default`) the kind's
//! field of that name (a script's `code` is its `script`). `connections` lists the tasks that
//! come next: ids, or `{to, condition}` for a conditional edge. `timeout` is in seconds (0: none);
//! `isIgnore` lets the flow go on past a failure; `errorHandler` is
//! `{retry, interval, action}` (retries after the first try, seconds between them, then
//! `fail` | `ignore` | `pause` | `branch`); a `loopHandler` `{items, concurrency}` runs the task
//! once per item of the JSONPath `items` (a foreach holding the task). Without a task of template
//! `start`, a start node leads to `startTaskInstId`, or else to every task nothing leads to.
//! Parameter labels and types, `extension`, `metadata` and the other fields Baton has no use for
//! are kept in the definition's `metadata.node_inst` and given back.

use engine::definition::{Definition, Node, NodeKind, OnError};
use serde_json::{json, Map, Value};

/// A field of the request that is wrong, and why.
pub struct Fault {
    pub field: String,
    pub message: String,
}

fn fault(field: impl Into<String>, message: impl Into<String>) -> Fault {
    Fault {
        field: field.into(),
        message: message.into(),
    }
}

/// The kinds a template may name.
const TEMPLATES: &[&str] = &[
    "start",
    "end",
    "script",
    "http",
    "approval",
    "timer",
    "callback",
    "subprocess",
    "condition",
    "parallel",
    "join",
];

/// Fields whose value is a list or an object: a parameter given as text is read as JSON, and
/// lists of names may be written `a,b`.
const STRUCTURED: &[&str] = &[
    "headers",
    "body",
    "accepted_statuses",
    "form",
    "assignees",
    "groups",
    "outcomes",
];
const NAME_LISTS: &[&str] = &["assignees", "groups", "outcomes"];
const NUMBERS: &[&str] = &["version", "concurrency"];
const DURATIONS: &[&str] = &["duration", "due"];

/// The parameter a kind's field is shown as.
fn parameter_name(field: &str) -> &str {
    if field == "script" {
        "code"
    } else {
        field
    }
}

fn field_name(parameter: &str) -> &str {
    if parameter == "code" {
        "script"
    } else {
        parameter
    }
}

fn text(process: &Value, name: &str) -> String {
    process
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn seconds(value: Option<&Value>, field: &str) -> Result<Option<String>, Fault> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(0) => Ok(None),
            Some(n) => Ok(Some(format!("{n}s"))),
            None => Err(fault(field, "a whole number of seconds (0: none)")),
        },
    }
}

/// A parameter's value read for the kind's field `name`.
fn parameter_value(name: &str, value: Value, at: &str) -> Result<Value, Fault> {
    let Value::String(text) = &value else {
        return match (DURATIONS.contains(&name), value.as_u64()) {
            (true, Some(n)) => Ok(json!(format!("{n}s"))),
            _ => Ok(value),
        };
    };
    let trimmed = text.trim();
    if STRUCTURED.contains(&name) && (trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return serde_json::from_str(trimmed).map_err(|e| fault(at, format!("not JSON: {e}")));
    }
    if NAME_LISTS.contains(&name) {
        return Ok(json!(trimmed
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()));
    }
    if NUMBERS.contains(&name) {
        return trimmed
            .parse::<u64>()
            .map(|n| json!(n))
            .map_err(|_| fault(at, "a whole number"));
    }
    if DURATIONS.contains(&name) && trimmed.chars().all(|c| c.is_ascii_digit()) {
        return Ok(json!(format!("{trimmed}s")));
    }
    Ok(value)
}

/// One task as a node document (and the foreach that holds it, for a looped task), with what
/// `metadata.node_inst.tasks` keeps of it.
fn task_node(task: &Value, at: &str) -> Result<(Value, Value), Fault> {
    let Value::Object(task) = task else {
        return Err(fault(at, "a task is an object"));
    };
    let id = task
        .get("instId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| fault(format!("{at}.instId"), "every task needs its instId"))?;
    let template = task
        .get("template")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !TEMPLATES.contains(&template) {
        return Err(fault(
            format!("{at}.template"),
            format!(
                "`{template}` is not a template Baton runs; use one of {}",
                TEMPLATES.join(", ")
            ),
        ));
    }
    let mut node = Map::new();
    node.insert("id".into(), json!(id));
    node.insert("kind".into(), json!(template));
    for (from, to) in [("name", "name"), ("description", "description")] {
        if let Some(v) = task
            .get(from)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            node.insert(to.into(), json!(v));
        }
    }
    match task.get("positions") {
        Some(Value::Array(xy)) if xy.len() == 2 => {
            node.insert("position".into(), json!({"x": xy[0], "y": xy[1]}));
        }
        Some(Value::Object(xy)) if xy.contains_key("x") => {
            node.insert("position".into(), Value::Object(xy.clone()));
        }
        _ => {}
    }
    if let Some(t) = seconds(task.get("timeout"), &format!("{at}.timeout"))? {
        node.insert("timeout".into(), json!(t));
    }
    let fields = NodeKind::fields_of(template).unwrap_or_default();
    let mut kept = Map::new();
    if let Some(parameters) = task.get("parameters") {
        let Value::Object(parameters) = parameters else {
            return Err(fault(format!("{at}.parameters"), "an object of parameters"));
        };
        for (name, parameter) in parameters {
            let here = format!("{at}.parameters.{name}");
            let field = field_name(name);
            if !fields.contains(&field) {
                return Err(fault(
                    &here,
                    format!(
                        "`{template}` tasks take {}",
                        if fields.is_empty() {
                            "no parameters".to_string()
                        } else {
                            fields
                                .iter()
                                .map(|f| parameter_name(f))
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                ));
            }
            let (value, default) = match parameter {
                Value::Object(p) => (p.get("value").cloned(), p.get("default").cloned()),
                plain => (Some(plain.clone()), None),
            };
            let given =
                |v: &Option<Value>| v.clone().filter(|v| !v.is_null() && v.as_str() != Some(""));
            if let Some(value) = given(&value).or_else(|| given(&default)) {
                node.insert(field.into(), parameter_value(field, value, &here)?);
            }
            if let Value::Object(p) = parameter {
                let mut shown = p.clone();
                shown.remove("value");
                kept.insert(name.clone(), Value::Object(shown));
            }
        }
    }
    if task.get("isIgnore").and_then(Value::as_bool) == Some(true) {
        node.insert("on_error".into(), json!("ignore"));
    }
    if let Some(Value::Object(handler)) = task.get("errorHandler") {
        let here = format!("{at}.errorHandler");
        if let Some(retry) = handler.get("retry") {
            let retries = retry
                .as_u64()
                .ok_or_else(|| fault(format!("{here}.retry"), "a whole number of retries"))?;
            let mut spec = json!({"max_attempts": retries + 1});
            if let Some(every) = seconds(handler.get("interval"), &format!("{here}.interval"))? {
                spec["initial_interval"] = json!(every);
                spec["backoff_factor"] = json!(1.0);
            }
            node.insert("retry".into(), spec);
        }
        if let Some(action) = handler.get("action").and_then(Value::as_str) {
            if !["fail", "ignore", "pause", "branch"].contains(&action) {
                return Err(fault(
                    format!("{here}.action"),
                    "fail, ignore, pause or branch",
                ));
            }
            node.insert("on_error".into(), json!(action));
        }
    }
    let mut node = Value::Object(node);
    if let Some(Value::Object(looped)) = task
        .get("loopHandler")
        .filter(|l| l.as_object().is_some_and(|l| !l.is_empty()))
    {
        let items = looped.get("items").and_then(Value::as_str).ok_or_else(|| {
            fault(
                format!("{at}.loopHandler.items"),
                "the JSONPath of the list to loop over, like $.context.hosts",
            )
        })?;
        let mut body = node.clone();
        body["id"] = json!(body_id(id));
        if let Some(map) = body.as_object_mut() {
            map.remove("position");
        }
        let mut foreach = json!({
            "id": id, "kind": "foreach", "items": items,
            "body": {"nodes": [body], "edges": []},
        });
        for common in ["name", "description", "position"] {
            if let Some(v) = node.get(common) {
                foreach[common] = v.clone();
            }
        }
        if let Some(n) = looped.get("concurrency") {
            foreach["concurrency"] = n.clone();
        }
        node = foreach;
    }
    Ok((node, json!({"template": template, "parameters": kept})))
}

/// The id of a looped task's node inside its foreach.
pub fn body_id(task: &str) -> String {
    format!("{task}.each")
}

/// A process request as a definition document stored as `key`.
pub fn to_document(key: &str, process: &Value) -> Result<Value, Fault> {
    if !process.is_object() {
        return Err(fault("body", "a process is a JSON object"));
    }
    let tasks = match process.get("tasks") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tasks)) => tasks.clone(),
        Some(_) => return Err(fault("tasks", "a list of tasks")),
    };
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let mut kept = Map::new();
    for (i, task) in tasks.iter().enumerate() {
        let at = format!("tasks[{i}]");
        let (node, keep) = task_node(task, &at)?;
        let id = node["id"].as_str().unwrap_or_default().to_string();
        if nodes.iter().any(|n: &Value| n["id"] == node["id"]) {
            return Err(fault(
                format!("{at}.instId"),
                format!("`{id}` is used twice"),
            ));
        }
        match task.get("connections") {
            None | Some(Value::Null) => {}
            Some(Value::Array(next)) => {
                for (j, to) in next.iter().enumerate() {
                    let edge = match to {
                        Value::String(to) => json!({"from": id, "to": to}),
                        Value::Object(c) => {
                            let to = c
                                .get("to")
                                .or_else(|| c.get("instId"))
                                .and_then(Value::as_str)
                                .ok_or_else(|| {
                                    fault(
                                        format!("{at}.connections[{j}].to"),
                                        "the instId of the next task",
                                    )
                                })?;
                            let mut edge = json!({"from": id, "to": to});
                            if let Some(cond) = c.get("condition").and_then(Value::as_str) {
                                edge["condition"] = json!(cond);
                            }
                            if c.get("error").and_then(Value::as_bool) == Some(true) {
                                edge["error"] = json!(true);
                            }
                            edge
                        }
                        _ => {
                            return Err(fault(
                                format!("{at}.connections[{j}]"),
                                "an instId, or {to, condition}",
                            ))
                        }
                    };
                    edges.push(edge);
                }
            }
            Some(_) => return Err(fault(format!("{at}.connections"), "a list of instIds")),
        }
        kept.insert(id, keep);
        nodes.push(node);
    }
    let start_given = text(process, "startTaskInstId");
    let mut synthetic = Value::Null;
    if !nodes.iter().any(|n| n["kind"] == "start") {
        let mut start = "start".to_string();
        let mut n = 1;
        while nodes.iter().any(|node| node["id"] == start.as_str()) {
            start = format!("start-{n}");
            n += 1;
        }
        let firsts: Vec<String> = if start_given.is_empty() {
            nodes
                .iter()
                .filter_map(|node| node["id"].as_str())
                .filter(|id| !edges.iter().any(|e| e["to"] == *id))
                .map(str::to_string)
                .collect()
        } else {
            vec![start_given.clone()]
        };
        let mut node = json!({"id": start, "kind": "start"});
        // Drawn to the left of the first task, when the tasks were drawn.
        let first = firsts
            .first()
            .and_then(|f| nodes.iter().find(|n| n["id"] == f.as_str()));
        if let Some(at) = first.and_then(|n| n.get("position")) {
            if let (Some(x), Some(y)) = (at["x"].as_f64(), at["y"].as_f64()) {
                node["position"] = json!({"x": x - 240.0, "y": y});
            }
        }
        for first in firsts {
            edges.push(json!({"from": start, "to": first}));
        }
        nodes.insert(0, node);
        synthetic = json!(start);
    }
    let mut document = json!({
        "key": key,
        "name": match text(process, "name") { n if n.is_empty() => "Unknown".to_string(), n => n },
        "nodes": nodes,
        "edges": edges,
    });
    let description = text(process, "description");
    if !description.is_empty() {
        document["description"] = json!(description);
    }
    if let Some(t) = seconds(process.get("timeout"), "timeout")? {
        document["timeout"] = json!(t);
    }
    for (from, to) in [
        ("inputDataSchema", "input_schema"),
        ("outputDataSchema", "output_schema"),
    ] {
        match process.get(from) {
            Some(Value::Object(schema)) if !schema.is_empty() => {
                document[to] = Value::Object(schema.clone());
            }
            None | Some(Value::Null) | Some(Value::Object(_)) => {}
            Some(_) => return Err(fault(from, "a JSON Schema object")),
        }
    }
    let mut meta = Map::new();
    for name in [
        "engine",
        "status",
        "creator",
        "executor",
        "error",
        "extension",
        "metadata",
        "startTaskInstId",
        "endTaskInstId",
    ] {
        if let Some(v) = process.get(name) {
            meta.insert(name.into(), v.clone());
        }
    }
    meta.insert("start".into(), synthetic);
    meta.insert("tasks".into(), Value::Object(kept));
    document["metadata"] = json!({ "node_inst": meta });
    Ok(document)
}

/// What `metadata.node_inst` keeps of the definition.
fn kept(definition: &Definition) -> Value {
    definition
        .metadata
        .as_ref()
        .and_then(|m| m.get("node_inst"))
        .cloned()
        .unwrap_or(Value::Null)
}

/// The process a definition shows as.
pub fn process(definition: &Definition, creator: &str) -> Value {
    let meta = kept(definition);
    let or = |name: &str, default: Value| meta.get(name).cloned().unwrap_or(default);
    let synthetic = meta.get("start").and_then(Value::as_str);
    let tasks: Vec<Value> = definition
        .nodes
        .iter()
        .filter(|n| Some(n.id.as_str()) != synthetic)
        .map(|n| task(definition, n))
        .collect();
    let start = definition
        .edges
        .iter()
        .filter(|e| Some(e.from.as_str()) == synthetic)
        .map(|e| e.to.clone())
        .collect::<Vec<_>>();
    json!({
        "id": definition.key,
        "name": definition.name,
        "description": definition.description,
        "startTaskInstId": or("startTaskInstId", json!(if start.len() == 1 { start[0].clone() } else { String::new() })),
        "endTaskInstId": or("endTaskInstId", json!("")),
        "engine": or("engine", json!("standard")),
        "status": or("status", json!("")),
        "creator": or("creator", json!(creator)),
        "executor": or("executor", json!("")),
        "timeout": definition.timeout.map_or(0, |t| t.as_millis() / 1000),
        "inputDataSchema": definition.input_schema.clone().unwrap_or_else(|| json!({})),
        "outputDataSchema": definition.output_schema.clone().unwrap_or_else(|| json!({})),
        "error": or("error", json!("")),
        "extension": or("extension", json!({})),
        "metadata": or("metadata", json!({})),
        "tasks": tasks,
    })
}

/// A looped task's inner node: a foreach holding exactly one node and no edges.
pub fn looped(node: &Node) -> Option<&Node> {
    match &node.kind {
        NodeKind::Foreach(f) if f.body.nodes.len() == 1 && f.body.edges.is_empty() => {
            f.body.nodes.first()
        }
        _ => None,
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

/// A node as the task it shows as.
pub fn task(definition: &Definition, node: &Node) -> Value {
    let meta = kept(definition);
    let meta = &meta["tasks"][&node.id];
    let (inner, loop_handler) = match (looped(node), &node.kind) {
        (Some(inner), NodeKind::Foreach(f)) => (
            inner,
            json!({"items": f.items, "concurrency": f.concurrency.unwrap_or(1)}),
        ),
        _ => (node, json!({})),
    };
    let document = serde_json::to_value(inner).unwrap_or_default();
    let kind = inner.kind.name();
    let mut parameters = Map::new();
    for field in NodeKind::fields_of(kind).unwrap_or_default() {
        let Some(value) = document.get(*field) else {
            continue;
        };
        let name = parameter_name(field);
        let mut shown = match meta["parameters"].get(name) {
            Some(Value::Object(p)) => p.clone(),
            _ => Map::new(),
        };
        shown
            .entry("label")
            .or_insert_with(|| json!(name.to_string()));
        shown
            .entry("type")
            .or_insert_with(|| json!(json_type(value)));
        shown.entry("default").or_insert_with(|| json!(""));
        shown.entry("required").or_insert(json!(false));
        shown.insert("value".into(), value.clone());
        parameters.insert(name.to_string(), Value::Object(shown));
    }
    let mut error_handler = json!({});
    if let Some(retry) = &inner.retry {
        error_handler["retry"] = json!(retry.max_attempts.saturating_sub(1));
        error_handler["interval"] = json!(retry.initial_interval.as_millis() / 1000);
    }
    if !matches!(inner.on_error, OnError::Fail | OnError::Ignore) {
        error_handler["action"] = serde_json::to_value(inner.on_error).unwrap_or_default();
    }
    let connections: Vec<Value> = definition
        .edges
        .iter()
        .filter(|e| e.from == node.id)
        .map(|e| {
            if e.condition.is_none() && !e.error {
                json!(e.to)
            } else {
                let mut c = json!({"to": e.to, "condition": e.condition});
                if e.error {
                    c["error"] = json!(true);
                }
                c
            }
        })
        .collect();
    json!({
        "instId": node.id,
        "name": node.name,
        "description": node.description,
        "template": kind,
        "positions": node.position.map_or_else(|| json!([]), |p| json!([p.x, p.y])),
        "connections": connections,
        "parameters": parameters,
        "errorHandler": error_handler,
        "loopHandler": loop_handler,
        "timeout": inner.timeout.map_or(0, |t| t.as_millis() / 1000),
        "isIgnore": inner.on_error == OnError::Ignore,
    })
}
