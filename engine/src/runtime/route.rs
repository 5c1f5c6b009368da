//! Which edges a finished node's flow takes. Pure: the same inputs always give the same route.

use serde_json::Value;

use super::expr;
use crate::definition::{Edge, NodeKind};

/// The outcome of a node, as far as routing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// Failed with `on_error: ignore`: the normal edges, as if it had succeeded.
    Ignored,
    /// Failed with `on_error: branch`: the error edges instead of the normal ones.
    Branched,
}

/// Every outgoing edge of the node with whether it is taken (`true`) or dead (`false`); dead
/// edges carry the skip on, so joins downstream hear from every branch.
pub fn route<'e>(
    kind: &NodeKind,
    outgoing: &[&'e Edge],
    outcome: Outcome,
    context: &Value,
    output: &Value,
) -> Result<Vec<(&'e Edge, bool)>, String> {
    let mut taken = Vec::with_capacity(outgoing.len());
    let branch = outcome == Outcome::Branched;
    let normal: Vec<&Edge> = outgoing.iter().copied().filter(|e| !e.error).collect();
    for edge in outgoing.iter().copied().filter(|e| e.error) {
        taken.push((edge, branch));
    }
    if branch {
        taken.extend(normal.into_iter().map(|e| (e, false)));
        return Ok(taken);
    }
    if matches!(kind, NodeKind::Condition) {
        // Exclusive: the first conditional edge that holds, else the default (unconditional) one.
        let mut chosen: Option<&Edge> = None;
        for edge in normal.iter().filter(|e| e.condition.is_some()) {
            if let Some(condition) = &edge.condition {
                if expr::holds(condition, context, output)? {
                    chosen = Some(edge);
                    break;
                }
            }
        }
        let chosen = chosen.or_else(|| normal.iter().copied().find(|e| e.condition.is_none()));
        let Some(chosen) = chosen else {
            return Err("no branch of the condition holds and there is no default edge".into());
        };
        taken.extend(normal.into_iter().map(|e| (e, std::ptr::eq(e, chosen))));
        return Ok(taken);
    }
    for edge in normal {
        let live = match &edge.condition {
            None => true,
            Some(condition) => expr::holds(condition, context, output)?,
        };
        taken.push((edge, live));
    }
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn edge(to: &str, condition: Option<&str>, error: bool) -> Edge {
        Edge {
            from: "n".into(),
            to: to.into(),
            condition: condition.map(str::to_owned),
            error,
        }
    }

    fn live(route: Vec<(&Edge, bool)>) -> Vec<(String, bool)> {
        route.into_iter().map(|(e, l)| (e.to.clone(), l)).collect()
    }

    #[test]
    fn a_condition_takes_the_first_branch_that_holds_else_the_default() {
        let edges = [
            edge("default", None, false),
            edge("big", Some("context.size > 10"), false),
            edge("medium", Some("context.size > 5"), false),
        ];
        let refs: Vec<&Edge> = edges.iter().collect();
        let go = |size: i64| {
            live(
                route(
                    &NodeKind::Condition,
                    &refs,
                    Outcome::Succeeded,
                    &json!({"size": size}),
                    &json!(null),
                )
                .expect("routes"),
            )
        };
        assert_eq!(
            go(20),
            vec![
                ("default".into(), false),
                ("big".into(), true),
                ("medium".into(), false)
            ]
        );
        assert_eq!(
            go(7),
            vec![
                ("default".into(), false),
                ("big".into(), false),
                ("medium".into(), true)
            ]
        );
        assert_eq!(
            go(1),
            vec![
                ("default".into(), true),
                ("big".into(), false),
                ("medium".into(), false)
            ]
        );
    }

    #[test]
    fn other_nodes_fan_out_to_every_edge_whose_guard_holds() {
        let edges = [
            edge("a", None, false),
            edge("b", Some("outcome == 'approve'"), false),
        ];
        let refs: Vec<&Edge> = edges.iter().collect();
        let r = route(
            &NodeKind::Parallel,
            &refs,
            Outcome::Succeeded,
            &json!({}),
            &json!({"outcome": "reject"}),
        )
        .expect("routes");
        assert_eq!(live(r), vec![("a".into(), true), ("b".into(), false)]);
    }

    #[test]
    fn branching_on_error_takes_the_error_edges_only() {
        let edges = [edge("next", None, false), edge("recover", None, true)];
        let refs: Vec<&Edge> = edges.iter().collect();
        let kind = NodeKind::Script { script: "1".into() };
        let r = route(&kind, &refs, Outcome::Branched, &json!({}), &json!(null)).expect("routes");
        assert_eq!(
            live(r),
            vec![("recover".into(), true), ("next".into(), false)]
        );
        let r = route(&kind, &refs, Outcome::Succeeded, &json!({}), &json!(null)).expect("routes");
        assert_eq!(
            live(r),
            vec![("recover".into(), false), ("next".into(), true)]
        );
    }
}
