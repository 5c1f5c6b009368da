//! The orchestration designer: the document being drawn, its history, and the parts of the page
//! (canvas, palette, properties, issues). The page owns the document through an [`Editor`]; the
//! canvas is controlled: it reads the document and emits events, which the page turns into edits.

pub mod canvas;
pub mod edit;
pub mod fields;
pub mod properties;
mod shapes;
pub mod text;
pub mod viewport;

use std::collections::HashSet;

use engine::definition::{Definition, Issue};
use leptos::prelude::*;
use serde_json::Value;

/// Most steps kept for undo.
const HISTORY: usize = 200;

/// What is selected on the canvas: nodes, or one edge (by its index in the document).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    pub nodes: Vec<String>,
    pub edge: Option<usize>,
}

impl Selection {
    pub fn node(id: impl Into<String>) -> Self {
        Self {
            nodes: vec![id.into()],
            edge: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.edge.is_none()
    }
}

#[derive(Debug, Default)]
struct History {
    undo: Vec<Value>,
    redo: Vec<Value>,
    /// The key of the last change, so that typing into one field is one undo step.
    last_key: Option<String>,
}

/// The document being designed, its undo and redo history, what is selected, and whether it
/// has changed since it was loaded or saved.
#[derive(Debug, Clone, Copy)]
pub struct Editor {
    pub doc: RwSignal<Value>,
    pub selection: RwSignal<Selection>,
    pub dirty: RwSignal<bool>,
    pub read_only: RwSignal<bool>,
    pub can_undo: RwSignal<bool>,
    pub can_redo: RwSignal<bool>,
    history: StoredValue<History>,
}

impl Editor {
    pub fn new() -> Self {
        Self {
            doc: RwSignal::new(Value::Null),
            selection: RwSignal::new(Selection::default()),
            dirty: RwSignal::new(false),
            read_only: RwSignal::new(true),
            can_undo: RwSignal::new(false),
            can_redo: RwSignal::new(false),
            history: StoredValue::new(History::default()),
        }
    }

    /// Starts over on `doc` (just loaded): no history, nothing selected, nothing to save.
    pub fn reset(&self, doc: Value, read_only: bool) {
        self.history.set_value(History::default());
        self.doc.set(doc);
        self.selection.set(Selection::default());
        self.dirty.set(false);
        self.read_only.set(read_only);
        self.sync();
    }

    /// One undoable change.
    pub fn change(&self, edit: impl FnOnce(&mut Value)) {
        self.apply(None, edit);
    }

    /// A change that merges with the previous one of the same `key` (keystrokes in one field).
    pub fn change_keyed(&self, key: String, edit: impl FnOnce(&mut Value)) {
        self.apply(Some(key), edit);
    }

    fn apply(&self, key: Option<String>, edit: impl FnOnce(&mut Value)) {
        if self.read_only.get_untracked() {
            return;
        }
        let before = self.doc.get_untracked();
        let mut after = before.clone();
        edit(&mut after);
        if after == before {
            return;
        }
        self.history.update_value(|h| {
            if key.is_none() || h.last_key != key {
                h.undo.push(before);
                if h.undo.len() > HISTORY {
                    h.undo.remove(0);
                }
            }
            h.redo.clear();
            h.last_key = key;
        });
        self.doc.set(after);
        self.dirty.set(true);
        self.sync();
    }

    pub fn undo(&self) {
        self.step(true);
    }

    pub fn redo(&self) {
        self.step(false);
    }

    fn step(&self, back: bool) {
        if self.read_only.get_untracked() {
            return;
        }
        let current = self.doc.get_untracked();
        let mut restored = None;
        self.history.update_value(|h| {
            let (from, to) = if back {
                (&mut h.undo, &mut h.redo)
            } else {
                (&mut h.redo, &mut h.undo)
            };
            if let Some(doc) = from.pop() {
                to.push(current);
                restored = Some(doc);
            }
            h.last_key = None;
        });
        if let Some(doc) = restored {
            let ids: HashSet<String> = edit::node_ids(&doc).into_iter().collect();
            let edges = edit::edges(&doc).len();
            self.doc.set(doc);
            self.selection.update(|s| {
                s.nodes.retain(|n| ids.contains(n));
                s.edge = s.edge.filter(|e| *e < edges);
            });
            self.dirty.set(true);
            self.sync();
        }
    }

    /// The document as saved: nothing left to save.
    pub fn saved(&self) {
        self.dirty.set(false);
    }

    fn sync(&self) {
        self.history.with_value(|h| {
            self.can_undo.set(!h.undo.is_empty());
            self.can_redo.set(!h.redo.is_empty());
        });
    }
}

impl Default for Editor {
    fn default() -> Self {
        Self::new()
    }
}

/// Every issue of the document, by the engine's own rules (the same `check` the server runs).
pub fn issues_of(doc: &Value) -> Vec<Issue> {
    match Definition::from_value(doc.clone()) {
        Ok(definition) => definition.check(),
        Err(issues) => issues,
    }
}

/// Whether an issue's field is `path` or inside it (`retry` holds `retry.max_attempts`,
/// `input_mappings` holds `input_mappings[0].source`).
pub fn field_matches(issue_field: Option<&str>, path: &str) -> bool {
    match issue_field {
        Some(field) => {
            field == path
                || field
                    .strip_prefix(path)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn undo_and_redo_walk_the_history_and_typing_is_one_step() {
        let owner = Owner::new();
        owner.with(|| {
            let editor = Editor::new();
            editor.reset(
                json!({"key": "k", "name": "A", "nodes": [], "edges": []}),
                false,
            );
            editor.change(|d| d["name"] = json!("B"));
            editor.change_keyed("name".into(), |d| d["name"] = json!("Bo"));
            editor.change_keyed("name".into(), |d| d["name"] = json!("Bob"));
            assert!(editor.dirty.get_untracked());
            editor.undo();
            assert_eq!(editor.doc.get_untracked()["name"], "B");
            editor.undo();
            assert_eq!(editor.doc.get_untracked()["name"], "A");
            assert!(!editor.can_undo.get_untracked());
            editor.redo();
            editor.redo();
            assert_eq!(editor.doc.get_untracked()["name"], "Bob");
            editor.undo();
            editor.change(|d| d["name"] = json!("C"));
            assert!(
                !editor.can_redo.get_untracked(),
                "a new change drops the redo"
            );
        });
    }

    #[test]
    fn a_read_only_document_does_not_change() {
        let owner = Owner::new();
        owner.with(|| {
            let editor = Editor::new();
            editor.reset(json!({"name": "A"}), true);
            editor.change(|d| d["name"] = json!("B"));
            assert_eq!(editor.doc.get_untracked()["name"], "A");
            assert!(!editor.dirty.get_untracked());
        });
    }

    #[test]
    fn issue_fields_match_their_widgets() {
        assert!(field_matches(Some("retry.max_attempts"), "retry"));
        assert!(field_matches(
            Some("input_mappings[0].source"),
            "input_mappings"
        ));
        assert!(field_matches(Some("url"), "url"));
        assert!(!field_matches(Some("urls"), "url"));
        assert!(!field_matches(None, "url"));
    }
}
