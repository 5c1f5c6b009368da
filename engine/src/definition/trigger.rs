//! What starts a definition without a person: a cron schedule, or a webhook call.
//!
//! ```yaml
//! triggers:
//!   - {kind: cron, name: nightly, schedule: "0 2 * * *", input: {full: true}}
//!   - {kind: webhook, name: deploy}
//! ```
//! A published version's triggers are the ones in force. Cron schedules are standard five-field
//! expressions (a sixth, leading field for seconds is accepted), in UTC.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Issue, IssueCode};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TriggerSpec {
    Cron {
        name: String,
        schedule: String,
        /// The input of every instance it starts (`{}` when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input: Option<Value>,
    },
    /// Started by `POST /api/v1/hooks/{token}`; the request body is the input.
    Webhook { name: String },
}

impl TriggerSpec {
    pub fn name(&self) -> &str {
        match self {
            TriggerSpec::Cron { name, .. } | TriggerSpec::Webhook { name } => name,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            TriggerSpec::Cron { .. } => "cron",
            TriggerSpec::Webhook { .. } => "webhook",
        }
    }
}

/// A cron schedule, parsed.
pub fn schedule(text: &str) -> Result<croner::Cron, String> {
    croner::Cron::new(text)
        .with_seconds_optional()
        .parse()
        .map_err(|e| format!("`{text}` is not a cron schedule: {e}"))
}

/// The first time strictly after `after` that `schedule` names.
pub fn next_fire(
    schedule_text: &str,
    after: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, String> {
    schedule(schedule_text)?
        .find_next_occurrence(&after, false)
        .map_err(|e| format!("`{schedule_text}` has no next time: {e}"))
}

pub(super) fn check(triggers: &[TriggerSpec], issues: &mut Vec<Issue>) {
    let mut names = std::collections::HashSet::new();
    for (i, trigger) in triggers.iter().enumerate() {
        let name = trigger.name();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            issues.push(Issue::field(
                format!("triggers[{i}].name"),
                IssueCode::InvalidValue,
                "a trigger's name is 1 to 64 letters, digits, `-` or `_`",
            ));
        } else if !names.insert(name) {
            issues.push(Issue::field(
                format!("triggers[{i}].name"),
                IssueCode::InvalidValue,
                format!("two triggers are named `{name}`"),
            ));
        }
        if let TriggerSpec::Cron {
            schedule: text,
            input,
            ..
        } = trigger
        {
            if let Err(message) = schedule(text) {
                issues.push(Issue::field(
                    format!("triggers[{i}].schedule"),
                    IssueCode::InvalidValue,
                    message,
                ));
            }
            if input.as_ref().is_some_and(|i| !i.is_object()) {
                issues.push(Issue::field(
                    format!("triggers[{i}].input"),
                    IssueCode::InvalidValue,
                    "a cron trigger's input is an object",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn schedules_give_the_next_time_and_bad_ones_are_issues() {
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 1, 1, 1, 59, 30)
            .single()
            .expect("time");
        let next = next_fire("0 2 * * *", at).expect("next");
        assert_eq!(
            next,
            chrono::Utc
                .with_ymd_and_hms(2026, 1, 1, 2, 0, 0)
                .single()
                .expect("time")
        );
        let every_second = next_fire("* * * * * *", at).expect("next");
        assert_eq!((every_second - at).num_seconds(), 1);

        let mut issues = Vec::new();
        let triggers = vec![
            TriggerSpec::Cron {
                name: "nightly".into(),
                schedule: "61 * * * *".into(),
                input: Some(Value::from(1)),
            },
            TriggerSpec::Webhook {
                name: "nightly".into(),
            },
            TriggerSpec::Webhook {
                name: "bad name".into(),
            },
        ];
        check(&triggers, &mut issues);
        let fields: Vec<_> = issues.iter().filter_map(|i| i.field.as_deref()).collect();
        assert_eq!(
            fields,
            [
                "triggers[0].schedule",
                "triggers[0].input",
                "triggers[1].name",
                "triggers[2].name"
            ]
        );
    }
}
