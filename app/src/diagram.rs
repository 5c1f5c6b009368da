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
    let layers = if placed {
        HashMap::new()
    } else {
        layers(definition)
    };
    let mut row_of_layer: HashMap<usize, usize> = HashMap::new();
    let nodes = definition
        .nodes
        .iter()
        .map(|node| {
            let (x, y) = match (placed, node.position) {
                (true, Some(p)) => (p.x, p.y),
                _ => {
                    let layer = layers.get(node.id.as_str()).copied().unwrap_or(0);
                    let row = row_of_layer.entry(layer).or_default();
                    let at = (layer as f64 * STEP_X, *row as f64 * STEP_Y);
                    *row += 1;
                    at
                }
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

/// Each node's layer: the longest path to it from a node without incoming edges (cycles, which
/// validation refuses, are cut by a bound on the passes).
fn layers(definition: &Definition) -> HashMap<&str, usize> {
    let mut layer: HashMap<&str, usize> = definition
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), 0))
        .collect();
    for _ in 0..definition.nodes.len() {
        let mut changed = false;
        for edge in &definition.edges {
            let from = layer.get(edge.from.as_str()).copied().unwrap_or(0);
            if let Some(to) = layer.get_mut(edge.to.as_str()) {
                if *to < from + 1 {
                    *to = from + 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    layer
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
        assert_eq!(at["start"], (0.0, 0.0));
        assert_eq!(at["a"], (STEP_X, 0.0));
        assert_eq!(at["b"], (STEP_X, STEP_Y));
        assert_eq!(at["end"], (2.0 * STEP_X, 0.0));
        assert_eq!(edges.len(), 4);
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
