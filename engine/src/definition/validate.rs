//! Reading a document into the model, and checking the model: every issue at once, each placed
//! on its node and field.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::graph::Graph;
use super::node::{Body, Edge, Node, NodeKind, OnError, COMMON_FIELDS};
use super::{Definition, Issue, IssueCode, MAX_NODES};

// ---------------------------------------------------------------------------------------------
// Reading

pub(super) fn read_document(value: Value) -> Result<Definition, Vec<Issue>> {
    let Value::Object(mut object) = value else {
        return Err(vec![Issue::document(
            IssueCode::InvalidDocument,
            "a definition is an object with key, name, nodes and edges",
        )]);
    };
    let mut issues = Vec::new();
    let raw_nodes = match object.remove("nodes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(nodes)) => nodes,
        Some(_) => {
            issues.push(Issue::field(
                "nodes",
                IssueCode::InvalidValue,
                "nodes is a list",
            ));
            Vec::new()
        }
    };
    let count = count_nodes(&raw_nodes);
    if count > MAX_NODES {
        return Err(vec![Issue::field(
            "nodes",
            IssueCode::TooManyNodes,
            format!("{count} nodes; a definition may have at most {MAX_NODES}"),
        )]);
    }
    let nodes = read_nodes(raw_nodes, "nodes", &mut issues);

    let mut definition: Option<Definition> =
        match serde_path_to_error::deserialize::<_, Definition>(Value::Object(object)) {
            Ok(d) => Some(d),
            Err(err) => {
                let field = err.path().to_string();
                let message = err.into_inner().to_string();
                issues.push(Issue {
                    node: None,
                    field: (field != ".").then_some(field),
                    code: code_of_serde_message(&message),
                    message,
                });
                None
            }
        };
    if let Some(d) = definition.as_mut() {
        d.nodes = nodes;
    }
    match definition {
        Some(d) if issues.is_empty() => Ok(d),
        _ => Err(issues),
    }
}

/// Nodes at every depth (foreach bodies included), counted before anything is deserialised.
fn count_nodes(nodes: &[Value]) -> usize {
    let mut count = 0;
    let mut pending: Vec<&Value> = nodes.iter().collect();
    while let Some(node) = pending.pop() {
        count += 1;
        if let Some(Value::Array(inner)) = node.get("body").and_then(|b| b.get("nodes")) {
            pending.extend(inner.iter());
        }
        if count > MAX_NODES {
            break;
        }
    }
    count
}

/// Reads nodes one by one, so one broken node does not hide the others' issues.
fn read_nodes(raw: Vec<Value>, at: &str, issues: &mut Vec<Issue>) -> Vec<Node> {
    let mut nodes = Vec::with_capacity(raw.len());
    for (index, value) in raw.into_iter().enumerate() {
        let label = value
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map_or_else(|| format!("{at}[{index}]"), str::to_owned);
        if let Some(issue) = unknown_field(&value, &label) {
            issues.push(issue);
            continue;
        }
        let culprit = value.clone();
        match serde_path_to_error::deserialize::<_, Node>(value) {
            Ok(node) => nodes.push(node),
            Err(err) => {
                let field = err.path().to_string();
                let message = err.into_inner().to_string();
                let code = code_of_serde_message(&message);
                let field = if code == IssueCode::UnknownKind || message.contains("`kind`") {
                    Some("kind".to_string())
                } else if field == "." {
                    kind_field_at_fault(&culprit)
                } else {
                    Some(field)
                };
                issues.push(Issue::on_node(label, field, code, message));
            }
        }
    }
    nodes
}

/// The kind's own fields sit flattened beside the common ones, where serde loses the path of
/// an error: find the field by reading the kind with each of its fields alone.
fn kind_field_at_fault(node: &Value) -> Option<String> {
    let object = node.as_object()?;
    let kind = object.get("kind")?.clone();
    let own = NodeKind::fields_of(kind.as_str()?)?;
    own.iter()
        .filter_map(|field| Some((*field, object.get(*field)?)))
        .find(|(field, value)| {
            let mut alone = serde_json::Map::new();
            alone.insert("kind".into(), kind.clone());
            alone.insert((*field).into(), (*value).clone());
            serde_json::from_value::<NodeKind>(Value::Object(alone)).is_err()
        })
        .map(|(field, _)| field.to_string())
}

/// A field that neither every node nor this node's kind has: most often a typo that would
/// silently lose what the designer wrote.
fn unknown_field(value: &Value, label: &str) -> Option<Issue> {
    let object = value.as_object()?;
    let kind = object.get("kind")?.as_str()?;
    let own = NodeKind::fields_of(kind)?;
    let unknown = object
        .keys()
        .find(|k| !COMMON_FIELDS.contains(&k.as_str()) && !own.contains(&k.as_str()))?;
    Some(Issue::on_node(
        label,
        Some(unknown.clone()),
        IssueCode::UnknownField,
        format!("a {kind} node has no field `{unknown}`"),
    ))
}

fn code_of_serde_message(message: &str) -> IssueCode {
    if message.starts_with("missing field") {
        IssueCode::MissingField
    } else if message.starts_with("unknown field") {
        IssueCode::UnknownField
    } else if message.starts_with("unknown variant") {
        IssueCode::UnknownKind
    } else {
        IssueCode::InvalidValue
    }
}

// ---------------------------------------------------------------------------------------------
// Checking

pub(super) fn check(definition: &Definition) -> Vec<Issue> {
    let mut issues = Vec::new();
    check_name("key", &definition.key, &mut issues);
    if definition.name.trim().is_empty() {
        issues.push(Issue::field(
            "name",
            IssueCode::MissingField,
            "the definition needs a name",
        ));
    }
    for (i, tag) in definition.tags.iter().enumerate() {
        if tag.trim().is_empty() || tag.contains(',') || tag.chars().count() > 40 {
            issues.push(Issue::field(
                format!("tags[{i}]"),
                IssueCode::InvalidValue,
                "a tag is 1 to 40 characters, without commas",
            ));
        }
    }
    if let Some(schema) = &definition.input_schema {
        if !schema.is_object() && !schema.is_boolean() {
            issues.push(Issue::field(
                "input_schema",
                IssueCode::InvalidValue,
                "input_schema is a JSON Schema (an object)",
            ));
        } else {
            // The browser build checks the shape only; the server compiles the schema.
            #[cfg(feature = "store")]
            if let Err(e) = jsonschema::validator_for(schema) {
                issues.push(Issue::field(
                    "input_schema",
                    IssueCode::InvalidValue,
                    format!("input_schema is not a usable JSON Schema: {}", e.masked()),
                ));
            }
        }
    }
    super::trigger::check(&definition.triggers, &mut issues);
    check_bindings(definition, &mut issues);
    let mut seen_ids = HashSet::new();
    check_scope(
        &definition.nodes,
        &definition.edges,
        Scope::Top,
        &mut seen_ids,
        &mut issues,
    );
    issues
}

#[derive(Clone, Copy, PartialEq)]
enum Scope<'a> {
    Top,
    Body { foreach: &'a str },
}

impl Scope<'_> {
    fn edge_field(&self, index: usize, part: &str) -> String {
        match self {
            Scope::Top => format!("edges[{index}].{part}"),
            Scope::Body { .. } => format!("body.edges[{index}].{part}"),
        }
    }
}

fn check_scope<'a>(
    nodes: &'a [Node],
    edges: &'a [Edge],
    scope: Scope<'a>,
    seen_ids: &mut HashSet<&'a str>,
    issues: &mut Vec<Issue>,
) {
    // Ids: unique across the whole definition, bodies included (node runs are keyed by id).
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        if !seen_ids.insert(node.id.as_str()) {
            issues.push(Issue::on_node(
                &node.id,
                Some("id".into()),
                IssueCode::DuplicateNodeId,
                format!("another node already has the id `{}`", node.id),
            ));
            continue;
        }
        index_of.insert(node.id.as_str(), i);
        check_node_id(node, issues);
    }

    // Edges: both ends in this scope, no repeats.
    let edge_node = |edge: &Edge| -> String {
        match scope {
            Scope::Top => edge.from.clone(),
            Scope::Body { foreach } => foreach.to_string(),
        }
    };
    let mut resolved = Vec::new();
    let mut seen_edges = HashSet::new();
    for (i, edge) in edges.iter().enumerate() {
        let from = index_of.get(edge.from.as_str()).copied();
        let to = index_of.get(edge.to.as_str()).copied();
        for (end, id, found) in [("from", &edge.from, from), ("to", &edge.to, to)] {
            if found.is_none() {
                issues.push(Issue::on_node(
                    edge_node(edge),
                    Some(scope.edge_field(i, end)),
                    IssueCode::DanglingEdge,
                    format!(
                        "edge {} → {}: there is no node `{id}` here",
                        edge.from, edge.to
                    ),
                ));
            }
        }
        if !seen_edges.insert((edge.from.as_str(), edge.to.as_str(), edge.error)) {
            issues.push(Issue::on_node(
                edge_node(edge),
                Some(scope.edge_field(i, "to")),
                IssueCode::DuplicateEdge,
                format!("edge {} → {} is drawn twice", edge.from, edge.to),
            ));
            continue;
        }
        if let Some(condition) = &edge.condition {
            if let Err(message) = compile_condition(condition) {
                issues.push(Issue::on_node(
                    edge_node(edge),
                    Some(scope.edge_field(i, "condition")),
                    IssueCode::InvalidExpression,
                    message,
                ));
            }
        }
        if let (Some(f), Some(t)) = (from, to) {
            resolved.push((i, f, t));
        }
    }

    let graph = Graph::new(nodes.len(), resolved.iter().map(|(_, f, t)| (*f, *t)));
    let mut incoming = vec![0usize; nodes.len()];
    for (_, _, t) in &resolved {
        incoming[*t] += 1;
    }

    // Entries: the one start at the top; in a body, the nodes nothing points to.
    let entries: Vec<usize> = match scope {
        Scope::Top => {
            let starts: Vec<usize> = (0..nodes.len())
                .filter(|i| matches!(nodes[*i].kind, NodeKind::Start))
                .collect();
            if starts.is_empty() && !nodes.is_empty() {
                issues.push(Issue::field(
                    "nodes",
                    IssueCode::MissingStart,
                    "the workflow needs a start node",
                ));
            } else if nodes.is_empty() {
                issues.push(Issue::field(
                    "nodes",
                    IssueCode::MissingStart,
                    "the workflow has no nodes; it needs at least a start node",
                ));
            }
            for extra in starts.iter().skip(1) {
                issues.push(Issue::on_node(
                    &nodes[*extra].id,
                    Some("kind".into()),
                    IssueCode::MultipleStarts,
                    "a workflow has exactly one start node",
                ));
            }
            starts.into_iter().take(1).collect()
        }
        Scope::Body { .. } => (0..nodes.len()).filter(|i| incoming[*i] == 0).collect(),
    };

    // Cycles come before reachability: a cycle's nodes are often unreachable too, and the
    // cycle is what the designer needs to hear about.
    let cycles = graph.cycles();
    let mut in_cycle = vec![false; nodes.len()];
    for cycle in &cycles {
        for n in cycle {
            in_cycle[*n] = true;
        }
        let mut path: Vec<&str> = cycle.iter().map(|n| nodes[*n].id.as_str()).collect();
        path.push(path[0]);
        issues.push(Issue::on_node(
            &nodes[cycle[0]].id,
            None,
            IssueCode::Cycle,
            format!("the edges form a loop: {}", path.join(" → ")),
        ));
    }
    if !entries.is_empty() {
        let reached = graph.reachable(&entries);
        for (i, node) in nodes.iter().enumerate() {
            if !reached[i] && !in_cycle[i] && index_of.get(node.id.as_str()) == Some(&i) {
                issues.push(Issue::on_node(
                    &node.id,
                    None,
                    IssueCode::UnreachableNode,
                    match scope {
                        Scope::Top => "no path from the start node leads here".to_string(),
                        Scope::Body { foreach } => {
                            format!("no path from the entry of `{foreach}`'s body leads here")
                        }
                    },
                ));
            }
        }
    }

    // Per-node rules that need the edges.
    for (i, node) in nodes.iter().enumerate() {
        let outgoing: Vec<&Edge> = resolved
            .iter()
            .filter(|(_, f, _)| *f == i)
            .map(|(e, _, _)| &edges[*e])
            .collect();
        check_edges_of(node, &outgoing, incoming[i], issues);
        check_node_fields(node, issues);
        if let NodeKind::Foreach(foreach) = &node.kind {
            check_body(node, &foreach.body, seen_ids, issues);
        }
    }
}

fn check_body<'a>(
    node: &'a Node,
    body: &'a Body,
    seen_ids: &mut HashSet<&'a str>,
    issues: &mut Vec<Issue>,
) {
    if body.nodes.is_empty() {
        issues.push(Issue::on_node(
            &node.id,
            Some("body".into()),
            IssueCode::MissingField,
            "a foreach node needs a body of at least one node",
        ));
        return;
    }
    for inner in &body.nodes {
        if matches!(inner.kind, NodeKind::Start) {
            issues.push(Issue::on_node(
                &inner.id,
                Some("kind".into()),
                IssueCode::InvalidValue,
                "a foreach body has no start node: its entries are the nodes nothing points to",
            ));
        }
    }
    check_scope(
        &body.nodes,
        &body.edges,
        Scope::Body { foreach: &node.id },
        seen_ids,
        issues,
    );
}

fn check_edges_of(node: &Node, outgoing: &[&Edge], incoming: usize, issues: &mut Vec<Issue>) {
    let on = |field: &str, code, message: &str| {
        Issue::on_node(&node.id, Some(field.to_string()), code, message)
    };
    match node.kind {
        NodeKind::Start if incoming > 0 => issues.push(on(
            "kind",
            IssueCode::InvalidValue,
            "nothing may lead into the start node",
        )),
        NodeKind::End if !outgoing.is_empty() => issues.push(on(
            "kind",
            IssueCode::InvalidValue,
            "an end node has no outgoing edges",
        )),
        NodeKind::Condition => {
            let normal: Vec<&&Edge> = outgoing.iter().filter(|e| !e.error).collect();
            if normal.is_empty() {
                issues.push(on(
                    "edges",
                    IssueCode::MissingField,
                    "a condition node needs outgoing edges to choose from",
                ));
            }
            if normal.iter().filter(|e| e.condition.is_none()).count() > 1 {
                issues.push(on(
                    "edges",
                    IssueCode::InvalidValue,
                    "a condition node may have one default edge (without a condition), not several",
                ));
            }
        }
        _ => {}
    }
    let has_error_edge = outgoing.iter().any(|e| e.error);
    if node.on_error == OnError::Branch && !has_error_edge {
        issues.push(on(
            "on_error",
            IssueCode::MissingField,
            "on_error is branch, but no error edge leaves this node",
        ));
    }
    if node.on_error != OnError::Branch && has_error_edge {
        issues.push(on(
            "on_error",
            IssueCode::InvalidValue,
            "an error edge leaves this node, but its on_error is not branch",
        ));
    }
}

fn check_node_id(node: &Node, issues: &mut Vec<Issue>) {
    if let Err(message) = name_rule(&node.id) {
        issues.push(Issue::on_node(
            &node.id,
            Some("id".into()),
            if node.id.is_empty() {
                IssueCode::MissingField
            } else {
                IssueCode::InvalidValue
            },
            format!("node id: {message}"),
        ));
    }
}

fn check_name(field: &str, value: &str, issues: &mut Vec<Issue>) {
    if let Err(message) = name_rule(value) {
        let code = if value.is_empty() {
            IssueCode::MissingField
        } else {
            IssueCode::InvalidValue
        };
        issues.push(Issue::field(field, code, format!("{field}: {message}")));
    }
}

/// Keys and ids: 1–64 letters, digits, `_`, `-` and `.`, starting with a letter or digit.
pub(crate) fn name_rule(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > 64 {
        return Err("at most 64 characters".into());
    }
    let first_ok = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(format!(
            "`{value}`: use letters, digits, `_`, `-` and `.`, starting with a letter or digit"
        ))
    }
}

/// The root entity type's form, and each top-level binding expression: it parses and starts at
/// the root entity type.
fn check_bindings(definition: &Definition, issues: &mut Vec<Issue>) {
    let root = definition.root_entity.as_deref();
    if root.is_some_and(|r| !crate::entity::is_type_id(r)) {
        issues.push(Issue::field(
            "root_entity",
            IssueCode::InvalidValue,
            "the root entity type is `package:name`, like wecmdb:subsys",
        ));
    }
    for node in &definition.nodes {
        let Some(text) = node.binding.as_deref() else {
            continue;
        };
        let problem = match (crate::entity::Expression::parse(text), root) {
            (Err(e), _) => Some(format!("the binding does not parse: {e}")),
            (Ok(_), None) => Some("a binding needs the workflow's root entity type".into()),
            (Ok(e), Some(root)) if e.start.entity_type != root => Some(format!(
                "the binding starts at `{}`, but the workflow's root entity type is `{root}`",
                e.start.entity_type
            )),
            _ => None,
        };
        if let Some(message) = problem {
            issues.push(Issue::on_node(
                &node.id,
                Some("binding".into()),
                IssueCode::InvalidExpression,
                message,
            ));
        }
    }
}

fn check_node_fields(node: &Node, issues: &mut Vec<Issue>) {
    super::fields::check(node, issues);
}

/// Compiles a CEL condition; the message says where it breaks.
pub(crate) fn compile_condition(source: &str) -> Result<(), String> {
    if source.trim().is_empty() {
        return Err("the condition is empty".into());
    }
    // The parser is recursive: refuse absurd nesting before handing it over.
    if source.len() > 4_096 {
        return Err("the condition is longer than 4096 characters".into());
    }
    cel::Program::compile(source).map(|_| ()).map_err(|e| {
        format!(
            "the condition does not compile: {}",
            first_line(&e.to_string())
        )
    })
}

pub(crate) fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_string()
}
