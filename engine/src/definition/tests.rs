//! Reading, checking and writing definitions: one test per issue code, and round trips.

use serde_json::json;

use super::*;

/// The example of DESIGN §3, plus a position and a condition edge.
fn onboard() -> serde_json::Value {
    json!({
        "key": "onboard", "name": "Onboard a subsystem", "root_entity": "wecmdb:subsystem",
        "input_schema": {"type": "object"},
        "nodes": [
            {"id": "start", "kind": "start", "position": {"x": 40.0, "y": 120.0}},
            {"id": "check", "kind": "script", "script": "input.size * 2",
             "input_mappings": [{"source": "$.context.size", "target": "$.input.size"}],
             "output_mappings": [{"source": "$.output", "target": "$.context.doubled"}]},
            {"id": "ok", "kind": "approval", "title": "Approve {{context.doubled}}",
             "assignees": ["alice"], "groups": ["ops"], "outcomes": ["approve", "reject"]},
            {"id": "end", "kind": "end"}
        ],
        "edges": [{"from": "start", "to": "check"}, {"from": "check", "to": "ok"},
                  {"from": "ok", "to": "end", "condition": "outcome == 'approve'"}]
    })
}

fn issues_of(value: serde_json::Value) -> Vec<Issue> {
    match Definition::from_value(value) {
        Ok(d) => d.check(),
        Err(issues) => issues,
    }
}

fn codes(value: serde_json::Value) -> Vec<IssueCode> {
    issues_of(value).into_iter().map(|i| i.code).collect()
}

/// Asserts exactly one issue with `code`, on `node` and `field`.
fn assert_issue(
    value: serde_json::Value,
    code: IssueCode,
    node: Option<&str>,
    field: Option<&str>,
) {
    let issues = issues_of(value);
    let matching: Vec<&Issue> = issues.iter().filter(|i| i.code == code).collect();
    assert_eq!(matching.len(), 1, "want one {code:?}, got {issues:#?}");
    assert_eq!(matching[0].node.as_deref(), node, "{issues:#?}");
    assert_eq!(matching[0].field.as_deref(), field, "{issues:#?}");
    assert!(!matching[0].message.is_empty());
}

fn chain(nodes: serde_json::Value) -> serde_json::Value {
    let list = nodes.as_array().cloned().unwrap_or_default();
    let ids: Vec<String> = list
        .iter()
        .filter_map(|n| n["id"].as_str().map(str::to_owned))
        .collect();
    let edges: Vec<_> = ids
        .windows(2)
        .map(|w| json!({"from": w[0], "to": w[1]}))
        .collect();
    json!({"key": "k", "name": "n", "nodes": list, "edges": edges})
}

#[test]
fn the_design_example_is_valid_and_round_trips_through_json_and_yaml() {
    let text = onboard().to_string();
    let definition = Definition::parse(&text, Format::Json).expect("valid");
    assert_eq!(
        definition.nodes[0].position,
        Some(Position { x: 40.0, y: 120.0 })
    );

    let again = Definition::parse(&definition.to_json(), Format::Json).expect("json again");
    assert_eq!(again, definition);
    let yaml = definition.to_yaml();
    assert!(yaml.contains("kind: approval"), "{yaml}");
    let from_yaml = Definition::parse(&yaml, Format::Yaml).expect("yaml again");
    assert_eq!(from_yaml, definition);
}

#[test]
fn every_issue_is_reported_at_once() {
    let mut doc = onboard();
    doc["nodes"][1]["script"] = json!("let x = ;");
    doc["nodes"][2]["title"] = json!(null);
    doc["edges"][2]["condition"] = json!("outcome ==");
    doc["edges"]
        .as_array_mut()
        .expect("edges")
        .push(json!({"from": "end", "to": "ghost"}));
    let found = codes(doc);
    for code in [
        IssueCode::InvalidScript,
        IssueCode::MissingField,
        IssueCode::InvalidExpression,
        IssueCode::DanglingEdge,
    ] {
        assert!(found.contains(&code), "{code:?} missing from {found:?}");
    }
}

#[test]
fn not_a_document() {
    assert_eq!(
        Definition::read("{nope", Format::Json).expect_err("bad json")[0].code,
        IssueCode::InvalidDocument
    );
    assert_eq!(
        Definition::read("key: [unclosed", Format::Yaml).expect_err("bad yaml")[0].code,
        IssueCode::InvalidDocument
    );
    assert_eq!(codes(json!([1, 2])), vec![IssueCode::InvalidDocument]);
}

#[test]
fn missing_key_and_kind_fields() {
    let mut doc = onboard();
    doc.as_object_mut().expect("object").remove("key");
    assert_issue(doc, IssueCode::MissingField, None, None);
    assert_issue(
        chain(json!([{"id": "s", "kind": "start"}, {"id": "h", "kind": "http"}])),
        IssueCode::MissingField,
        Some("h"),
        Some("url"),
    );
}

#[test]
fn unknown_kind_and_unknown_field() {
    assert_issue(
        chain(json!([{"id": "s", "kind": "start"}, {"id": "x", "kind": "teleport"}])),
        IssueCode::UnknownKind,
        Some("x"),
        Some("kind"),
    );
    assert_issue(
        chain(json!([{"id": "s", "kind": "start"}, {"id": "x", "kind": "script", "sript": "1"}])),
        IssueCode::UnknownField,
        Some("x"),
        Some("sript"),
    );
}

#[test]
fn invalid_values_name_their_field() {
    assert_issue(
        chain(json!([{"id": "s", "kind": "start"},
                     {"id": "h", "kind": "http", "url": "https://x.test", "method": "FETCH"}])),
        IssueCode::InvalidValue,
        Some("h"),
        Some("method"),
    );
    assert_issue(
        chain(json!([{"id": "s", "kind": "start"},
                     {"id": "t", "kind": "timer", "duration": "soon"}])),
        IssueCode::InvalidValue,
        Some("t"),
        Some("duration"),
    );
    let mut doc = onboard();
    doc["key"] = json!("has space");
    assert_issue(doc, IssueCode::InvalidValue, None, Some("key"));
}

#[test]
fn duplicate_node_ids() {
    assert_issue(
        chain(
            json!([{"id": "s", "kind": "start"}, {"id": "a", "kind": "end"}, {"id": "a", "kind": "end"}]),
        ),
        IssueCode::DuplicateNodeId,
        Some("a"),
        Some("id"),
    );
}

#[test]
fn dangling_and_duplicate_edges() {
    let mut doc = onboard();
    doc["edges"]
        .as_array_mut()
        .expect("edges")
        .push(json!({"from": "check", "to": "nowhere"}));
    assert_issue(
        doc,
        IssueCode::DanglingEdge,
        Some("check"),
        Some("edges[3].to"),
    );

    let mut doc = onboard();
    doc["edges"]
        .as_array_mut()
        .expect("edges")
        .push(json!({"from": "start", "to": "check"}));
    assert_issue(
        doc,
        IssueCode::DuplicateEdge,
        Some("start"),
        Some("edges[3].to"),
    );
}

#[test]
fn cycles_are_named_by_their_path() {
    let mut doc = onboard();
    doc["edges"]
        .as_array_mut()
        .expect("edges")
        .push(json!({"from": "ok", "to": "check"}));
    assert_cycle(doc, "check → ok → check");
}

/// Asserts exactly one cycle issue, naming `path`.
fn assert_cycle(doc: serde_json::Value, path: &str) {
    let issues = issues_of(doc);
    let cycle: Vec<&Issue> = issues
        .iter()
        .filter(|i| i.code == IssueCode::Cycle)
        .collect();
    assert_eq!(cycle.len(), 1, "{issues:#?}");
    assert!(cycle[0].message.contains(path), "{}", cycle[0].message);
}

#[test]
fn a_loop_inside_a_foreach_body_is_still_a_cycle_but_the_body_itself_is_fine() {
    let body = json!({"nodes": [{"id": "b1", "kind": "script", "script": "1"},
                                {"id": "b2", "kind": "script", "script": "2"}],
                      "edges": [{"from": "b1", "to": "b2"}]});
    let foreach = |body| {
        chain(json!([{"id": "s", "kind": "start"},
                     {"id": "each", "kind": "foreach", "items": "$.context.list", "body": body},
                     {"id": "e", "kind": "end"}]))
    };
    let doc = foreach(body.clone());
    assert!(issues_of(doc.clone()).is_empty(), "{:#?}", issues_of(doc));

    let mut looped = body;
    looped["edges"]
        .as_array_mut()
        .expect("edges")
        .push(json!({"from": "b2", "to": "b1"}));
    assert_cycle(foreach(looped), "b1 → b2 → b1");
}

#[test]
fn each_kind_names_its_missing_fields() {
    let after_start = |node| chain(json!([{"id": "s", "kind": "start"}, node]));
    let body = json!({"nodes": [{"id": "b", "kind": "script", "script": "1"}], "edges": []});
    for (node, field) in [
        (
            json!({"id": "x", "kind": "script", "script": " "}),
            "script",
        ),
        (json!({"id": "x", "kind": "foreach", "body": body}), "items"),
        (
            json!({"id": "x", "kind": "foreach", "items": "$.context.list",
                   "body": {"nodes": [], "edges": []}}),
            "body",
        ),
        (json!({"id": "x", "kind": "timer"}), "duration"),
        (json!({"id": "x", "kind": "http"}), "url"),
    ] {
        assert_issue(
            after_start(node),
            IssueCode::MissingField,
            Some("x"),
            Some(field),
        );
    }
}

#[test]
fn unreachable_nodes() {
    let mut doc = onboard();
    doc["nodes"]
        .as_array_mut()
        .expect("nodes")
        .push(json!({"id": "orphan", "kind": "end"}));
    assert_issue(doc, IssueCode::UnreachableNode, Some("orphan"), None);
}

#[test]
fn missing_and_several_starts() {
    assert_issue(
        json!({"key": "k", "name": "n", "nodes": [{"id": "e", "kind": "end"}], "edges": []}),
        IssueCode::MissingStart,
        None,
        Some("nodes"),
    );
    let mut doc = onboard();
    doc["nodes"]
        .as_array_mut()
        .expect("nodes")
        .push(json!({"id": "start2", "kind": "start"}));
    doc["edges"]
        .as_array_mut()
        .expect("edges")
        .push(json!({"from": "start2", "to": "end"}));
    assert_issue(doc, IssueCode::MultipleStarts, Some("start2"), Some("kind"));
}

#[test]
fn malformed_jsonpath() {
    let mut doc = onboard();
    doc["nodes"][1]["input_mappings"][0]["source"] = json!("$.context[");
    assert_issue(
        doc,
        IssueCode::InvalidJsonpath,
        Some("check"),
        Some("input_mappings[0].source"),
    );
    let mut doc = onboard();
    doc["nodes"][1]["output_mappings"][0]["target"] = json!("$.context.items[*]");
    assert_issue(
        doc,
        IssueCode::InvalidJsonpath,
        Some("check"),
        Some("output_mappings[0].target"),
    );
}

#[test]
fn conditions_must_compile() {
    let mut doc = onboard();
    doc["edges"][2]["condition"] = json!("outcome == 'approve' &&");
    assert_issue(
        doc,
        IssueCode::InvalidExpression,
        Some("ok"),
        Some("edges[2].condition"),
    );
}

#[test]
fn scripts_must_compile() {
    let mut doc = onboard();
    doc["nodes"][1]["script"] = json!("fn (");
    assert_issue(doc, IssueCode::InvalidScript, Some("check"), Some("script"));
}

#[test]
fn ten_thousand_nodes_are_refused_without_panic() {
    let nodes: Vec<_> = (0..10_000)
        .map(|i| json!({"id": format!("n{i}"), "kind": "script", "script": "1"}))
        .collect();
    assert_eq!(codes(chain(json!(nodes))), vec![IssueCode::TooManyNodes]);
}

#[test]
fn deeply_nested_input_is_refused_without_panic() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(
        Definition::read(&deep, Format::Json).expect_err("too deep")[0].code,
        IssueCode::InvalidDocument
    );
}

#[test]
fn bindings_parse_and_start_at_the_root_entity_type() {
    let doc = |root: Option<&str>, binding: &str| {
        let mut d = serde_json::json!({
            "key": "k", "name": "k",
            "nodes": [{"id": "start", "kind": "start"},
                      {"id": "a", "kind": "script", "script": "1", "binding": binding},
                      {"id": "end", "kind": "end"}],
            "edges": [{"from": "start", "to": "a"}, {"from": "a", "to": "end"}]
        });
        if let Some(root) = root {
            d["root_entity"] = serde_json::json!(root);
        }
        Definition::from_value(d).expect("readable").check()
    };
    assert!(doc(Some("wecmdb:subsys"), "wecmdb:subsys~(subsys)wecmdb:unit").is_empty());
    let wrong_start = doc(Some("wecmdb:subsys"), "wecmdb:unit>wecmdb:subsys");
    assert_eq!(wrong_start.len(), 1);
    assert_eq!(wrong_start[0].field.as_deref(), Some("binding"));
    assert!(wrong_start[0]
        .message
        .contains("root entity type is `wecmdb:subsys`"));
    assert!(doc(Some("wecmdb:subsys"), "wecmdb:subsys~subsys")[0]
        .message
        .contains("does not parse"));
    assert!(doc(None, "wecmdb:subsys")[0]
        .message
        .contains("needs the workflow's root"));
    assert_eq!(
        doc(Some("wecmdb"), "wecmdb:subsys")[0].field.as_deref(),
        Some("root_entity")
    );
}
