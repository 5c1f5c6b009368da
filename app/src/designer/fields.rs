//! The properties panel's forms, as data: which fields each node kind shows, how each is edited,
//! and its label in each language (this table is the designer's translation of field names).

use serde_json::Value;

use crate::i18n::Locale;

/// How a field is edited, and how its text becomes the document's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Widget {
    Text,
    /// Several lines of text (content, descriptions).
    Area,
    /// Code in a monospace box (scripts).
    Code,
    Number,
    /// One of the given values; the empty choice removes the field.
    Choice(&'static [&'static str]),
    /// Comma-separated values, kept as a list of strings.
    List,
    /// Any JSON value, checked as typed.
    Json,
    Check,
    /// A deployment's name: typed (templates allowed), with the existing ones offered.
    Deployment,
}

#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// Where the value sits in the node (`retry.max_attempts`).
    pub path: &'static str,
    pub en: &'static str,
    pub zh: &'static str,
    pub widget: Widget,
}

impl FieldSpec {
    pub fn label(&self, locale: Locale) -> &'static str {
        match locale {
            Locale::En => self.en,
            Locale::Zh => self.zh,
        }
    }
}

const fn f(path: &'static str, en: &'static str, zh: &'static str, widget: Widget) -> FieldSpec {
    FieldSpec {
        path,
        en,
        zh,
        widget,
    }
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

const HTTP_FIELDS: &[FieldSpec] = &[
    f("method", "Method", "方法", Widget::Choice(METHODS)),
    f("url", "URL", "URL", Widget::Text),
    f(
        "headers",
        "Headers (JSON object)",
        "请求头（JSON 对象）",
        Widget::Json,
    ),
    f("body", "Body (JSON)", "请求体（JSON）", Widget::Json),
    f(
        "accepted_statuses",
        "Accepted statuses (JSON, e.g. [\"2xx\", 404])",
        "视为成功的状态码（JSON）",
        Widget::Json,
    ),
];

const SCRIPT_FIELDS: &[FieldSpec] = &[f("script", "Script (Rhai)", "脚本（Rhai）", Widget::Code)];

const JOIN_FIELDS: &[FieldSpec] = &[f(
    "join",
    "Wait for",
    "等待方式",
    Widget::Choice(&["all", "first"]),
)];

const FOREACH_FIELDS: &[FieldSpec] = &[
    f(
        "items",
        "Items (JSONPath)",
        "集合（JSONPath）",
        Widget::Text,
    ),
    f("concurrency", "At once", "并发数", Widget::Number),
    f(
        "body",
        "Body: nodes and edges (JSON)",
        "循环体：节点与连线（JSON）",
        Widget::Json,
    ),
];

const TIMER_FIELDS: &[FieldSpec] = &[
    f(
        "duration",
        "Wait for (e.g. 30s, 5m, 2h)",
        "等待时长（如 30s、5m、2h）",
        Widget::Text,
    ),
    f(
        "until",
        "Or until (RFC 3339 time)",
        "或等到（RFC 3339 时间）",
        Widget::Text,
    ),
];

const APPROVAL_FIELDS: &[FieldSpec] = &[
    f("title", "Task title", "任务标题", Widget::Text),
    f("content", "Instructions", "说明", Widget::Area),
    f(
        "assignees",
        "Assignees (user names, comma-separated)",
        "处理人（用户名，逗号分隔）",
        Widget::List,
    ),
    f(
        "groups",
        "Groups (comma-separated)",
        "处理组（逗号分隔）",
        Widget::List,
    ),
    f(
        "outcomes",
        "Outcomes (comma-separated)",
        "结果选项（逗号分隔）",
        Widget::List,
    ),
    f(
        "form",
        "Form fields (JSON list of {name, label, type, required})",
        "表单字段（JSON 列表）",
        Widget::Json,
    ),
    f("due", "Due after (e.g. 2d)", "期限（如 2d）", Widget::Text),
];

const CALLBACK_FIELDS: &[FieldSpec] = &[
    f(
        "url",
        "Request URL (optional)",
        "请求 URL（可选）",
        Widget::Text,
    ),
    f("method", "Method", "方法", Widget::Choice(METHODS)),
    f("body", "Body (JSON)", "请求体（JSON）", Widget::Json),
];

const JOB_FIELDS: &[FieldSpec] = &[
    f("deployment", "Deployment", "流程部署", Widget::Deployment),
    f(
        "arguments",
        "Arguments (JSON)",
        "参数（JSON）",
        Widget::Json,
    ),
    f(
        "priority",
        "Priority (0–5000)",
        "优先级（0–5000）",
        Widget::Number,
    ),
    f(
        "max_retries",
        "Max retries (0–10)",
        "最大重试次数（0–10）",
        Widget::Number,
    ),
    f(
        "trigger_policy",
        "When no robot is free",
        "无空闲机器人时",
        Widget::Choice(&["AnyTime", "SkipWhenNoResource"]),
    ),
];

const SUBPROCESS_FIELDS: &[FieldSpec] = &[
    f("definition", "Workflow key", "子流程标识", Widget::Text),
    f(
        "version",
        "Version (latest when empty)",
        "版本（留空为最新）",
        Widget::Number,
    ),
];

/// The fields a node kind adds.
pub fn kind_fields(kind: &str) -> &'static [FieldSpec] {
    match kind {
        "http" => HTTP_FIELDS,
        "script" => SCRIPT_FIELDS,
        "join" => JOIN_FIELDS,
        "foreach" => FOREACH_FIELDS,
        "timer" => TIMER_FIELDS,
        "approval" => APPROVAL_FIELDS,
        "callback" => CALLBACK_FIELDS,
        "job" => JOB_FIELDS,
        "subprocess" => SUBPROCESS_FIELDS,
        _ => &[],
    }
}

/// Fields every node that does work has: limits, failure handling, test data.
pub const BEHAVIOUR: &[FieldSpec] = &[
    f(
        "timeout",
        "Time limit (e.g. 30s)",
        "超时（如 30s）",
        Widget::Text,
    ),
    f(
        "retry.max_attempts",
        "Attempts in all",
        "最多尝试次数",
        Widget::Number,
    ),
    f(
        "retry.initial_interval",
        "First retry after",
        "首次重试间隔",
        Widget::Text,
    ),
    f(
        "retry.backoff_factor",
        "Backoff factor",
        "退避倍数",
        Widget::Number,
    ),
    f(
        "on_error",
        "When it fails",
        "失败时",
        Widget::Choice(&["fail", "ignore", "branch", "pause"]),
    ),
    f(
        "mock",
        "Dry-run output (JSON)",
        "试运行输出（JSON）",
        Widget::Json,
    ),
];

/// The binding of a node that does work: which records of the root entity it runs for.
pub const BINDING: FieldSpec = f(
    "binding",
    "Data binding: runs once per record (e.g. wecmdb:subsys~(subsys)wecmdb:unit)",
    "数据绑定：按每条数据各运行一次（如 wecmdb:subsys~(subsys)wecmdb:unit）",
    Widget::Text,
);

/// Fields of the definition itself.
pub const DEFINITION: &[FieldSpec] = &[
    f("name", "Name", "名称", Widget::Text),
    f("description", "Description", "描述", Widget::Area),
    f(
        "tags",
        "Tags (comma-separated)",
        "标签（逗号分隔）",
        Widget::List,
    ),
    f(
        "timeout",
        "Instance time limit (e.g. 1h)",
        "实例超时（如 1h）",
        Widget::Text,
    ),
    f(
        "root_entity",
        "Root entity type (package:entity)",
        "根实体类型（package:entity）",
        Widget::Text,
    ),
    f(
        "input_schema",
        "Input schema (JSON Schema)",
        "输入结构（JSON Schema）",
        Widget::Json,
    ),
];

/// Fields of an edge.
pub const EDGE: &[FieldSpec] = &[
    f(
        "condition",
        "Condition (CEL, e.g. context.amount > 100)",
        "条件（CEL）",
        Widget::Text,
    ),
    f(
        "error",
        "Taken when the node fails (on_error: branch)",
        "节点失败时走此线",
        Widget::Check,
    ),
];

/// The text a field shows for its value.
pub fn show(widget: Widget, value: Option<&Value>) -> String {
    match (widget, value) {
        (_, None | Some(Value::Null)) => String::new(),
        (Widget::List, Some(Value::Array(items))) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        (Widget::Json, Some(v)) => serde_json::to_string_pretty(v).unwrap_or_default(),
        (_, Some(Value::String(s))) => s.clone(),
        (_, Some(v)) => v.to_string(),
    }
}

/// The value a field's text stands for; `Ok(None)` removes the field, `Err` is a JSON field
/// whose text is not JSON yet (the document keeps its last value).
pub fn read(widget: Widget, text: &str) -> Result<Option<Value>, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    Ok(Some(match widget {
        Widget::Number => match trimmed.parse::<u64>() {
            Ok(n) => Value::from(n),
            // Not a whole number: kept as typed, so validation names the field.
            Err(_) => trimmed
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| Value::String(trimmed.to_string()), Value::Number),
        },
        Widget::List => Value::Array(
            trimmed
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        Widget::Json => serde_json::from_str(trimmed).map_err(|e| e.to_string())?,
        Widget::Check => Value::Bool(trimmed == "true"),
        Widget::Code | Widget::Area => Value::String(text.to_string()),
        Widget::Text | Widget::Choice(_) | Widget::Deployment => Value::String(trimmed.to_string()),
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn texts_become_values_and_back() {
        assert_eq!(read(Widget::Number, " 3 "), Ok(Some(json!(3))));
        assert_eq!(read(Widget::Number, "1.5"), Ok(Some(json!(1.5))));
        assert_eq!(read(Widget::Number, "lots"), Ok(Some(json!("lots"))));
        assert_eq!(
            read(Widget::List, "a, b,,c"),
            Ok(Some(json!(["a", "b", "c"])))
        );
        assert_eq!(read(Widget::Text, "  "), Ok(None));
        assert!(read(Widget::Json, "{nope").is_err());
        assert_eq!(show(Widget::List, Some(&json!(["a", "b"]))), "a, b");
        assert_eq!(show(Widget::Number, Some(&json!(5))), "5");
        assert_eq!(
            show(Widget::Json, Some(&json!({"a": 1}))),
            "{\n  \"a\": 1\n}"
        );
    }

    #[test]
    fn every_kind_in_the_palette_has_a_form_that_its_fields_accept() {
        for kind in engine::definition::NodeKind::ALL {
            for spec in kind_fields(kind) {
                let top = spec.path.split('.').next().unwrap_or_default();
                assert!(
                    engine::definition::NodeKind::fields_of(kind)
                        .is_some_and(|fields| fields.contains(&top)),
                    "{kind}.{top}"
                );
            }
        }
    }
}
