//! Where each node of a definition is drawn: where the designer put it, or — for a definition
//! drawn without positions — in layers by the longest path from the start, left to right.

use std::collections::HashMap;

use engine::definition::Definition;

use crate::monitor::DiagramNode;

/// Horizontal and vertical distance between laid-out nodes.
const STEP_X: f64 = 190.0;
const STEP_Y: f64 = 90.0;

/// The nodes of the top level (a foreach's body is drawn as its foreach node) and the edges
/// between them.
pub fn layout(definition: &Definition) -> (Vec<DiagramNode>, Vec<(String, String)>) {
    let edges: Vec<(String, String)> = definition
        .edges
        .iter()
        .map(|e| (e.from.clone(), e.to.clone()))
        .collect();
    let placed = definition.nodes.iter().all(|n| n.position.is_some());
    let laid_out = if placed {
        HashMap::new()
    } else {
        let ids: Vec<String> = definition.nodes.iter().map(|n| n.id.clone()).collect();
        layered(&ids, &edges)
    };
    let nodes = definition
        .nodes
        .iter()
        .map(|node| {
            let (x, y) = match (placed, node.position) {
                (true, Some(p)) => (p.x, p.y),
                _ => laid_out.get(&node.id).copied().unwrap_or_default(),
            };
            DiagramNode {
                id: node.id.clone(),
                label: if node.name.is_empty() {
                    node.id.clone()
                } else {
                    node.name.clone()
                },
                kind: node.kind.name().to_string(),
                x,
                y,
            }
        })
        .collect();
    (nodes, edges)
}

/// A layered (Sugiyama-style) drawing, left to right: each node's layer is the longest path to it
/// from a node without incoming edges; within a layer, nodes are ordered by the mean row of
/// their neighbours in the layer before, then after (a few sweeps), which removes most edge
/// crossings. Cycles, which validation refuses, are cut by a bound on the passes.
pub fn layered(ids: &[String], edges: &[(String, String)]) -> HashMap<String, (f64, f64)> {
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let links: Vec<(usize, usize)> = edges
        .iter()
        .filter_map(|(from, to)| Some((*index.get(from.as_str())?, *index.get(to.as_str())?)))
        .filter(|(from, to)| from != to)
        .collect();
    let mut layer = vec![0usize; ids.len()];
    for _ in 0..ids.len() {
        let mut changed = false;
        for &(from, to) in &links {
            if layer[to] < layer[from] + 1 {
                layer[to] = layer[from] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let depth = layer.iter().copied().max().map_or(0, |d| d + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (node, &l) in layer.iter().enumerate() {
        rows[l].push(node);
    }
    let mut row_of = vec![0.0f64; ids.len()];
    let place = |rows: &Vec<Vec<usize>>, row_of: &mut Vec<f64>| {
        for row in rows {
            for (i, &n) in row.iter().enumerate() {
                row_of[n] = i as f64;
            }
        }
    };
    place(&rows, &mut row_of);
    for sweep in 0..4 {
        let forward = sweep % 2 == 0;
        let order: Vec<usize> = if forward {
            (1..depth).collect()
        } else {
            (0..depth.saturating_sub(1)).rev().collect()
        };
        for l in order {
            let mut keyed: Vec<(f64, usize)> = rows[l]
                .iter()
                .map(|&n| {
                    let neighbours: Vec<f64> = links
                        .iter()
                        .filter_map(|&(from, to)| match forward {
                            true if to == n && layer[from] + 1 == l => Some(row_of[from]),
                            false if from == n && layer[to] == l + 1 => Some(row_of[to]),
                            _ => None,
                        })
                        .collect();
                    let key = if neighbours.is_empty() {
                        row_of[n]
                    } else {
                        neighbours.iter().sum::<f64>() / neighbours.len() as f64
                    };
                    (key, n)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            rows[l] = keyed.into_iter().map(|(_, n)| n).collect();
            for (i, &n) in rows[l].iter().enumerate() {
                row_of[n] = i as f64;
            }
        }
    }
    // Each layer is centred on the tallest one.
    let tallest = rows.iter().map(Vec::len).max().unwrap_or(0) as f64;
    let mut at = HashMap::new();
    for (l, row) in rows.iter().enumerate() {
        let shift = (tallest - row.len() as f64) / 2.0;
        for (i, &n) in row.iter().enumerate() {
            at.insert(
                ids[n].clone(),
                (l as f64 * STEP_X, (i as f64 + shift) * STEP_Y),
            );
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nodes_without_positions_are_laid_out_in_layers() {
        let definition = Definition::from_value(json!({
            "key": "k", "name": "k",
            "nodes": [{"id": "start", "kind": "start"}, {"id": "a", "kind": "script", "script": "1"},
                      {"id": "b", "kind": "script", "script": "1"}, {"id": "end", "kind": "end"}],
            "edges": [{"from": "start", "to": "a"}, {"from": "start", "to": "b"},
                      {"from": "a", "to": "end"}, {"from": "b", "to": "end"}]
        }))
        .expect("definition");
        let (nodes, edges) = layout(&definition);
        let at: HashMap<&str, (f64, f64)> =
            nodes.iter().map(|n| (n.id.as_str(), (n.x, n.y))).collect();
        // start and end are centred on the two-node middle layer.
        assert_eq!(at["start"], (0.0, STEP_Y / 2.0));
        assert_eq!(at["a"], (STEP_X, 0.0));
        assert_eq!(at["b"], (STEP_X, STEP_Y));
        assert_eq!(at["end"], (2.0 * STEP_X, STEP_Y / 2.0));
        assert_eq!(edges.len(), 4);
    }

    #[test]
    fn ordering_within_layers_uncrosses_edges() {
        // a→d and b→c drawn in document order would cross; the sweep puts c beside b.
        let ids: Vec<String> = ["s", "a", "b", "c", "d"].map(String::from).to_vec();
        let edges: Vec<(String, String)> = [("s", "a"), ("s", "b"), ("a", "d"), ("b", "c")]
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .to_vec();
        let at = layered(&ids, &edges);
        assert_eq!(at["a"].1 < at["b"].1, at["d"].1 < at["c"].1);
    }

    #[test]
    fn a_cycle_does_not_hang_the_layout() {
        let ids: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let edges = vec![
            ("a".to_string(), "b".to_string()),
            ("b".to_string(), "a".to_string()),
        ];
        assert_eq!(layered(&ids, &edges).len(), 2);
    }

    #[test]
    fn the_designers_positions_are_kept() {
        let definition = Definition::from_value(json!({
            "key": "k", "name": "k",
            "nodes": [{"id": "start", "kind": "start", "position": {"x": 5, "y": 7}},
                      {"id": "end", "kind": "end", "position": {"x": 300, "y": 7}}],
            "edges": [{"from": "start", "to": "end"}]
        }))
        .expect("definition");
        let (nodes, _) = layout(&definition);
        assert_eq!((nodes[1].x, nodes[1].y), (300.0, 7.0));
    }
}
