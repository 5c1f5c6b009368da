//! The entity catalog's data (entity types and records, as in a CMDB) and the binding expressions
//! that walk it from a root record: forward along a reference (`wecmdb:unit>wecmdb:subsys`, or
//! `wecmdb:unit.subsys>wecmdb:subsys` naming the attribute) and backward to the records that
//! reference it (`wecmdb:subsys~(subsys)wecmdb:unit`), chained, each type optionally filtered
//! (`wecmdb:host[state='running']`). Plain data and a parser: wasm-safe, so the designer checks
//! expressions as they are typed.

pub mod csv;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An attribute of an entity type; `references` names the entity type its values point at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<String>,
}

/// A kind of record: `package:name`, its attributes, and the attribute shown as its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityType {
    /// `package:name`.
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default = "EntityType::default_display")]
    pub display_attribute: String,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
}

impl EntityType {
    fn default_display() -> String {
        "displayName".into()
    }

    pub fn package(&self) -> &str {
        self.id.split_once(':').map_or("", |(p, _)| p)
    }

    pub fn name(&self) -> &str {
        self.id.split_once(':').map_or(self.id.as_str(), |(_, n)| n)
    }

    /// The attributes that reference another type: `(attribute, target type)`.
    pub fn references(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attributes
            .iter()
            .filter_map(|a| Some((a.name.as_str(), a.references.as_deref()?)))
    }
}

/// A record: its `guid`, its type, its display name and its attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityRecord {
    pub guid: String,
    pub entity_type: String,
    pub display_name: String,
    pub data: Value,
}

/// A record of the entity tree a preview draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    /// `package:entity:guid`.
    pub id: String,
    pub package: String,
    pub entity: String,
    pub data_id: String,
    pub display_name: String,
    pub previous_ids: Vec<String>,
    pub succeeding_ids: Vec<String>,
    /// The workflow nodes bound to this record.
    pub bound_by: Vec<String>,
}

/// One record a node is bound to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    pub node: String,
    pub entity_type: String,
    pub data_id: String,
    pub display_name: String,
}

/// What a preview returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preview {
    pub session_id: String,
    pub definition_key: String,
    pub version: i32,
    pub root: EntityRecord,
    pub tree: Vec<TreeNode>,
    pub bindings: Vec<Binding>,
    /// Nodes with a binding expression (bound to no record when the list has none for them).
    pub bound_nodes: Vec<String>,
    pub expires_at: String,
}

/// Whether `id` is `package:name`, each part letters, digits, `_` or `-`.
pub fn is_type_id(id: &str) -> bool {
    let ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    matches!(id.split_once(':'), Some((p, n)) if ok(p) && ok(n))
}

/// `[attribute='value']`: the record's attribute, as text, equals `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub attribute: String,
    pub value: String,
}

impl Filter {
    pub fn holds(&self, data: &Value) -> bool {
        match data.get(&self.attribute) {
            Some(Value::String(s)) => *s == self.value,
            Some(Value::Null) | None => false,
            // A number or a boolean: equal when the text reads as the same JSON value.
            Some(other) => serde_json::from_str::<Value>(&self.value).ok().as_ref() == Some(other),
        }
    }
}

/// An entity type with its filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub entity_type: String,
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direction {
    /// From each record along its reference attribute (any that points at the next type when
    /// not named) to the record it references.
    Forward { attribute: Option<String> },
    /// From each record to the records of the next type whose `attribute` references it.
    Backward { attribute: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub direction: Direction,
    pub to: Segment,
}

/// A parsed binding expression: where it starts and the steps from there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    pub start: Segment,
    pub steps: Vec<Step>,
}

impl Expression {
    /// The type of the records the expression ends at.
    pub fn target(&self) -> &str {
        self.steps
            .last()
            .map_or(&self.start.entity_type, |s| &s.to.entity_type)
    }

    pub fn parse(text: &str) -> Result<Expression, String> {
        let mut p = Parser { text, at: 0 };
        let start = p.segment()?;
        let mut steps = Vec::new();
        while !p.done() {
            let direction = if p.eat('.') {
                let attribute = p.word("an attribute after `.`")?;
                p.expect('>')?;
                Direction::Forward {
                    attribute: Some(attribute),
                }
            } else if p.eat('>') {
                Direction::Forward { attribute: None }
            } else if p.eat('~') {
                p.expect('(')?;
                let attribute = p.word("an attribute in `~(...)`")?;
                p.expect(')')?;
                Direction::Backward { attribute }
            } else {
                return Err(p.error("`>`, `.attribute>` or `~(attribute)`"));
            };
            let to = p.segment()?;
            steps.push(Step { direction, to });
        }
        Ok(Expression { start, steps })
    }
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn done(&self) -> bool {
        self.rest().trim().is_empty()
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.at = self.text.len() - trimmed.len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.rest().starts_with(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(&format!("`{c}`")))
        }
    }

    fn error(&self, wanted: &str) -> String {
        let found = self
            .rest()
            .chars()
            .next()
            .map_or_else(|| "the end".to_string(), |c| format!("`{c}`"));
        format!(
            "expected {wanted} at character {}, found {found}",
            self.at + 1
        )
    }

    fn word(&mut self, what: &str) -> Result<String, String> {
        self.skip_space();
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(self.rest().len());
        if len == 0 {
            return Err(self.error(what));
        }
        let word = self.rest()[..len].to_string();
        self.at += len;
        Ok(word)
    }

    fn segment(&mut self) -> Result<Segment, String> {
        let package = self.word("an entity type `package:name`")?;
        if !self.rest().starts_with(':') {
            return Err(self.error("`:` in `package:name`"));
        }
        self.at += 1;
        let name = self.word("the entity name after `:`")?;
        let mut filters = Vec::new();
        while self.eat('[') {
            let attribute = self.word("an attribute in a filter")?;
            self.expect('=')?;
            self.skip_space();
            let quote = self.rest().chars().next();
            let value = match quote {
                Some(q @ ('\'' | '"')) => {
                    self.at += 1;
                    let end = self
                        .rest()
                        .find(q)
                        .ok_or_else(|| self.error("the closing quote"))?;
                    let value = self.rest()[..end].to_string();
                    self.at += end + 1;
                    value
                }
                _ => return Err(self.error("a quoted value")),
            };
            self.expect(']')?;
            filters.push(Filter { attribute, value });
        }
        Ok(Segment {
            entity_type: format!("{package}:{name}"),
            filters,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn forward_backward_chained_and_filtered() {
        let e = Expression::parse(
            "wecmdb:system ~(system) wecmdb:subsys~(subsys)wecmdb:unit[state='on'][env=\"prd\"].host>wecmdb:host",
        )
        .expect("parses");
        assert_eq!(e.start.entity_type, "wecmdb:system");
        assert_eq!(e.steps.len(), 3);
        assert_eq!(
            e.steps[0].direction,
            Direction::Backward {
                attribute: "system".into()
            }
        );
        assert_eq!(e.steps[1].to.filters.len(), 2);
        assert_eq!(e.steps[1].to.filters[1].value, "prd");
        assert_eq!(
            e.steps[2].direction,
            Direction::Forward {
                attribute: Some("host".into())
            }
        );
        assert_eq!(e.target(), "wecmdb:host");
        let plain = Expression::parse("wecmdb:unit>wecmdb:subsys").expect("parses");
        assert_eq!(
            plain.steps[0].direction,
            Direction::Forward { attribute: None }
        );
        assert_eq!(
            Expression::parse("wecmdb:unit").expect("root").target(),
            "wecmdb:unit"
        );
    }

    #[test]
    fn mistakes_say_where() {
        let cases = [
            ("wecmdb", "`:`"),
            ("wecmdb:unit>", "entity type"),
            ("wecmdb:unit~subsys", "`(`"),
            ("wecmdb:unit[state=on]", "quoted value"),
            ("wecmdb:unit[state='on'", "`]`"),
            ("wecmdb:unit wecmdb:host", "`>`"),
        ];
        for (text, wanted) in cases {
            let err = Expression::parse(text).expect_err(text);
            assert!(err.contains(wanted), "{text}: {err}");
        }
    }

    #[test]
    fn filters_compare_as_text() {
        let f = Filter {
            attribute: "size".into(),
            value: "3".into(),
        };
        assert!(f.holds(&json!({"size": 3})));
        assert!(f.holds(&json!({"size": "3"})));
        assert!(!f.holds(&json!({"size": null})));
        assert!(is_type_id("wecmdb:unit_x"));
        assert!(!is_type_id("wecmdb"));
        assert!(!is_type_id("a:b:c"));
    }
}
