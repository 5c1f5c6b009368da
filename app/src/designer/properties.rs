//! The properties panel: a form for what is selected — the definition itself, one node (by its
//! kind), or one edge. Every field writes straight into the document through the editor (typing
//! in one field is one undo step) and shows the engine's issue for that field beside it.

use engine::definition::Issue;
use leptos::prelude::*;
use serde_json::{json, Value};

use super::edit;
use super::fields::{self, FieldSpec, Widget};
use super::text::DKey;
use super::{field_matches, Editor, Selection};
use crate::i18n::use_i18n;

/// Kinds that do work, and so have time limits, retries and failure handling.
fn does_work(kind: &str) -> bool {
    !matches!(kind, "start" | "end" | "condition" | "parallel" | "join")
}

#[component]
pub fn Properties(editor: Editor, issues: Memo<Vec<Issue>>) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        let selection = editor.selection.get();
        match (selection.nodes.as_slice(), selection.edge) {
            ([], Some(index)) => view! { <EdgeForm editor issues index /> }.into_any(),
            ([id], _) => view! { <NodeForm editor issues id=id.clone() /> }.into_any(),
            ([], None) => view! { <DefinitionForm editor issues /> }.into_any(),
            (many, _) => {
                let count = many.len();
                view! {
                    <section class="properties" data-testid="properties">
                        <h2>{count} " " {i18n.t(DKey::NodesSelected)}</h2>
                        <button type="button" class="danger" disabled=move || editor.read_only.get()
                            on:click=move |_| delete_selection(editor)>
                            {i18n.t(DKey::Delete)}
                        </button>
                    </section>
                }
                .into_any()
            }
        }
    }
}

/// Removes the selected nodes (with their edges) or the selected edge.
pub fn delete_selection(editor: Editor) {
    let selection = editor.selection.get_untracked();
    if selection.is_empty() {
        return;
    }
    let edges: Vec<usize> = selection.edge.into_iter().collect();
    editor.change(|d| edit::delete(d, &selection.nodes, &edges));
    editor.selection.set(Selection::default());
}

/// Where a field's value lives, so one widget serves the definition, nodes and edges.
#[derive(Clone)]
enum Owner {
    Definition,
    Node(String),
    Edge(usize),
}

impl Owner {
    fn read(&self, doc: &Value, path: &str) -> Option<Value> {
        let holder = match self {
            Owner::Definition => Some(doc),
            Owner::Node(id) => edit::node(doc, id),
            Owner::Edge(i) => doc.get("edges").and_then(|e| e.get(*i)),
        };
        holder.and_then(|h| edit::get_path(h, path)).cloned()
    }

    fn write(&self, doc: &mut Value, path: &str, value: Option<Value>) {
        match self {
            Owner::Definition => edit::set_doc_field(doc, path, value),
            Owner::Node(id) => edit::set_node_field(doc, id, path, value),
            Owner::Edge(i) => edit::set_edge_field(doc, *i, path, value),
        }
    }

    fn key(&self, path: &str) -> String {
        match self {
            Owner::Definition => format!("definition/{path}"),
            Owner::Node(id) => format!("node/{id}/{path}"),
            Owner::Edge(i) => format!("edge/{i}/{path}"),
        }
    }

    /// Whether an issue is about this owner's field `path`.
    fn concerns(&self, issue: &Issue, path: &str) -> bool {
        match self {
            Owner::Definition => {
                issue.node.is_none() && field_matches(issue.field.as_deref(), path)
            }
            Owner::Node(id) => {
                issue.node.as_deref() == Some(id.as_str())
                    && field_matches(issue.field.as_deref(), path)
            }
            Owner::Edge(i) => {
                issue.node.is_none()
                    && field_matches(issue.field.as_deref(), &format!("edges[{i}].{path}"))
            }
        }
    }
}

#[component]
fn Field(editor: Editor, issues: Memo<Vec<Issue>>, owner: Owner, spec: FieldSpec) -> impl IntoView {
    let i18n = use_i18n();
    let dom_id = format!("field-{}", spec.path.replace('.', "-"));
    let value = {
        let owner = owner.clone();
        Signal::derive(move || editor.doc.with(|d| owner.read(d, spec.path)))
    };
    let text = move || fields::show(spec.widget, value.get().as_ref());
    let not_json = RwSignal::new(None::<String>);
    let problem = {
        let owner = owner.clone();
        Memo::new(move |_| {
            not_json.get().or_else(|| {
                issues.with(|all| {
                    all.iter()
                        .find(|i| owner.concerns(i, spec.path))
                        .map(|i| i.message.clone())
                })
            })
        })
    };
    let commit = {
        let owner = owner.clone();
        move |typed: String| match fields::read(spec.widget, &typed) {
            Ok(v) => {
                not_json.set(None);
                let owner = owner.clone();
                editor.change_keyed(owner.key(spec.path), move |d| owner.write(d, spec.path, v));
            }
            Err(why) => not_json.set(Some(why)),
        }
    };
    let invalid = move || problem.with(Option::is_some);
    let disabled = move || editor.read_only.get();
    let input = match spec.widget {
        Widget::Text => view! {
            <input id=dom_id.clone() type="text" prop:value=text disabled=disabled aria-invalid=move || invalid().to_string()
                on:input=move |ev| commit(event_target_value(&ev)) />
        }
        .into_any(),
        Widget::Number | Widget::List => view! {
            <input id=dom_id.clone() type="text" prop:value=text disabled=disabled aria-invalid=move || invalid().to_string()
                on:change=move |ev| commit(event_target_value(&ev)) />
        }
        .into_any(),
        Widget::Area | Widget::Code => view! {
            <textarea id=dom_id.clone() rows=if spec.widget == Widget::Code { "8" } else { "3" }
                class:code=spec.widget == Widget::Code spellcheck="false"
                prop:value=text disabled=disabled aria-invalid=move || invalid().to_string()
                on:input=move |ev| commit(event_target_value(&ev))></textarea>
        }
        .into_any(),
        Widget::Json => view! {
            <textarea id=dom_id.clone() rows="4" class="code" spellcheck="false"
                prop:value=text disabled=disabled aria-invalid=move || invalid().to_string()
                on:change=move |ev| commit(event_target_value(&ev))></textarea>
        }
        .into_any(),
        Widget::Choice(options) => view! {
            <select id=dom_id.clone() prop:value=text disabled=disabled aria-invalid=move || invalid().to_string()
                on:change=move |ev| commit(event_target_value(&ev))>
                <option value="">{i18n.t(DKey::Default)}</option>
                {options.iter().map(|o| view! { <option value=*o>{*o}</option> }).collect_view()}
            </select>
        }
        .into_any(),
        Widget::Deployment => {
            let known = Resource::new(|| (), |_| crate::robots::load_deployments());
            let list_id = format!("{dom_id}-options");
            let options = move || {
                known
                    .get()
                    .and_then(Result::ok)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|d| {
                        let about = format!("{} {} · {}", d.package_name, d.package_version, d.queue);
                        view! { <option value=d.name>{about}</option> }
                    })
                    .collect_view()
            };
            // What the typed name runs, or that no deployment has it (a template is left alone).
            let about = move || {
                let typed = text();
                if typed.is_empty() || typed.contains("{{") {
                    return None;
                }
                let all = known.get()?.ok()?;
                Some(match all.into_iter().find(|d| d.name == typed) {
                    Some(d) => {
                        let runs_on = if d.robots.is_empty() {
                            d.queue.clone()
                        } else {
                            format!("{} ({})", d.queue, d.robots.join(", "))
                        };
                        let line = format!(
                            "{} {} · {} · {}",
                            d.package_name, d.package_version, runs_on, d.trigger_policy
                        );
                        view! { <p class="hint" data-testid="deployment-about">{line}</p> }.into_any()
                    }
                    None => view! {
                        <p class="field-warning" data-testid="deployment-about">
                            {i18n.t(crate::robots::RKey::UnknownDeployment)}
                        </p>
                    }
                    .into_any(),
                })
            };
            view! {
                <input id=dom_id.clone() type="text" list=list_id.clone() autocomplete="off"
                    prop:value=text disabled=disabled aria-invalid=move || invalid().to_string()
                    on:input=move |ev| commit(event_target_value(&ev)) />
                <datalist id=list_id>{options}</datalist>
                {about}
            }
            .into_any()
        }
        Widget::Check => view! {
            <input id=dom_id.clone() type="checkbox" prop:checked=move || value.get() == Some(Value::Bool(true))
                disabled=disabled on:change=move |ev| commit(event_target_checked(&ev).to_string()) />
        }
        .into_any(),
    };
    view! {
        <div class="field" class:invalid=invalid class:check=spec.widget == Widget::Check data-field=spec.path>
            <label for=dom_id>{move || spec.label(i18n.locale.get())}</label>
            {input}
            {move || problem.get().map(|m| view! { <p class="field-error">{m}</p> })}
        </div>
    }
}

fn field_list(
    editor: Editor,
    issues: Memo<Vec<Issue>>,
    owner: &Owner,
    specs: &'static [FieldSpec],
) -> impl IntoView {
    specs
        .iter()
        .map(|spec| view! { <Field editor issues owner=owner.clone() spec=*spec /> })
        .collect_view()
}

#[component]
fn DefinitionForm(editor: Editor, issues: Memo<Vec<Issue>>) -> impl IntoView {
    let i18n = use_i18n();
    let key = move || {
        editor.doc.with(|d| {
            d.get("key")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        })
    };
    view! {
        <section class="properties" data-testid="properties">
            <h2>{i18n.t(DKey::Workflow)}</h2>
            <p class="muted">{i18n.t(DKey::KeyLabel)} ": " <code>{key}</code></p>
            <p class="hint">{i18n.t(DKey::SelectHint)}</p>
            {field_list(editor, issues, &Owner::Definition, fields::DEFINITION)}
        </section>
    }
}

#[component]
fn NodeForm(editor: Editor, issues: Memo<Vec<Issue>>, id: String) -> impl IntoView {
    let i18n = use_i18n();
    let kind = editor
        .doc
        .with_untracked(|d| edit::look(d, &id).map(|l| l.kind).unwrap_or_default());
    let owner = Owner::Node(id.clone());
    let taken = RwSignal::new(false);
    let rename_from = id.clone();
    let rename = move |ev: leptos::ev::Event| {
        let new = event_target_value(&ev);
        let old = rename_from.clone();
        let mut done = false;
        editor.change(|d| done = edit::rename(d, &old, &new));
        taken.set(!done && new.trim() != old);
        if done {
            editor
                .selection
                .set(Selection::node(new.trim().to_string()));
        }
    };
    let node_issues = {
        let id = id.clone();
        move || {
            issues.with(|all| {
                all.iter()
                    .filter(|i| i.node.as_deref() == Some(id.as_str()) && i.field.is_none())
                    .map(|i| i.message.clone())
                    .collect::<Vec<_>>()
            })
        }
    };
    let kind_static: &'static [FieldSpec] = fields::kind_fields(&kind);
    let works = does_work(&kind);
    let mappings = works || kind == "start";
    view! {
        <section class="properties" data-testid="properties">
            <h2>{i18n.t(DKey::Node)} " · " <span class="kind-name">{kind.clone()}</span></h2>
            <ul class="node-issues">
                {move || node_issues().into_iter().map(|m| view! { <li class="field-error">{m}</li> }).collect_view()}
            </ul>
            <div class="field" class:invalid=move || taken.get()>
                <label for="field-id">{i18n.t(DKey::NodeId)}</label>
                <input id="field-id" type="text" prop:value=id.clone() disabled=move || editor.read_only.get() on:change=rename />
                {move || taken.get().then(|| view! { <p class="field-error">{i18n.t(DKey::IdTaken)}</p> })}
            </div>
            <Field editor issues owner=owner.clone() spec=FieldSpec { path: "name", en: "Name", zh: "名称", widget: Widget::Text } />
            <Field editor issues owner=owner.clone() spec=FieldSpec { path: "description", en: "Description", zh: "描述", widget: Widget::Area } />
            {field_list(editor, issues, &owner, kind_static)}
            {works.then(|| view! { <Field editor issues owner=owner.clone() spec=fields::BINDING /> })}
            {mappings.then(|| view! {
                <Mappings editor issues id=id.clone() path="input_mappings" title=DKey::InputMappings />
                <Mappings editor issues id=id.clone() path="output_mappings" title=DKey::OutputMappings />
            })}
            {works.then(|| view! {
                <details class="behaviour">
                    <summary>{i18n.t(DKey::Behaviour)}</summary>
                    {field_list(editor, issues, &owner, fields::BEHAVIOUR)}
                </details>
            })}
            <Connections editor id=id.clone() />
            <button type="button" class="danger" disabled=move || editor.read_only.get()
                on:click=move |_| delete_selection(editor)>
                {i18n.t(DKey::DeleteNode)}
            </button>
        </section>
    }
}

/// A change to a node's list of mappings.
type RowEdit = Box<dyn FnOnce(&mut Vec<Value>)>;

/// The JSONPath pairs a node copies in or out, one row each.
#[component]
fn Mappings(
    editor: Editor,
    issues: Memo<Vec<Issue>>,
    id: String,
    path: &'static str,
    title: DKey,
) -> impl IntoView {
    let i18n = use_i18n();
    let id = StoredValue::new(id);
    let rows = {
        move || {
            editor.doc.with(|d| {
                edit::node(d, &id.read_value())
                    .and_then(|n| n.get(path))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
        }
    };
    let write = {
        move |key: String, change: RowEdit| {
            let id = id.get_value();
            editor.change_keyed(key, move |d| {
                let mut list = edit::node(d, &id)
                    .and_then(|n| n.get(path))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                change(&mut list);
                let value = (!list.is_empty()).then_some(Value::Array(list));
                edit::set_node_field(d, &id, path, value);
            });
        }
    };
    let problem = {
        move |row: usize| {
            let id = id.get_value();
            issues.with(|all| {
                all.iter()
                    .find(|i| {
                        i.node.as_deref() == Some(id.as_str())
                            && field_matches(i.field.as_deref(), &format!("{path}[{row}]"))
                    })
                    .map(|i| i.message.clone())
            })
        }
    };
    view! {
        <fieldset class="mappings" data-field=path>
            <legend>{i18n.t(title)}</legend>
            {move || {
                rows()
                    .into_iter()
                    .enumerate()
                    .map(|(row, m)| {
                        let (source, target) = (
                            m.get("source").and_then(Value::as_str).unwrap_or_default().to_string(),
                            m.get("target").and_then(Value::as_str).unwrap_or_default().to_string(),
                        );
                        let cell = move |side: &'static str, text: String| {
                            write(
                                format!("{path}/{row}/{side}"),
                                Box::new(move |list: &mut Vec<Value>| {
                                    if let Some(item) = list.get_mut(row) {
                                        item[side] = Value::String(text);
                                    }
                                }),
                            )
                        };
                        view! {
                            <div class="mapping-row" class:invalid=move || problem(row).is_some()>
                                <input type="text" placeholder="$.context.x" aria-label=i18n.t(DKey::Source) prop:value=source
                                    disabled=move || editor.read_only.get()
                                    on:change=move |ev| cell("source", event_target_value(&ev)) />
                                <span aria-hidden="true">"→"</span>
                                <input type="text" placeholder="$.input.x" aria-label=i18n.t(DKey::Target) prop:value=target
                                    disabled=move || editor.read_only.get()
                                    on:change=move |ev| cell("target", event_target_value(&ev)) />
                                <button type="button" class="link" aria-label=i18n.t(DKey::RemoveRow)
                                    disabled=move || editor.read_only.get()
                                    on:click=move |_| write(format!("{path}/remove/{row}"), Box::new(move |list: &mut Vec<Value>| {
                                        if row < list.len() {
                                            list.remove(row);
                                        }
                                    }))>"×"</button>
                                {move || problem(row).map(|m| view! { <p class="field-error">{m}</p> })}
                            </div>
                        }
                    })
                    .collect_view()
            }}
            <button type="button" class="link" disabled=move || editor.read_only.get()
                on:click=move |_| write(format!("{path}/add"), Box::new(|list: &mut Vec<Value>| {
                    list.push(json!({"source": "", "target": ""}));
                }))>
                {i18n.t(DKey::AddMapping)}
            </button>
        </fieldset>
    }
}

/// A node's outgoing edges, and connecting it to another node without a mouse.
#[component]
fn Connections(editor: Editor, id: String) -> impl IntoView {
    let i18n = use_i18n();
    let outgoing = {
        let id = id.clone();
        move || {
            editor.doc.with(|d| {
                edit::edges(d)
                    .into_iter()
                    .filter(|e| e.from == id)
                    .collect::<Vec<_>>()
            })
        }
    };
    let others = {
        let id = id.clone();
        move || {
            editor.doc.with(|d| {
                edit::node_ids(d)
                    .into_iter()
                    .filter(|n| *n != id)
                    .collect::<Vec<_>>()
            })
        }
    };
    let from = id.clone();
    let connect = move |ev: leptos::ev::Event| {
        let to = event_target_value(&ev);
        if to.is_empty() {
            return;
        }
        let from = from.clone();
        editor.change(|d| {
            let _ = edit::connect(d, &from, &to);
        });
    };
    view! {
        <fieldset class="connections">
            <legend>{i18n.t(DKey::Outgoing)}</legend>
            <ul>
                {move || outgoing().into_iter().map(|e| {
                    let index = e.index;
                    view! {
                        <li>
                            <button type="button" class="link"
                                on:click=move |_| editor.selection.set(Selection { nodes: Vec::new(), edge: Some(index) })>
                                "→ " {e.to.clone()} {e.condition.clone().map(|c| format!(" [{c}]"))}
                            </button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <label for="connect-to">{i18n.t(DKey::ConnectTo)}</label>
            <select id="connect-to" disabled=move || editor.read_only.get() prop:value="" on:change=connect>
                <option value="">"—"</option>
                {move || others().into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
            </select>
        </fieldset>
    }
}

#[component]
fn EdgeForm(editor: Editor, issues: Memo<Vec<Issue>>, index: usize) -> impl IntoView {
    let i18n = use_i18n();
    let ends = move || {
        editor.doc.with(|d| {
            edit::edges(d)
                .get(index)
                .map(|e| format!("{} → {}", e.from, e.to))
                .unwrap_or_default()
        })
    };
    view! {
        <section class="properties" data-testid="properties">
            <h2>{i18n.t(DKey::Edge)}</h2>
            <p class="muted">{ends}</p>
            {field_list(editor, issues, &Owner::Edge(index), fields::EDGE)}
            <button type="button" class="danger" disabled=move || editor.read_only.get()
                on:click=move |_| delete_selection(editor)>
                {i18n.t(DKey::DeleteEdge)}
            </button>
        </section>
    }
}
