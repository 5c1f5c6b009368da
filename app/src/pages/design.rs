//! `/workflows/:key/design`: the designer. The page owns the document (an [`Editor`]); the
//! canvas emits events that become edits; the engine's own `check` runs in the browser on every
//! change and its issues are listed and marked on the canvas and in the forms. Save, publish,
//! version history (`?version=N` shows one read-only), and a YAML / JSON text view.

use std::collections::HashSet;

use engine::definition::{Definition, Format, Issue, NodeKind};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde_json::Value;

use crate::api::AppError;
use crate::designer::canvas::{Canvas, CanvasEvents, KIND_MIME};
use crate::designer::properties::{delete_selection, Properties};
use crate::designer::text::DKey;
use crate::designer::viewport::Point;
use crate::designer::{edit, issues_of, Editor, Selection};
use crate::i18n::{use_i18n, Key};
use crate::workflows::{load_design, publish_design, save_design, DefinitionStatus, Design};

/// Which view of the document is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Canvas,
    Text(Format),
}

#[component]
pub fn DesignPage() -> impl IntoView {
    let i18n = use_i18n();
    let params = use_params_map();
    let query = use_query_map();
    let key = move || params.with(|p| p.get("key").unwrap_or_default());
    let version = move || query.with(|q| q.get("version").and_then(|v| v.parse::<i32>().ok()));
    let design = Resource::new(
        move || (key(), version()),
        |(key, version)| load_design(key, version),
    );
    view! {
        <Title text=i18n.t(DKey::DesignTitle) />
        <section class="page designer-page">
            <Suspense fallback=move || view! { <p class="muted">{i18n.t(Key::Checking)}</p> }>
                {move || {
                    design.get().map(|answer| match answer {
                        Ok(design) => view! { <Designer design /> }.into_any(),
                        Err(error) => super::not_loaded(&error, Some((Key::WorkflowNotFound, "workflow-missing"))),
                    })
                }}
            </Suspense>
        </section>
    }
}

/// The document as text in `format`.
fn as_text(doc: &Value, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(doc).unwrap_or_default(),
        Format::Yaml => serde_norway::to_string(doc).unwrap_or_default(),
    }
}

/// Where a new node from the palette goes when it is not dropped: right of the selected node,
/// else right of the drawing.
fn free_spot(doc: &Value, selected: Option<&String>) -> Point {
    let positions = edit::positions(doc);
    let anchor = selected
        .and_then(|id| positions.get(id).copied())
        .or_else(|| {
            positions
                .values()
                .copied()
                .max_by(|a, b| a.x.total_cmp(&b.x))
        });
    match anchor {
        Some(p) => Point::new(p.x + 200.0, p.y),
        None => Point::new(40.0, 40.0),
    }
}

#[component]
fn Designer(design: Design) -> impl IntoView {
    let i18n = use_i18n();
    let editor = Editor::new();
    let doc: Value = serde_json::from_str(&design.document).unwrap_or(Value::Null);
    let viewing = design.viewing;
    let archived = design.status == DefinitionStatus::Archived;
    editor.reset(doc, viewing.is_some() || !design.may_manage || archived);
    let key = design.key.clone();
    let latest = RwSignal::new(design.latest_version);
    let has_draft = RwSignal::new(design.has_draft);
    let versions = RwSignal::new(design.versions.clone());
    let issues = Memo::new(move |_| editor.doc.with(issues_of));
    let faulty = Signal::derive(move || {
        issues.with(|all| {
            all.iter()
                .filter_map(|i| i.node.clone())
                .collect::<HashSet<_>>()
        })
    });
    let mode = RwSignal::new(Mode::Canvas);
    let text = RwSignal::new(String::new());
    let text_error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<(bool, String)>);
    let name = move || {
        editor.doc.with(|d| {
            d.get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        })
    };

    let events = CanvasEvents {
        moved: Callback::new(move |moves: Vec<(String, Point)>| {
            editor.change(|d| edit::move_nodes(d, &moves));
        }),
        connect: Callback::new(move |(from, to): (String, String)| {
            editor.change(|d| {
                let _ = edit::connect(d, &from, &to);
            });
        }),
        add: Callback::new(move |(kind, at): (String, Point)| {
            let mut id = String::new();
            editor.change(|d| id = edit::add_node(d, &kind, at));
            if !id.is_empty() {
                editor.selection.set(Selection::node(id));
            }
        }),
        delete: Callback::new(move |_| delete_selection(editor)),
        layout: Callback::new(move |_| editor.change(edit::auto_layout)),
    };

    let save_key = key.clone();
    let save = Action::new(move |document: &String| {
        let (key, document) = (save_key.clone(), document.clone());
        async move { save_design(key, document).await }
    });
    let publish_key = key.clone();
    let publish = Action::new(move |document: &Option<String>| {
        let (key, document) = (publish_key.clone(), document.clone());
        async move {
            if let Some(document) = document {
                save_design(key.clone(), document).await?;
            }
            publish_design(key).await
        }
    });
    let failure = move |e: &AppError| match e {
        AppError::InvalidDefinition(issues) => format!(
            "{} {}",
            i18n.t(DKey::NotSavedIssues)(),
            issues
                .first()
                .map(|i| i.message.clone())
                .unwrap_or_default()
        ),
        AppError::Conflict(why) => why.clone(),
        AppError::Forbidden => i18n.t(DKey::ReadOnlyNotice)().to_string(),
        _ => i18n.t(Key::ActionFailed)().to_string(),
    };
    Effect::new(move |_| {
        if let Some(answer) = save.value().get() {
            match answer {
                Ok(_) => {
                    editor.saved();
                    has_draft.set(true);
                    notice.set(Some((true, i18n.t(DKey::Saved)().to_string())));
                }
                Err(e) => notice.set(Some((false, failure(&e)))),
            }
        }
    });
    Effect::new(move |_| {
        if let Some(answer) = publish.value().get() {
            match answer {
                Ok(version) => {
                    editor.saved();
                    has_draft.set(false);
                    latest.set(Some(version));
                    versions.update(|v| {
                        v.insert(
                            0,
                            crate::workflows::VersionInfo {
                                version,
                                published_by: String::new(),
                                published_at: String::new(),
                            },
                        )
                    });
                    notice.set(Some((
                        true,
                        i18n.t(DKey::PublishedAs)().replace("{n}", &version.to_string()),
                    )));
                }
                Err(e) => notice.set(Some((false, failure(&e)))),
            }
        }
    });
    let do_save = move || {
        if !editor.read_only.get_untracked()
            && mode.get_untracked() != Mode::Canvas
            && text_error.get_untracked().is_some()
        {
            notice.set(Some((false, i18n.t(DKey::FixTextFirst)().to_string())));
            return;
        }
        notice.set(None);
        save.dispatch(editor.doc.with_untracked(Value::to_string));
    };
    let do_publish = move || {
        notice.set(None);
        let pending = editor
            .dirty
            .get_untracked()
            .then(|| editor.doc.with_untracked(Value::to_string));
        publish.dispatch(pending);
    };
    let busy = move || save.pending().get() || publish.pending().get();

    let switch = move |next: Mode| {
        if next == mode.get_untracked() {
            return;
        }
        if text_error.get_untracked().is_some() {
            notice.set(Some((false, i18n.t(DKey::FixTextFirst)().to_string())));
            return;
        }
        if let Mode::Text(format) = next {
            text.set(editor.doc.with_untracked(|d| as_text(d, format)));
        }
        mode.set(next);
    };
    let typed = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        text.set(value.clone());
        let Mode::Text(format) = mode.get_untracked() else {
            return;
        };
        match Definition::document(&value, format) {
            Ok(parsed) => {
                text_error.set(None);
                editor.change_keyed("text".into(), move |d| *d = parsed);
            }
            Err(issues) => {
                text_error.set(issues.first().map(|i| i.message.clone()));
            }
        }
    };

    guard_and_shortcuts(editor, do_save);

    let pick_issue = move |issue: Issue| {
        let edge = issue
            .field
            .as_deref()
            .and_then(|f| f.strip_prefix("edges["))
            .and_then(|rest| rest.split(']').next())
            .and_then(|i| i.parse::<usize>().ok());
        let known = |id: &String| editor.doc.with_untracked(|d| edit::node(d, id).is_some());
        let selection = match (issue.node, edge) {
            (Some(node), _) if known(&node) => Selection::node(node),
            (None, Some(index)) => Selection {
                nodes: Vec::new(),
                edge: Some(index),
            },
            _ => Selection::default(),
        };
        editor.selection.set(selection);
        if mode.get_untracked() != Mode::Canvas && text_error.get_untracked().is_none() {
            mode.set(Mode::Canvas);
        }
    };

    let add_from_palette = move |kind: &'static str| {
        let at = editor.doc.with_untracked(|d| {
            editor
                .selection
                .with_untracked(|s| free_spot(d, s.nodes.first()))
        });
        events.add.run((kind.to_string(), at));
    };
    let next_version = move || latest.get().unwrap_or(0) + 1;
    let history_key = key.clone();
    let run_key = StoredValue::new(key.clone());
    let banner_key = key.clone();

    view! {
        <div class="designer-head">
            <div>
                <h1 data-testid="design-name">{name}</h1>
                <p class="muted">
                    <code>{key.clone()}</code>
                    " · "
                    {move || match latest.get() {
                        Some(v) => i18n.t(DKey::LatestVersion)().replace("{n}", &v.to_string()),
                        None => i18n.t(DKey::NeverPublished)().to_string(),
                    }}
                    {move || editor.dirty.get().then(|| view! { <span class="badge badge-draft" data-testid="unsaved">{i18n.t(DKey::UnsavedChanges)}</span> })}
                    {move || latest.get().map(|_| view! { " · " <A href=format!("/workflows/{}/run", run_key.get_value())>{i18n.t(DKey::Run)}</A> })}
                </p>
            </div>
            <div class="designer-actions" role="toolbar" aria-label=i18n.t(DKey::DesignerActions)>
                <div class="segmented" role="group" aria-label=i18n.t(DKey::View)>
                    <button type="button" aria-pressed=move || (mode.get() == Mode::Canvas).to_string() on:click=move |_| switch(Mode::Canvas)>{i18n.t(DKey::CanvasView)}</button>
                    <button type="button" aria-pressed=move || (mode.get() == Mode::Text(Format::Yaml)).to_string() on:click=move |_| switch(Mode::Text(Format::Yaml))>"YAML"</button>
                    <button type="button" aria-pressed=move || (mode.get() == Mode::Text(Format::Json)).to_string() on:click=move |_| switch(Mode::Text(Format::Json))>"JSON"</button>
                </div>
                <button type="button" title=i18n.t(DKey::UndoHint) disabled=move || !editor.can_undo.get() on:click=move |_| editor.undo()>{i18n.t(DKey::Undo)}</button>
                <button type="button" title=i18n.t(DKey::RedoHint) disabled=move || !editor.can_redo.get() on:click=move |_| editor.redo()>{i18n.t(DKey::Redo)}</button>
                <button type="button" data-testid="save" title=i18n.t(DKey::SaveHint)
                    disabled=move || editor.read_only.get() || !editor.dirty.get() || busy()
                    on:click=move |_| do_save()>{i18n.t(DKey::SaveDraft)}</button>
                <button type="button" class="primary" data-testid="publish"
                    title=move || if !issues.with(Vec::is_empty) { i18n.t(DKey::PublishBlocked)() } else if !(editor.dirty.get() || has_draft.get()) { i18n.t(DKey::NothingToPublish)() } else { "" }
                    disabled=move || editor.read_only.get() || !issues.with(Vec::is_empty) || busy()
                        || !(editor.dirty.get() || has_draft.get())
                    on:click=move |_| do_publish()>
                    {move || i18n.t(DKey::PublishAs)().replace("{n}", &next_version().to_string())}
                </button>
            </div>
        </div>
        {move || notice.get().map(|(ok, message)| view! {
            <p class=if ok { "notice ok" } else { "notice error" } role="status" data-testid="design-notice">{message}</p>
        })}
        {viewing.map(|v| view! {
            <p class="notice info" data-testid="viewing-version">
                {i18n.t(DKey::ViewingVersion)().replace("{n}", &v.to_string())} " "
                <A href=format!("/workflows/{banner_key}/design")>{i18n.t(DKey::BackToDraft)}</A>
            </p>
        })}
        {(viewing.is_none() && !design.may_manage).then(|| view! { <p class="notice info">{i18n.t(DKey::ReadOnlyNotice)}</p> })}
        {(viewing.is_none() && archived).then(|| view! { <p class="notice info">{i18n.t(DKey::ArchivedNotice)}</p> })}
        <div class="designer">
            <aside class="palette" aria-label=i18n.t(DKey::Palette)>
                <h2>{i18n.t(DKey::Palette)}</h2>
                <p class="hint">{i18n.t(DKey::PaletteHint)}</p>
                {NodeKind::ALL.iter().map(|kind| {
                    let kind: &'static str = kind;
                    view! {
                        <button type="button" class=format!("palette-item kind-{kind}") draggable="true" data-kind=kind
                            disabled=move || editor.read_only.get()
                            on:dragstart=move |ev: leptos::ev::DragEvent| {
                                if let Some(data) = ev.data_transfer() {
                                    let _ = data.set_data(KIND_MIME, kind);
                                    data.set_effect_allowed("copy");
                                }
                            }
                            on:click=move |_| add_from_palette(kind)>
                            <span class="stripe" aria-hidden="true"></span>{kind}
                        </button>
                    }
                }).collect_view()}
            </aside>
            <div class="design-main">
                {move || match mode.get() {
                    Mode::Canvas => view! { <Canvas editor faulty events /> }.into_any(),
                    Mode::Text(format) => view! {
                        <div class="text-view">
                            <label for="definition-text" class="muted">
                                {match format { Format::Yaml => "YAML", Format::Json => "JSON" }} " · " {i18n.t(DKey::TextHint)}
                            </label>
                            <textarea id="definition-text" data-testid="definition-text" class="code" spellcheck="false"
                                readonly=move || editor.read_only.get()
                                prop:value=move || text.get() on:input=typed></textarea>
                            {move || text_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
                        </div>
                    }.into_any(),
                }}
                <section class="issues" aria-live="polite" data-testid="issues">
                    <h2>
                        {i18n.t(DKey::Issues)} " "
                        <span class="count" data-testid="issue-count">{move || issues.with(Vec::len)}</span>
                    </h2>
                    {move || {
                        let list = issues.get();
                        if list.is_empty() {
                            view! { <p class="ok-text">{i18n.t(DKey::NoIssues)}</p> }.into_any()
                        } else {
                            view! {
                                <ul>
                                    {list.into_iter().map(|issue| {
                                        let place = match (&issue.node, &issue.field) {
                                            (Some(n), Some(f)) => format!("{n} · {f}"),
                                            (Some(n), None) => n.clone(),
                                            (None, Some(f)) => f.clone(),
                                            (None, None) => String::new(),
                                        };
                                        let message = issue.message.clone();
                                        view! {
                                            <li>
                                                <button type="button" class="link issue" on:click=move |_| pick_issue(issue.clone())>
                                                    <code>{place}</code> " " {message}
                                                </button>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }
                    }}
                </section>
            </div>
            <aside class="side">
                <Properties editor issues />
                <section class="history" data-testid="history">
                    <h2>{i18n.t(DKey::History)}</h2>
                    <ul>
                        <li class:current=viewing.is_none()>
                            <A href=format!("/workflows/{history_key}/design")>{i18n.t(DKey::Draft)}</A>
                        </li>
                        {move || {
                            let key = history_key.clone();
                            versions.get().into_iter().map(|v| {
                                let href = format!("/workflows/{key}/design?version={}", v.version);
                                view! {
                                    <li class:current=viewing == Some(v.version)>
                                        <A href=href>{format!("v{}", v.version)}</A>
                                        " "
                                        <span class="muted">{v.published_by} " " {super::inbox::short_time(&v.published_at)}</span>
                                    </li>
                                }
                            }).collect_view()
                        }}
                    </ul>
                </section>
            </aside>
        </div>
    }
}

/// Keyboard shortcuts (undo, redo, save) and the unsaved-changes guard: leaving the page —
/// closing it, reloading, or following a link — asks first while there are unsaved changes.
/// Browser only; each handler stops itself once the page is gone.
fn guard_and_shortcuts(editor: Editor, save: impl Fn() + Copy + 'static) {
    Effect::new(move |done: Option<()>| {
        if done.is_some() {
            return;
        }
        use leptos::wasm_bindgen::closure::Closure;
        use leptos::wasm_bindgen::JsCast;
        let keys =
            Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(move |ev: web_sys::KeyboardEvent| {
                if editor.doc.try_with_untracked(|_| ()).is_none() {
                    return;
                }
                if !(ev.ctrl_key() || ev.meta_key()) {
                    return;
                }
                let in_field = ev
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                    .is_some_and(|el| {
                        matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                    });
                match ev.key().to_lowercase().as_str() {
                    "s" => {
                        ev.prevent_default();
                        if editor.dirty.get_untracked() {
                            save();
                        }
                    }
                    "z" if !in_field => {
                        ev.prevent_default();
                        if ev.shift_key() {
                            editor.redo();
                        } else {
                            editor.undo();
                        }
                    }
                    "y" if !in_field => {
                        ev.prevent_default();
                        editor.redo();
                    }
                    _ => {}
                }
            });
        let leaving = Closure::<dyn FnMut(web_sys::BeforeUnloadEvent)>::new(
            move |ev: web_sys::BeforeUnloadEvent| {
                if editor.dirty.try_get_untracked() == Some(true) {
                    ev.prevent_default();
                    ev.set_return_value("unsaved");
                }
            },
        );
        let question = use_i18n().t(DKey::LeaveUnsaved);
        let links =
            Closure::<dyn FnMut(web_sys::MouseEvent)>::new(move |ev: web_sys::MouseEvent| {
                if editor.dirty.try_get_untracked() != Some(true) {
                    return;
                }
                let link = ev
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                    .and_then(|el| el.closest("a[href]").ok().flatten());
                if link.is_some() && !window().confirm_with_message(question()).unwrap_or(true) {
                    ev.prevent_default();
                    ev.stop_immediate_propagation();
                }
            });
        let window = window();
        let _ = window.add_event_listener_with_callback("keydown", keys.as_ref().unchecked_ref());
        let _ = window
            .add_event_listener_with_callback("beforeunload", leaving.as_ref().unchecked_ref());
        let _ = document().add_event_listener_with_callback_and_bool(
            "click",
            links.as_ref().unchecked_ref(),
            true,
        );
        keys.forget();
        leaving.forget();
        links.forget();
    });
}
