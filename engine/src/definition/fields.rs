//! The rules of each node's own fields: what a kind requires, mappings, retry, scripts.

use std::collections::HashSet;

use super::node::{AcceptedStatus, FormFieldKind, Http, Mapping, Node, NodeKind, Phase};
use super::path;
use super::validate::{first_line, name_rule};
use super::{Issue, IssueCode};

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

struct Report<'a> {
    node: &'a str,
    issues: &'a mut Vec<Issue>,
}

impl Report<'_> {
    fn push(&mut self, field: impl Into<String>, code: IssueCode, message: impl Into<String>) {
        self.issues
            .push(Issue::on_node(self.node, Some(field.into()), code, message));
    }

    fn missing(&mut self, field: &str, what: &str) {
        let kind_needs = format!("{what} is required");
        self.push(field, IssueCode::MissingField, kind_needs);
    }
}

pub(super) fn check(node: &Node, issues: &mut Vec<Issue>) {
    let mut report = Report {
        node: &node.id,
        issues,
    };
    check_mappings(
        &node.input_mappings,
        "input_mappings",
        ("context", "input"),
        &mut report,
    );
    // An end node's output mappings write the workflow's output from the context.
    let output_roots = if matches!(node.kind, NodeKind::End) {
        ("context", "output")
    } else {
        ("output", "context")
    };
    check_mappings(
        &node.output_mappings,
        "output_mappings",
        output_roots,
        &mut report,
    );
    if let Some(retry) = &node.retry {
        if !(1..=100).contains(&retry.max_attempts) {
            report.push(
                "retry.max_attempts",
                IssueCode::InvalidValue,
                "max_attempts counts every attempt, the first included: 1 to 100",
            );
        }
        if !(1.0..=10.0).contains(&retry.backoff_factor) {
            report.push(
                "retry.backoff_factor",
                IssueCode::InvalidValue,
                "backoff_factor multiplies the wait after each attempt: 1 to 10",
            );
        }
    }
    if let Some(compensation) = &node.compensation {
        for phase in [Phase::Rollback, Phase::Cancel, Phase::Delete] {
            if let Some(action) = compensation.action(phase) {
                check_request(
                    action,
                    &format!("compensation.{}.", phase.as_str()),
                    &mut report,
                );
            }
        }
    }
    match &node.kind {
        NodeKind::Start
        | NodeKind::End
        | NodeKind::Condition
        | NodeKind::Parallel
        | NodeKind::Join { .. } => {}
        NodeKind::Http(http) => check_request(http, "", &mut report),
        NodeKind::Script { script } => {
            if script.trim().is_empty() {
                report.missing("script", "the script");
            } else if let Err(message) = compile_script(script) {
                report.push("script", IssueCode::InvalidScript, message);
            }
        }
        NodeKind::Foreach(foreach) => {
            match foreach.items.as_deref() {
                None | Some("") => report.missing("items", "the JSONPath of the collection"),
                Some(items) => {
                    if let Err(message) = path::parse(items) {
                        report.push("items", IssueCode::InvalidJsonpath, message);
                    }
                }
            }
            if let Some(c) = foreach.concurrency {
                if !(1..=100).contains(&c) {
                    report.push(
                        "concurrency",
                        IssueCode::InvalidValue,
                        "concurrency: 1 to 100",
                    );
                }
            }
        }
        NodeKind::Timer(timer) => match (&timer.duration, &timer.until) {
            (None, None) => report.missing("duration", "a duration or an until time"),
            (Some(_), Some(_)) => report.push(
                "until",
                IssueCode::InvalidValue,
                "give a duration or an until time, not both",
            ),
            (None, Some(until)) => {
                if chrono::DateTime::parse_from_rfc3339(until).is_err() {
                    report.push(
                        "until",
                        IssueCode::InvalidValue,
                        format!("`{until}` is not an RFC 3339 time like 2026-01-31T09:00:00Z"),
                    );
                }
            }
            (Some(_), None) => {}
        },
        NodeKind::Approval(approval) => {
            if approval
                .title
                .as_deref()
                .is_none_or(|t| t.trim().is_empty())
            {
                report.missing("title", "a title");
            }
            if approval.assignees.is_empty() && approval.groups.is_empty() {
                report.missing("assignees", "at least one assignee or candidate group");
            }
            let mut outcomes = HashSet::new();
            for (i, outcome) in approval.outcomes.iter().enumerate() {
                if outcome.trim().is_empty() || !outcomes.insert(outcome) {
                    report.push(
                        format!("outcomes[{i}]"),
                        IssueCode::InvalidValue,
                        "outcomes are distinct, non-empty names",
                    );
                }
            }
            let mut names = HashSet::new();
            for (i, field) in approval.form.iter().enumerate() {
                if name_rule(&field.name).is_err() || !names.insert(&field.name) {
                    report.push(
                        format!("form[{i}].name"),
                        IssueCode::InvalidValue,
                        "form fields have distinct names of letters, digits, `_` and `-`",
                    );
                }
                if field.kind == FormFieldKind::Enum && field.options.is_empty() {
                    report.missing(&format!("form[{i}].options"), "an enum field's options");
                }
            }
        }
        NodeKind::Callback(callback) => {
            if callback.url.is_some() {
                check_method(callback.method.as_deref(), "", &mut report);
            }
        }
        NodeKind::Job(job) => {
            if job
                .deployment
                .as_deref()
                .is_none_or(|d| d.trim().is_empty())
            {
                report.missing("deployment", "the deployment to run");
            }
            if job.priority.is_some_and(|p| p > 5_000) {
                report.push("priority", IssueCode::InvalidValue, "priority: 0 to 5000");
            }
            if job.max_retries.is_some_and(|r| r > 10) {
                report.push(
                    "max_retries",
                    IssueCode::InvalidValue,
                    "max_retries: 0 to 10",
                );
            }
            if let Some(policy) = job.trigger_policy.as_deref() {
                if !matches!(policy, "SkipWhenNoResource" | "AnyTime") {
                    report.push(
                        "trigger_policy",
                        IssueCode::InvalidValue,
                        "trigger_policy: SkipWhenNoResource or AnyTime",
                    );
                }
            }
        }
        NodeKind::Subprocess(sub) => match sub.definition.as_deref() {
            None | Some("") => report.missing("definition", "the key of the definition to run"),
            Some(key) => {
                if let Err(message) = name_rule(key) {
                    report.push("definition", IssueCode::InvalidValue, message);
                }
            }
        },
    }
}

fn check_method(method: Option<&str>, prefix: &str, report: &mut Report<'_>) {
    if let Some(method) = method {
        if !METHODS.contains(&method) {
            report.push(
                format!("{prefix}method"),
                IssueCode::InvalidValue,
                format!("`{method}`: use one of {}", METHODS.join(", ")),
            );
        }
    }
}

/// Input mappings read the context and write the node's input; output mappings read the node's
/// output and write the context.
fn check_mappings(
    mappings: &[Mapping],
    field: &str,
    (from, to): (&str, &str),
    report: &mut Report<'_>,
) {
    for (i, mapping) in mappings.iter().enumerate() {
        let source_field = format!("{field}[{i}].source");
        match path::parse(&mapping.source) {
            Err(message) => report.push(&source_field, IssueCode::InvalidJsonpath, message),
            Ok(_) if !path::is_under(&mapping.source, from) => report.push(
                &source_field,
                IssueCode::InvalidJsonpath,
                format!("`{}` must read from $.{from}", mapping.source),
            ),
            Ok(_) => {}
        }
        let target_field = format!("{field}[{i}].target");
        match path::parse(&mapping.target) {
            Err(message) => report.push(&target_field, IssueCode::InvalidJsonpath, message),
            Ok(_) if path::singular(&mapping.target).is_none() => report.push(
                &target_field,
                IssueCode::InvalidJsonpath,
                format!(
                    "`{}` must name one place to write, like $.{to}.name or $.{to}.list[0]",
                    mapping.target
                ),
            ),
            Ok(_) if !path::is_under(&mapping.target, to) => report.push(
                &target_field,
                IssueCode::InvalidJsonpath,
                format!("`{}` must write into $.{to}", mapping.target),
            ),
            Ok(_) => {}
        }
    }
}

/// Compiles a script with the same engine settings the executor uses; no code runs.
pub(crate) fn compile_script(script: &str) -> Result<(), String> {
    let engine = rhai::Engine::new_raw();
    engine.compile(script).map(|_| ()).map_err(|e| {
        format!(
            "the script does not compile: {}",
            first_line(&e.to_string())
        )
    })
}

/// An http request's URL, method and accepted statuses (an http node's, or a compensation
/// action's, whose fields are named under `prefix`).
fn check_request(http: &Http, prefix: &str, report: &mut Report<'_>) {
    match http.url.as_deref().map(str::trim) {
        None | Some("") => report.missing(&format!("{prefix}url"), "the URL to call"),
        Some(url)
            if !(url.starts_with("http://")
                || url.starts_with("https://")
                || url.starts_with("{{")) =>
        {
            report.push(
                format!("{prefix}url"),
                IssueCode::InvalidValue,
                format!("`{url}` is not an http:// or https:// URL"),
            )
        }
        Some(_) => {}
    }
    check_method(http.method.as_deref(), prefix, report);
    for (i, status) in http.accepted_statuses.iter().enumerate() {
        let ok = match status {
            AcceptedStatus::Code(code) => (100..=599).contains(code),
            AcceptedStatus::Class(class) => {
                matches!(class.as_str(), "1xx" | "2xx" | "3xx" | "4xx" | "5xx")
            }
        };
        if !ok {
            report.push(
                format!("{prefix}accepted_statuses[{i}]"),
                IssueCode::InvalidValue,
                "a status from 100 to 599, or a class like 2xx",
            );
        }
    }
}
