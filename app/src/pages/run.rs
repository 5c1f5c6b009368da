//! `/workflows/:key/run`: the operator's page before launch. Pick the root record, see the
//! execution preview — the entity tree as a graph, each record coloured by the task node bound
//! to it — untick bindings on the diagram or in the list, fill the input, optionally as a dry
//! run, and launch; the page then opens the instance's live monitor.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde_json::Value;

use crate::api::AppError;
use crate::designer::text::DKey;
use crate::i18n::{use_i18n, Key};
use crate::run::{launch, load_run, preview_run, root_choices, BoundNode, Preview, RunInfo};

const BOX_W: f64 = 170.0;
const BOX_H: f64 = 44.0;
/// One colour per bound task node, in the order the workflow lists them.
const COLOURS: [&str; 6] = [
    "#2f4dd3", "#d4466f", "#0f8a8a", "#c98a1b", "#7a4fd6", "#3c9a5f",
];

fn colour(nodes: &[BoundNode], node: &str) -> &'static str {
    nodes
        .iter()
        .position(|n| n.id == node)
        .map_or("#8e97ad", |i| COLOURS[i % COLOURS.len()])
}

/// A binding as the page keeps it: `(node, record)`.
type Pair = (String, String);

#[component]
pub fn RunPage() -> impl IntoView {
    let i18n = use_i18n();
    let params = use_params_map();
    let key = move || params.with(|p| p.get("key").unwrap_or_default());
    let info = Resource::new(key, load_run);
    view! {
        <Title text=i18n.t(DKey::RunTitle) />
        <section class="page run-page">
            <Suspense fallback=move || view! { <p class="muted">{i18n.t(Key::Checking)}</p> }>
                {move || {
                    info.get().map(|answer| match answer {
                        Ok(info) => view! { <Run info /> }.into_any(),
                        Err(error) => super::not_loaded(&error, Some((Key::WorkflowNotFound, "workflow-missing"))),
                    })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn Run(info: RunInfo) -> impl IntoView {
    let i18n = use_i18n();
    let key = StoredValue::new(info.key.clone());
    let nodes = StoredValue::new(info.bound_nodes.clone());
    let q = RwSignal::new(String::new());
    let root = RwSignal::new(None::<String>);
    let choices = Resource::new(move || q.get(), move |q| root_choices(key.get_value(), q));
    let preview = Resource::new(
        move || root.get(),
        move |root| async move {
            match root {
                Some(root) => preview_run(key.get_value(), root).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let kept = RwSignal::new(BTreeSet::<Pair>::new());
    // A new preview keeps every binding to begin with.
    Effect::new(move |_| {
        if let Some(Ok(Some(p))) = preview.get() {
            kept.set(
                p.bindings
                    .iter()
                    .map(|b| (b.node.clone(), b.data_id.clone()))
                    .collect(),
            );
        }
    });
    let inputs = RwSignal::new(BTreeMap::<String, String>::new());
    let mock = RwSignal::new(false);
    let problem = RwSignal::new(None::<String>);
    let schema: Option<Value> = info
        .input_schema
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok());
    let fields = schema_fields(schema.as_ref());
    let field_types = StoredValue::new(
        fields
            .iter()
            .map(|f| (f.name.clone(), f.kind))
            .collect::<Vec<_>>(),
    );
    let navigate = use_navigate();
    let go = Action::new(
        move |(session, kept, input, mock): &(String, String, String, bool)| {
            let (session, kept, input, mock) =
                (session.clone(), kept.clone(), input.clone(), *mock);
            async move { launch(key.get_value(), session, kept, input, mock).await }
        },
    );
    Effect::new(move |_| {
        if let Some(answer) = go.value().get() {
            match answer {
                Ok(id) => navigate(&format!("/instances/{id}"), Default::default()),
                Err(AppError::Invalid(errors)) => problem.set(Some(
                    errors
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                )),
                Err(e) => problem.set(Some(e.to_string())),
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        problem.set(None);
        let Some(Ok(Some(p))) = preview.get_untracked() else {
            return;
        };
        let chosen: Vec<Pair> = kept.get_untracked().into_iter().collect();
        let input = build_input(&inputs.get_untracked(), &field_types.get_value());
        go.dispatch((
            p.session_id,
            serde_json::to_string(&chosen).unwrap_or_default(),
            input.to_string(),
            mock.get_untracked(),
        ));
    };
    let root_type = info.root_entity.clone();
    let has_root = root_type.is_some();
    view! {
        <div class="page-head">
            <div>
                <h1>{i18n.t(DKey::RunTitle)} " · " {info.name.clone()}</h1>
                <p class="muted"><code>{info.key.clone()}</code> " · v" {info.version}</p>
            </div>
            <A href=format!("/workflows/{}/design", info.key)>{i18n.t(DKey::OpenDesigner)}</A>
        </div>
        {(!has_root).then(|| view! { <p class="notice info">{i18n.t(DKey::NoRootEntity)}</p> })}
        <div class="run-grid">
            <form class="card run-form" on:submit=submit>
                {has_root.then(|| view! {
                    <fieldset class="root-pick">
                        <legend>{i18n.t(DKey::PickRoot)} " (" <code>{root_type.clone()}</code> ")"</legend>
                        <input type="search" data-testid="root-search" placeholder=i18n.t(DKey::SearchRoot)
                            prop:value=move || q.get() on:input=move |ev| q.set(event_target_value(&ev)) />
                        <ul class="choices" data-testid="root-choices">
                            <Transition fallback=|| ()>
                                {move || choices.get().map(|answer| match answer {
                                    Ok(list) if list.is_empty() => view! { <li class="muted">{i18n.t(DKey::NoRecords)}</li> }.into_any(),
                                    Ok(list) => list.into_iter().map(|r| {
                                        let guid = r.guid.clone();
                                        let chosen = r.guid.clone();
                                        view! {
                                            <li>
                                                <button type="button" class="choice" aria-pressed=move || (root.get().as_deref() == Some(chosen.as_str())).to_string()
                                                    on:click=move |_| root.set(Some(guid.clone()))>
                                                    {r.display_name.clone()} " " <span class="muted mono">{r.guid.clone()}</span>
                                                </button>
                                            </li>
                                        }
                                    }).collect_view().into_any(),
                                    Err(e) => view! { <li class="error">{e.to_string()}</li> }.into_any(),
                                })}
                            </Transition>
                        </ul>
                    </fieldset>
                })}
                <Transition fallback=|| ()>
                    {move || preview.get().map(|answer| match answer {
                        Ok(Some(p)) => view! { <BindingList preview=p nodes=nodes.get_value() kept /> }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    })}
                </Transition>
                <fieldset class="run-input">
                    <legend>{i18n.t(DKey::Input)}</legend>
                    {if fields.is_empty() {
                        view! { <p class="muted">{i18n.t(DKey::NoInput)}</p> }.into_any()
                    } else {
                        fields.into_iter().map(|f| view! { <InputField field=f inputs /> }).collect_view().into_any()
                    }}
                </fieldset>
                <label class="check">
                    <input type="checkbox" data-testid="dry-run" prop:checked=move || mock.get()
                        on:change=move |ev| mock.set(event_target_checked(&ev)) />
                    {i18n.t(DKey::DryRun)}
                </label>
                {move || problem.get().map(|m| view! { <p class="error" role="alert" data-testid="launch-problem">{m}</p> })}
                <button type="submit" class="primary" data-testid="launch"
                    disabled=move || go.pending().get() || !matches!(preview.get(), Some(Ok(Some(_))))>
                    {move || if mock.get() { i18n.t(DKey::LaunchDry)() } else { i18n.t(DKey::Launch)() }}
                </button>
            </form>
            <section class="card preview-card" data-testid="preview">
                <h2>{i18n.t(DKey::PreviewTitle)}</h2>
                <Transition fallback=move || view! { <p class="muted">{i18n.t(Key::Checking)}</p> }>
                    {move || match preview.get() {
                        Some(Ok(Some(p))) => view! { <PreviewDiagram preview=p nodes=nodes.get_value() kept /> }.into_any(),
                        Some(Ok(None)) | None => view! { <p class="muted">{i18n.t(DKey::PreviewHint)}</p> }.into_any(),
                        Some(Err(_)) => ().into_any(),
                    }}
                </Transition>
            </section>
        </div>
    }
}

/// Every binding, by task node, each a checkbox.
#[component]
fn BindingList(
    preview: Preview,
    nodes: Vec<BoundNode>,
    kept: RwSignal<BTreeSet<Pair>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let groups: Vec<(BoundNode, Vec<(String, String)>)> = nodes
        .iter()
        .map(|n| {
            let records = preview
                .bindings
                .iter()
                .filter(|b| b.node == n.id)
                .map(|b| (b.data_id.clone(), b.display_name.clone()))
                .collect();
            (n.clone(), records)
        })
        .collect();
    view! {
        <fieldset class="bindings" data-testid="bindings">
            <legend>{i18n.t(DKey::Bindings)}</legend>
            {groups.into_iter().map(|(node, records)| {
                let swatch = colour(&nodes, &node.id);
                view! {
                    <div class="binding-group">
                        <p class="binding-node"><span class="swatch" style=format!("background:{swatch}")></span>{node.label.clone()}
                            " " <span class="muted">"(" {records.len()} ")"</span></p>
                        {records.is_empty().then(|| view! { <p class="muted">{i18n.t(DKey::NothingBound)}</p> })}
                        {records.into_iter().map(|(data_id, name)| {
                            let pair = (node.id.clone(), data_id.clone());
                            let toggle = pair.clone();
                            view! {
                                <label class="check">
                                    <input type="checkbox" prop:checked=move || kept.with(|k| k.contains(&pair))
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            kept.update(|k| { if on { k.insert(toggle.clone()); } else { k.remove(&toggle); } });
                                        } />
                                    {name}
                                </label>
                            }
                        }).collect_view()}
                    </div>
                }
            }).collect_view()}
        </fieldset>
    }
}

/// The entity tree drawn left to right; a record bound by a task node is filled in that node's
/// colour while it is kept, outlined when it is not; clicking it keeps or drops all of its
/// bindings.
#[component]
fn PreviewDiagram(
    preview: Preview,
    nodes: Vec<BoundNode>,
    kept: RwSignal<BTreeSet<Pair>>,
) -> impl IntoView {
    let ids: Vec<String> = preview.tree.iter().map(|n| n.id.clone()).collect();
    let edges: Vec<(String, String)> = preview
        .tree
        .iter()
        .flat_map(|n| {
            n.succeeding_ids
                .iter()
                .map(move |s| (n.id.clone(), s.clone()))
        })
        .collect();
    let at: HashMap<String, (f64, f64)> = crate::diagram::layered(&ids, &edges);
    let width = at.values().map(|p| p.0).fold(0.0, f64::max) + BOX_W + 24.0;
    let height = at.values().map(|p| p.1).fold(0.0, f64::max) + BOX_H + 24.0;
    let place = |id: &str| {
        at.get(id)
            .map(|(x, y)| (x + 12.0, y + 12.0))
            .unwrap_or_default()
    };
    let lines: Vec<String> = edges
        .iter()
        .map(|(from, to)| {
            let (fx, fy) = place(from);
            let (tx, ty) = place(to);
            crate::designer::viewport::link_path(
                crate::designer::viewport::Point::new(fx + BOX_W, fy + BOX_H / 2.0),
                crate::designer::viewport::Point::new(tx, ty + BOX_H / 2.0),
            )
        })
        .collect();
    let legend = nodes.clone();
    view! {
        <div class="legend">
            {legend.iter().map(|n| view! {
                <span><span class="swatch" style=format!("background:{}", colour(&legend, &n.id))></span>{n.label.clone()}</span>
            }).collect_view()}
        </div>
        <div class="diagram-wrap">
            <svg class="preview-diagram" width=width height=height viewBox=format!("0 0 {width} {height}")>
                {lines.into_iter().map(|d| view! { <path class="tree-edge" d=d /> }).collect_view()}
                {preview.tree.into_iter().map(|n| {
                    let (x, y) = place(&n.id);
                    let fill = n.bound_by.first().map(|b| colour(&nodes, b));
                    let pairs: Vec<Pair> = n.bound_by.iter().map(|b| (b.clone(), n.data_id.clone())).collect();
                    let bound = !pairs.is_empty();
                    let watched = pairs.clone();
                    let is_kept = move || kept.with(|k| watched.iter().any(|p| k.contains(p)));
                    let toggle = move |_| {
                        if pairs.is_empty() {
                            return;
                        }
                        kept.update(|k| {
                            let any = pairs.iter().any(|p| k.contains(p));
                            for p in &pairs {
                                if any { k.remove(p); } else { k.insert(p.clone()); }
                            }
                        });
                    };
                    let label = crate::designer::canvas::short(&n.display_name, 21);
                    let style = fill.map(|c| format!("--bound:{c}")).unwrap_or_default();
                    view! {
                        <g class="record" class:bound=bound class:kept=is_kept style=style data-record=n.data_id.clone()
                            on:click=toggle role=if bound { "button" } else { "img" } tabindex=if bound { "0" } else { "-1" }
                            aria-label=format!("{} ({})", n.display_name, n.entity)>
                            <rect x=x y=y width=BOX_W height=BOX_H rx="8" />
                            <text x=x + 10.0 y=y + 18.0 class="record-name">{label}</text>
                            <text x=x + 10.0 y=y + 34.0 class="record-type">{format!("{}:{}", n.package, n.entity)}</text>
                        </g>
                    }
                }).collect_view()}
            </svg>
        </div>
    }
}

/// An input field generated from the schema.
#[derive(Debug, Clone, PartialEq)]
struct Field {
    name: String,
    label: String,
    kind: FieldKind,
    required: bool,
    options: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum FieldKind {
    Text,
    Number,
    Integer,
    Boolean,
}

/// The top-level properties of an object schema, as form fields.
fn schema_fields(schema: Option<&Value>) -> Vec<Field> {
    let Some(schema) = schema else {
        return Vec::new();
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    schema["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .map(|(name, p)| Field {
                    name: name.clone(),
                    label: p["title"].as_str().unwrap_or(name).to_string(),
                    kind: match p["type"].as_str() {
                        Some("number") => FieldKind::Number,
                        Some("integer") => FieldKind::Integer,
                        Some("boolean") => FieldKind::Boolean,
                        _ => FieldKind::Text,
                    },
                    required: required.contains(&name.as_str()),
                    options: p["enum"]
                        .as_array()
                        .map(|o| {
                            o.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The input the fields' texts stand for; an empty field is left out (the schema says whether
/// it may be), a number that does not parse is sent as typed (the schema check names it).
fn build_input(values: &BTreeMap<String, String>, kinds: &[(String, FieldKind)]) -> Value {
    let mut input = serde_json::Map::new();
    for (name, kind) in kinds {
        let text = values.get(name).map(|t| t.trim()).unwrap_or_default();
        let value = match kind {
            FieldKind::Boolean => Value::Bool(text == "true"),
            _ if text.is_empty() => continue,
            FieldKind::Integer => text
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(text.into())),
            FieldKind::Number => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| Value::String(text.into()), Value::Number),
            FieldKind::Text => Value::String(text.into()),
        };
        input.insert(name.clone(), value);
    }
    Value::Object(input)
}

#[component]
fn InputField(field: Field, inputs: RwSignal<BTreeMap<String, String>>) -> impl IntoView {
    let name = StoredValue::new(field.name.clone());
    let value = move || inputs.with(|i| i.get(&name.get_value()).cloned().unwrap_or_default());
    let set = move |text: String| inputs.update(|i| _ = i.insert(name.get_value(), text));
    let id = format!("input-{}", field.name);
    let control = match (field.kind, field.options.is_empty()) {
        (FieldKind::Boolean, _) => view! {
            <input id=id.clone() type="checkbox" prop:checked=move || value() == "true"
                on:change=move |ev| set(event_target_checked(&ev).to_string()) />
        }.into_any(),
        (_, false) => view! {
            <select id=id.clone() prop:value=value on:change=move |ev| set(event_target_value(&ev))>
                <option value="">"—"</option>
                {field.options.iter().map(|o| view! { <option value=o.clone()>{o.clone()}</option> }).collect_view()}
            </select>
        }.into_any(),
        (kind, true) => view! {
            <input id=id.clone() type=if kind == FieldKind::Text { "text" } else { "number" } required=field.required
                prop:value=value on:input=move |ev| set(event_target_value(&ev)) />
        }.into_any(),
    };
    view! {
        <div class="field">
            <label for=id>{field.label.clone()} {field.required.then_some(" *")}</label>
            {control}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_form_follows_the_schema_and_builds_typed_input() {
        let schema = json!({"type": "object", "required": ["env"],
            "properties": {"env": {"type": "string", "enum": ["prd", "dev"]},
                           "count": {"type": "integer"}, "fast": {"type": "boolean"}}});
        let fields = schema_fields(Some(&schema));
        assert_eq!(fields.len(), 3);
        let env = fields.iter().find(|f| f.name == "env").expect("env");
        assert!(env.required && env.options == ["prd", "dev"]);
        let kinds: Vec<(String, FieldKind)> =
            fields.iter().map(|f| (f.name.clone(), f.kind)).collect();
        let values: BTreeMap<String, String> =
            [("env".into(), "prd".into()), ("count".into(), "3".into())].into();
        assert_eq!(
            build_input(&values, &kinds),
            json!({"env": "prd", "count": 3, "fast": false})
        );
        assert!(schema_fields(None).is_empty());
    }
}
