//! Human tasks as the outside sees them (the approval inbox), and the rules for answering one:
//! which outcomes it offers and what its form accepts. Plain data shared with the browser, so
//! the inbox page checks a form with the same code as the server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::definition::{FormField, FormFieldKind};
use crate::id::Id;

/// Where a human task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting for one of its assignees or candidate groups.
    Open,
    /// Taken by one person; hidden from the others until they complete or release it.
    Claimed,
    Completed,
    /// Its instance was cancelled or ended.
    Cancelled,
    /// Its due time passed first.
    Expired,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 5] = [
        TaskStatus::Open,
        TaskStatus::Claimed,
        TaskStatus::Completed,
        TaskStatus::Cancelled,
        TaskStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Open => "open",
            TaskStatus::Claimed => "claimed",
            TaskStatus::Completed => "completed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Still waiting for an answer.
    pub fn is_open(self) -> bool {
        matches!(self, TaskStatus::Open | TaskStatus::Claimed)
    }
}

/// The outcomes an approval offers when it names none.
pub const DEFAULT_OUTCOMES: [&str; 2] = ["approve", "reject"];

/// One human task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HumanTask {
    pub id: Id,
    pub instance_id: Id,
    pub node_id: String,
    pub definition_key: String,
    /// Rendered from the node's templates when the task was created.
    pub title: String,
    pub content: String,
    pub assignees: Vec<String>,
    pub groups: Vec<String>,
    pub form: Vec<FormField>,
    pub outcomes: Vec<String>,
    pub status: TaskStatus,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<String>,
    pub outcome: Option<String>,
    /// The submitted form data.
    pub data: Option<Value>,
    pub completed_by: Option<String>,
    pub completed_at: Option<String>,
    pub due_at: Option<String>,
    pub created_at: String,
}

impl HumanTask {
    /// Whether `username`, in `groups`, is one of the people the task is for.
    pub fn is_candidate(&self, username: &str, groups: &[String]) -> bool {
        self.assignees.iter().any(|a| a == username)
            || self.groups.iter().any(|g| groups.contains(g))
    }
}

/// One way a submission breaks the task's form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// `outcome`, or `data.<field name>`.
    pub field: String,
    pub message: String,
}

/// Checks an answer against the task: the outcome must be one it offers; the data must fit the
/// form (required fields present, each value of its field's type, enum values among the options,
/// dates as `YYYY-MM-DD`, no fields the form does not have). Returns the data with the form's
/// defaults filled in.
pub fn check_submission(
    form: &[FormField],
    outcomes: &[String],
    outcome: &str,
    data: &Value,
) -> Result<Value, Vec<FieldError>> {
    let mut errors = Vec::new();
    let offered: Vec<&str> = if outcomes.is_empty() {
        DEFAULT_OUTCOMES.to_vec()
    } else {
        outcomes.iter().map(String::as_str).collect()
    };
    if !offered.contains(&outcome) {
        errors.push(FieldError {
            field: "outcome".into(),
            message: format!("must be one of: {}", offered.join(", ")),
        });
    }
    let empty = Map::new();
    let given = match data {
        Value::Object(map) => map,
        Value::Null => &empty,
        _ => {
            errors.push(FieldError {
                field: "data".into(),
                message: "must be an object of form fields".into(),
            });
            return Err(errors);
        }
    };
    let fields: BTreeMap<&str, &FormField> = form.iter().map(|f| (f.name.as_str(), f)).collect();
    for name in given.keys() {
        if !fields.contains_key(name.as_str()) {
            errors.push(FieldError {
                field: format!("data.{name}"),
                message: "is not a field of this form".into(),
            });
        }
    }
    let mut out = Map::new();
    for field in form {
        let value = match given.get(&field.name) {
            Some(Value::Null) | None => field.default.clone(),
            Some(v) => Some(v.clone()),
        };
        let Some(value) = value else {
            if field.required {
                errors.push(FieldError {
                    field: format!("data.{}", field.name),
                    message: "is required".into(),
                });
            }
            continue;
        };
        if let Err(message) = check_value(field, &value) {
            errors.push(FieldError {
                field: format!("data.{}", field.name),
                message,
            });
            continue;
        }
        out.insert(field.name.clone(), value);
    }
    if errors.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(errors)
    }
}

fn check_value(field: &FormField, value: &Value) -> Result<(), String> {
    let blank = matches!(value, Value::String(s) if s.trim().is_empty());
    if field.required && blank {
        return Err("is required".into());
    }
    match (field.kind, value) {
        (FormFieldKind::Text | FormFieldKind::Textarea, Value::String(_)) => Ok(()),
        (FormFieldKind::Number, Value::Number(_)) => Ok(()),
        (FormFieldKind::Boolean, Value::Bool(_)) => Ok(()),
        (FormFieldKind::Enum, Value::String(s)) if field.options.iter().any(|o| o == s) => Ok(()),
        (FormFieldKind::Enum, _) => Err(format!("must be one of: {}", field.options.join(", "))),
        (FormFieldKind::Date, Value::String(s)) if is_date(s) => Ok(()),
        (FormFieldKind::Date, _) => Err("must be a date, YYYY-MM-DD".into()),
        (FormFieldKind::Text | FormFieldKind::Textarea, _) => Err("must be text".into()),
        (FormFieldKind::Number, _) => Err("must be a number".into()),
        (FormFieldKind::Boolean, _) => Err("must be true or false".into()),
    }
}

/// `YYYY-MM-DD` naming a real day.
fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return false;
    }
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field(name: &str, kind: FormFieldKind, required: bool) -> FormField {
        FormField {
            name: name.into(),
            label: String::new(),
            kind,
            required,
            default: None,
            options: Vec::new(),
        }
    }

    #[test]
    fn a_good_answer_passes_with_defaults_filled_in() {
        let mut level = field("level", FormFieldKind::Enum, false);
        level.options = vec!["low".into(), "high".into()];
        level.default = Some(json!("low"));
        let form = vec![
            field("comment", FormFieldKind::Textarea, true),
            field("amount", FormFieldKind::Number, false),
            field("urgent", FormFieldKind::Boolean, false),
            field("when", FormFieldKind::Date, false),
            level,
        ];
        let data = json!({"comment": "ok", "amount": 3.5, "urgent": true, "when": "2024-02-29"});
        let checked = check_submission(&form, &[], "approve", &data).expect("accepted");
        assert_eq!(checked["level"], "low");
        assert_eq!(checked["amount"], 3.5);
    }

    #[test]
    fn every_problem_is_named_by_its_field() {
        let mut level = field("level", FormFieldKind::Enum, false);
        level.options = vec!["low".into()];
        let form = vec![
            field("comment", FormFieldKind::Text, true),
            field("amount", FormFieldKind::Number, false),
            field("when", FormFieldKind::Date, false),
            level,
        ];
        let data = json!({"amount": "3", "when": "2023-02-29", "level": "mid", "extra": 1});
        let errors =
            check_submission(&form, &["ok".into()], "approve", &data).expect_err("refused");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for expected in [
            "outcome",
            "data.extra",
            "data.comment",
            "data.amount",
            "data.when",
            "data.level",
        ] {
            assert!(
                fields.contains(&expected),
                "{expected} missing in {fields:?}"
            );
        }
    }

    #[test]
    fn a_blank_required_text_is_missing_and_data_must_be_an_object() {
        let form = vec![field("comment", FormFieldKind::Text, true)];
        let errors =
            check_submission(&form, &[], "reject", &json!({"comment": "  "})).expect_err("refused");
        assert_eq!(errors[0].field, "data.comment");
        let errors = check_submission(&form, &[], "reject", &json!([1])).expect_err("refused");
        assert_eq!(errors[0].field, "data");
    }
}
