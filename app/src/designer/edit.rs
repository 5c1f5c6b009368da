//! Graph edits on a definition document as JSON: what every designer action does to the
//! document. The document may be invalid while it is drawn (the engine's `check` says how), so
//! edits work on the JSON tree rather than on the typed definition; unknown fields are kept.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use super::viewport::Point;

/// A node as the canvas needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeLook {
    pub id: String,
    pub label: String,
    pub kind: String,
}

fn list<'a>(doc: &'a Value, name: &str) -> &'a [Value] {
    doc.get(name)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn list_mut<'a>(doc: &'a mut Value, name: &str) -> Option<&'a mut Vec<Value>> {
    let map = doc.as_object_mut()?;
    map.entry(name)
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value.get(field).and_then(Value::as_str).unwrap_or_default()
}

pub fn node_ids(doc: &Value) -> Vec<String> {
    list(doc, "nodes")
        .iter()
        .map(|n| text(n, "id").to_string())
        .collect()
}

pub fn node<'a>(doc: &'a Value, id: &str) -> Option<&'a Value> {
    list(doc, "nodes").iter().find(|n| text(n, "id") == id)
}

fn node_mut<'a>(doc: &'a mut Value, id: &str) -> Option<&'a mut Map<String, Value>> {
    list_mut(doc, "nodes")?
        .iter_mut()
        .find(|n| text(n, "id") == id)?
        .as_object_mut()
}

pub fn look(doc: &Value, id: &str) -> Option<NodeLook> {
    let node = node(doc, id)?;
    let name = text(node, "name");
    Some(NodeLook {
        id: id.to_string(),
        label: if name.is_empty() { id } else { name }.to_string(),
        kind: text(node, "kind").to_string(),
    })
}

/// Where each node is drawn; nodes without a position are placed by [`crate::diagram`]'s
/// layered layout.
pub fn positions(doc: &Value) -> HashMap<String, Point> {
    let ids = node_ids(doc);
    let edges: Vec<(String, String)> = edges(doc).into_iter().map(|e| (e.from, e.to)).collect();
    let mut laid_out: Option<HashMap<String, (f64, f64)>> = None;
    list(doc, "nodes")
        .iter()
        .zip(&ids)
        .map(|(node, id)| {
            let at = node
                .get("position")
                .and_then(|p| Some(Point::new(p.get("x")?.as_f64()?, p.get("y")?.as_f64()?)));
            let at = at.unwrap_or_else(|| {
                let layout = laid_out.get_or_insert_with(|| crate::diagram::layered(&ids, &edges));
                layout
                    .get(id)
                    .map(|(x, y)| Point::new(*x, *y))
                    .unwrap_or_default()
            });
            (id.clone(), at)
        })
        .collect()
}

/// An edge as the canvas needs it; `index` is its place in the document's `edges`.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeLook {
    pub index: usize,
    pub from: String,
    pub to: String,
    pub condition: Option<String>,
    pub error: bool,
}

pub fn edges(doc: &Value) -> Vec<EdgeLook> {
    list(doc, "edges")
        .iter()
        .enumerate()
        .map(|(index, e)| EdgeLook {
            index,
            from: text(e, "from").to_string(),
            to: text(e, "to").to_string(),
            condition: e
                .get("condition")
                .and_then(Value::as_str)
                .map(str::to_owned),
            error: e.get("error").and_then(Value::as_bool).unwrap_or(false),
        })
        .collect()
}

/// What a node of `kind` starts with when added from the palette: the fields a designer fills
/// first, so the properties panel shows them.
fn starting_fields(kind: &str) -> Value {
    match kind {
        "http" => json!({"method": "GET", "url": ""}),
        "script" => json!({"script": ""}),
        "foreach" => json!({"items": "$.context.items", "body": {"nodes": [], "edges": []}}),
        "timer" => json!({"duration": "1m"}),
        "approval" => json!({"title": "", "outcomes": ["approve", "reject"]}),
        "callback" => json!({}),
        "job" => json!({"deployment": "", "trigger_policy": "AnyTime"}),
        "subprocess" => json!({"definition": ""}),
        _ => json!({}),
    }
}

/// Adds a node of `kind` at `at` with a fresh id (`http_1`, `http_2`, ...); returns the id.
pub fn add_node(doc: &mut Value, kind: &str, at: Point) -> String {
    let taken: HashSet<String> = node_ids(doc).into_iter().collect();
    let id = if matches!(kind, "start" | "end") && !taken.contains(kind) {
        kind.to_string()
    } else {
        (1..)
            .map(|n| format!("{kind}_{n}"))
            .find(|id| !taken.contains(id))
            .unwrap_or_default()
    };
    let mut node = json!({"id": id, "kind": kind, "position": {"x": at.x, "y": at.y}});
    if let (Some(map), Value::Object(extra)) = (node.as_object_mut(), starting_fields(kind)) {
        map.extend(extra);
    }
    if let Some(nodes) = list_mut(doc, "nodes") {
        nodes.push(node);
    }
    id
}

/// Puts each named node at its new place.
pub fn move_nodes(doc: &mut Value, moves: &[(String, Point)]) {
    for (id, at) in moves {
        if let Some(node) = node_mut(doc, id) {
            node.insert("position".into(), json!({"x": at.x, "y": at.y}));
        }
    }
}

/// Why a connection was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    ToItself,
    Exists,
    NoSuchNode,
}

/// Adds the edge `from` → `to`.
pub fn connect(doc: &mut Value, from: &str, to: &str) -> Result<usize, Refused> {
    if from == to {
        return Err(Refused::ToItself);
    }
    if node(doc, from).is_none() || node(doc, to).is_none() {
        return Err(Refused::NoSuchNode);
    }
    if edges(doc).iter().any(|e| e.from == from && e.to == to) {
        return Err(Refused::Exists);
    }
    let edges = list_mut(doc, "edges").ok_or(Refused::NoSuchNode)?;
    edges.push(json!({"from": from, "to": to}));
    Ok(edges.len() - 1)
}

/// Removes the nodes (with every edge touching them) and the edges at `edge_indices`.
pub fn delete(doc: &mut Value, nodes: &[String], edge_indices: &[usize]) {
    let gone: HashSet<&str> = nodes.iter().map(String::as_str).collect();
    if let Some(list) = list_mut(doc, "nodes") {
        list.retain(|n| !gone.contains(text(n, "id")));
    }
    if let Some(list) = list_mut(doc, "edges") {
        let mut index = 0;
        list.retain(|e| {
            let keep = !edge_indices.contains(&index)
                && !gone.contains(text(e, "from"))
                && !gone.contains(text(e, "to"));
            index += 1;
            keep
        });
    }
}

/// Gives a node a new id, and its edges with it. Refused when the id is taken or empty.
pub fn rename(doc: &mut Value, old: &str, new: &str) -> bool {
    let new = new.trim();
    if new.is_empty() || new == old || node(doc, new).is_some() {
        return false;
    }
    let Some(node) = node_mut(doc, old) else {
        return false;
    };
    node.insert("id".into(), Value::String(new.to_string()));
    if let Some(list) = list_mut(doc, "edges") {
        for edge in list.iter_mut().filter_map(Value::as_object_mut) {
            for end in ["from", "to"] {
                if edge.get(end).and_then(Value::as_str) == Some(old) {
                    edge.insert(end.into(), Value::String(new.to_string()));
                }
            }
        }
    }
    true
}

/// Sets (or, with `None`, removes) a field of a node; `path` may reach into an object
/// (`retry.max_attempts`). An object left empty by a removal is removed too.
pub fn set_node_field(doc: &mut Value, id: &str, path: &str, value: Option<Value>) {
    if let Some(node) = node_mut(doc, id) {
        set_path(node, path, value);
    }
}

/// Sets (or removes) a field of the edge at `index`.
pub fn set_edge_field(doc: &mut Value, index: usize, field: &str, value: Option<Value>) {
    if let Some(edge) = list_mut(doc, "edges")
        .and_then(|l| l.get_mut(index))
        .and_then(Value::as_object_mut)
    {
        set_path(edge, field, value);
    }
}

/// Sets (or removes) a top-level field of the definition (`name`, `description`, `tags`).
pub fn set_doc_field(doc: &mut Value, field: &str, value: Option<Value>) {
    if let Some(map) = doc.as_object_mut() {
        set_path(map, field, value);
    }
}

fn set_path(map: &mut Map<String, Value>, path: &str, value: Option<Value>) {
    match path.split_once('.') {
        None => match value {
            Some(v) => {
                map.insert(path.to_string(), v);
            }
            None => {
                map.remove(path);
            }
        },
        Some((head, rest)) => {
            let inner = map.entry(head).or_insert_with(|| Value::Object(Map::new()));
            if !inner.is_object() {
                *inner = Value::Object(Map::new());
            }
            if let Some(inner_map) = inner.as_object_mut() {
                set_path(inner_map, rest, value);
                if inner_map.is_empty() {
                    map.remove(head);
                }
            }
        }
    }
}

/// Reads a field by the same paths [`set_node_field`] writes.
pub fn get_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, part| v.get(part))
}

/// Places every node by the layered layout, keeping the drawing's top-left corner.
pub fn auto_layout(doc: &mut Value) {
    let ids = node_ids(doc);
    let edges: Vec<(String, String)> = edges(doc).into_iter().map(|e| (e.from, e.to)).collect();
    let layout = crate::diagram::layered(&ids, &edges);
    let moves: Vec<(String, Point)> = ids
        .into_iter()
        .filter_map(|id| {
            let (x, y) = layout.get(&id)?;
            Some((id, Point::new(x + 40.0, y + 40.0)))
        })
        .collect();
    move_nodes(doc, &moves);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({
            "key": "k", "name": "K",
            "nodes": [{"id": "start", "kind": "start", "position": {"x": 0, "y": 0}},
                      {"id": "end", "kind": "end", "position": {"x": 300, "y": 0}}],
            "edges": [{"from": "start", "to": "end"}]
        })
    }

    #[test]
    fn added_nodes_get_fresh_ids_and_their_kinds_fields() {
        let mut d = doc();
        let a = add_node(&mut d, "http", Point::new(10.0, 20.0));
        let b = add_node(&mut d, "http", Point::new(10.0, 90.0));
        assert_eq!((a.as_str(), b.as_str()), ("http_1", "http_2"));
        let http = node(&d, "http_2").expect("added");
        assert_eq!(http["method"], "GET");
        assert_eq!(http["position"], json!({"x": 10.0, "y": 90.0}));
        assert_eq!(add_node(&mut d, "end", Point::default()), "end_1");
    }

    #[test]
    fn connecting_refuses_loops_duplicates_and_strangers() {
        let mut d = doc();
        add_node(&mut d, "script", Point::default());
        assert_eq!(connect(&mut d, "start", "script_1"), Ok(1));
        assert_eq!(connect(&mut d, "start", "script_1"), Err(Refused::Exists));
        assert_eq!(connect(&mut d, "end", "end"), Err(Refused::ToItself));
        assert_eq!(connect(&mut d, "end", "ghost"), Err(Refused::NoSuchNode));
        assert_eq!(edges(&d).len(), 2);
    }

    #[test]
    fn deleting_a_node_takes_its_edges() {
        let mut d = doc();
        add_node(&mut d, "script", Point::default());
        connect(&mut d, "start", "script_1").expect("edge");
        connect(&mut d, "script_1", "end").expect("edge");
        delete(&mut d, &["script_1".into()], &[]);
        assert_eq!(node_ids(&d), vec!["start", "end"]);
        assert_eq!(edges(&d).len(), 1);
        delete(&mut d, &[], &[0]);
        assert!(edges(&d).is_empty());
    }

    #[test]
    fn renaming_carries_the_edges_and_refuses_a_taken_id() {
        let mut d = doc();
        assert!(!rename(&mut d, "start", "end"));
        assert!(!rename(&mut d, "start", "  "));
        assert!(rename(&mut d, "start", "begin"));
        assert_eq!(edges(&d)[0].from, "begin");
        assert_eq!(look(&d, "begin").expect("renamed").label, "begin");
    }

    #[test]
    fn nested_fields_are_set_and_removed_cleanly() {
        let mut d = doc();
        set_node_field(&mut d, "end", "retry.max_attempts", Some(json!(3)));
        assert_eq!(
            node(&d, "end").expect("node")["retry"],
            json!({"max_attempts": 3})
        );
        set_node_field(&mut d, "end", "retry.max_attempts", None);
        assert!(node(&d, "end").expect("node").get("retry").is_none());
        set_edge_field(&mut d, 0, "condition", Some(json!("context.ok")));
        assert_eq!(edges(&d)[0].condition.as_deref(), Some("context.ok"));
        set_doc_field(&mut d, "tags", Some(json!(["ops"])));
        assert_eq!(d["tags"], json!(["ops"]));
    }

    #[test]
    fn layout_places_every_node_left_to_right() {
        let mut d = json!({"key": "k", "name": "k",
            "nodes": [{"id": "end", "kind": "end"}, {"id": "start", "kind": "start"},
                      {"id": "a", "kind": "script"}],
            "edges": [{"from": "start", "to": "a"}, {"from": "a", "to": "end"}]});
        let placed = positions(&d);
        assert!(placed["start"].x < placed["a"].x && placed["a"].x < placed["end"].x);
        auto_layout(&mut d);
        let moved = positions(&d);
        assert_eq!(moved["start"], Point::new(40.0, 40.0));
        assert!(node(&d, "a").expect("a").get("position").is_some());
    }
}
