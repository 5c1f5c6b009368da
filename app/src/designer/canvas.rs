//! The canvas: an SVG drawing of the document, controlled by the page. It reads the document and
//! the selection; it changes only the selection and its own viewport, and emits every change to
//! the document as an event (nodes moved — once, at the end of a drag —, connection requested,
//! node dropped from the palette, delete requested), which the page turns into an edit.
//!
//! While a drag is under way only the dragged nodes' offsets change: each node has its own
//! offset signal, read by that node and its edges only, so a drag in a 200-node drawing updates
//! the dragged nodes and their edges and nothing else.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use leptos::prelude::*;

use super::edit::{self, EdgeLook};
pub use super::shapes::short;
use super::shapes::{EdgeView, NodeView};
use super::text::DKey as Key;
use super::viewport::{link_path, Point, Rect, Viewport, NODE_H, NODE_W};
use super::{Editor, Selection};
use crate::i18n::use_i18n;

/// The drag data type the palette sets and the canvas accepts.
pub const KIND_MIME: &str = "text/x-baton-kind";

/// The events the canvas emits; the page owns what they do to the document.
#[derive(Clone, Copy)]
pub struct CanvasEvents {
    pub moved: Callback<Vec<(String, Point)>>,
    pub connect: Callback<(String, String)>,
    pub add: Callback<(String, Point)>,
    pub delete: Callback<()>,
    pub layout: Callback<()>,
}

/// What the pointer is doing since it went down.
#[derive(Debug, Clone, Default)]
enum Gesture {
    #[default]
    Idle,
    Nodes {
        start: Point,
        ids: Arc<HashSet<String>>,
        by: Point,
    },
    Link {
        from: String,
    },
    Select {
        start: Point,
    },
    Pan {
        start: Point,
        from: Viewport,
    },
}

/// Everything the parts of the canvas share (all `Copy` handles).
#[derive(Clone, Copy)]
pub(super) struct Ctx {
    pub editor: Editor,
    positions: Memo<HashMap<String, Point>>,
    /// Each node's offset while it is dragged (zero otherwise), made on first use.
    offsets: StoredValue<HashMap<String, RwSignal<Point>>>,
    /// The canvas's owner: offset signals live as long as the canvas.
    owner: StoredValue<Owner>,
    pub faulty: Signal<HashSet<String>>,
}

impl Ctx {
    fn offset(&self, id: &str) -> RwSignal<Point> {
        if let Some(signal) = self.offsets.with_value(|o| o.get(id).copied()) {
            return signal;
        }
        let signal = self
            .owner
            .with_value(|owner| owner.with(|| RwSignal::new(Point::default())));
        self.offsets
            .update_value(|o| _ = o.insert(id.to_string(), signal));
        signal
    }

    /// Where a node is drawn now: its place, plus its offset while it is dragged.
    pub fn at(&self, id: &str) -> Point {
        let base = self
            .positions
            .with(|p| p.get(id).copied())
            .unwrap_or_default();
        base.offset(self.offset(id).get())
    }
}

/// The node whose rectangle holds `p`, topmost (last drawn) first.
fn node_at(positions: &HashMap<String, Point>, order: &[String], p: Point) -> Option<String> {
    order
        .iter()
        .rev()
        .find(|id| {
            positions
                .get(*id)
                .is_some_and(|at| Rect::node(*at).contains(p))
        })
        .cloned()
}

#[component]
pub fn Canvas(
    editor: Editor,
    faulty: Signal<HashSet<String>>,
    events: CanvasEvents,
) -> impl IntoView {
    let i18n = use_i18n();
    let svg = NodeRef::<leptos::svg::Svg>::new();
    let viewport = RwSignal::new(Viewport::default());
    let positions = Memo::new(move |_| editor.doc.with(edit::positions));
    let ids = Memo::new(move |_| editor.doc.with(edit::node_ids));
    let edges = Memo::new(move |_| editor.doc.with(edit::edges));
    let link_end = RwSignal::new(None::<(String, Point)>);
    let lasso = RwSignal::new(None::<Rect>);
    let gesture = StoredValue::new(Gesture::Idle);
    // Set while a pointer is down, so that the focus a click gives a node does not select it.
    let pointer_down = StoredValue::new(false);
    let ctx = Ctx {
        editor,
        positions,
        offsets: StoredValue::new(HashMap::new()),
        owner: StoredValue::new(Owner::current().unwrap_or_default()),
        faulty,
    };

    // The canvas's own coordinates of a pointer event.
    let local = move |client_x: i32, client_y: i32| -> Point {
        svg.get_untracked()
            .map(|el| {
                let r = el.get_bounding_client_rect();
                Point::new(
                    f64::from(client_x) - r.left(),
                    f64::from(client_y) - r.top(),
                )
            })
            .unwrap_or_default()
    };
    let size = move || -> (f64, f64) {
        svg.get_untracked()
            .map(|el| {
                let r = el.get_bounding_client_rect();
                (r.width(), r.height())
            })
            .unwrap_or((800.0, 500.0))
    };
    let fit = move || {
        let bounds = positions.with_untracked(|p| Rect::around_nodes(p.values().copied()));
        if let Some(bounds) = bounds {
            let (w, h) = size();
            viewport.set(Viewport::fit(bounds, w, h, 40.0));
        }
    };
    // Fit the drawing once the canvas is in the page.
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        if svg.get().is_some() && !ids.with(Vec::is_empty) {
            fit();
            return true;
        }
        false
    });
    // A node selected out of view (added from the palette, picked from the issues list) is
    // brought into view; not while the pointer is down, so a drag never starts with a jump.
    Effect::new(move |_| {
        let chosen = editor.selection.with(|s| match s.nodes.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        });
        let Some(id) = chosen else { return };
        if pointer_down.get_value() {
            return;
        }
        let Some(at) = positions.with_untracked(|p| p.get(&id).copied()) else {
            return;
        };
        let (w, h) = size();
        let v = viewport.get_untracked();
        if !v.shows(Rect::node(at), w, h) {
            let centre = Point::new(at.x + NODE_W / 2.0, at.y + NODE_H / 2.0);
            viewport.set(v.centred_on(centre, w, h));
        }
    });
    let zoom_by = move |factor: f64| {
        let (w, h) = size();
        viewport.update(|v| *v = v.zoom_at(Point::new(w / 2.0, h / 2.0), factor));
    };
    let move_selection = move |by: Point| {
        let chosen = editor.selection.with_untracked(|s| s.nodes.clone());
        if chosen.is_empty() {
            return;
        }
        let moves = chosen
            .into_iter()
            .map(|id| {
                let at = ctx.at(&id).offset(by);
                (id, at)
            })
            .collect();
        events.moved.run(moves);
    };

    let on_pointerdown = move |ev: leptos::ev::PointerEvent| {
        if ev.button() != 0 {
            return;
        }
        pointer_down.set_value(true);
        let at = viewport
            .get_untracked()
            .to_world(local(ev.client_x(), ev.client_y()));
        let target: web_sys::Element = event_target(&ev);
        let hit = target
            .closest("[data-port],[data-node],[data-edge]")
            .ok()
            .flatten();
        if let Some(el) = svg.get_untracked() {
            let _ = el.set_pointer_capture(ev.pointer_id());
        }
        let read_only = editor.read_only.get_untracked();
        let next = match hit {
            Some(el) if el.has_attribute("data-port") && !read_only => {
                let from = el.get_attribute("data-port").unwrap_or_default();
                link_end.set(Some((from.clone(), at)));
                Gesture::Link { from }
            }
            Some(el) if el.has_attribute("data-edge") => {
                let index = el.get_attribute("data-edge").and_then(|i| i.parse().ok());
                editor.selection.set(Selection {
                    nodes: Vec::new(),
                    edge: index,
                });
                Gesture::Idle
            }
            Some(el) => {
                let id = el.get_attribute("data-node").unwrap_or_default();
                let shift = ev.shift_key();
                editor.selection.update(|s| {
                    s.edge = None;
                    let chosen = s.nodes.contains(&id);
                    match (shift, chosen) {
                        (true, true) => s.nodes.retain(|n| n != &id),
                        (true, false) => s.nodes.push(id.clone()),
                        (false, true) => {}
                        (false, false) => *s = Selection::node(id.clone()),
                    }
                });
                let ids: HashSet<String> = editor
                    .selection
                    .with_untracked(|s| s.nodes.iter().cloned().collect());
                if read_only || !ids.contains(&id) {
                    Gesture::Idle
                } else {
                    Gesture::Nodes {
                        start: at,
                        ids: Arc::new(ids),
                        by: Point::default(),
                    }
                }
            }
            None if ev.shift_key() => {
                lasso.set(Some(Rect::spanning(at, at)));
                Gesture::Select { start: at }
            }
            None => {
                editor.selection.set(Selection::default());
                Gesture::Pan {
                    start: local(ev.client_x(), ev.client_y()),
                    from: viewport.get_untracked(),
                }
            }
        };
        gesture.set_value(next);
    };

    let on_pointermove = move |ev: leptos::ev::PointerEvent| {
        let screen = local(ev.client_x(), ev.client_y());
        let at = viewport.get_untracked().to_world(screen);
        gesture.update_value(|g| match g {
            Gesture::Idle => {}
            Gesture::Nodes { start, ids, by } => {
                *by = at.minus(*start);
                for id in ids.iter() {
                    ctx.offset(id).set(*by);
                }
            }
            Gesture::Link { from } => link_end.set(Some((from.clone(), at))),
            Gesture::Select { start } => lasso.set(Some(Rect::spanning(*start, at))),
            Gesture::Pan { start, from } => viewport.set(from.panned(screen.minus(*start))),
        });
    };

    let on_pointerup = move |ev: leptos::ev::PointerEvent| {
        pointer_down.set_value(false);
        let at = viewport
            .get_untracked()
            .to_world(local(ev.client_x(), ev.client_y()));
        let mut finished = Gesture::Idle;
        gesture.update_value(|g| finished = std::mem::take(g));
        match finished {
            Gesture::Nodes { ids, by, .. } => {
                if by.x.abs() >= 1.0 || by.y.abs() >= 1.0 {
                    let moves = positions.with_untracked(|p| {
                        ids.iter()
                            .filter_map(|id| Some((id.clone(), p.get(id)?.offset(by).snapped())))
                            .collect::<Vec<_>>()
                    });
                    events.moved.run(moves);
                }
                for id in ids.iter() {
                    ctx.offset(id).set(Point::default());
                }
            }
            Gesture::Link { from } => {
                link_end.set(None);
                let target =
                    positions.with_untracked(|p| ids.with_untracked(|o| node_at(p, o, at)));
                if let Some(to) = target.filter(|to| *to != from) {
                    events.connect.run((from, to));
                }
            }
            Gesture::Select { .. } => {
                if let Some(area) = lasso.get_untracked() {
                    let inside: Vec<String> = positions.with_untracked(|p| {
                        ids.with_untracked(|order| {
                            order
                                .iter()
                                .filter(|id| {
                                    p.get(*id)
                                        .is_some_and(|at| area.intersects(&Rect::node(*at)))
                                })
                                .cloned()
                                .collect()
                        })
                    });
                    editor.selection.update(|s| {
                        s.edge = None;
                        for id in inside {
                            if !s.nodes.contains(&id) {
                                s.nodes.push(id);
                            }
                        }
                    });
                }
                lasso.set(None);
            }
            Gesture::Pan { .. } | Gesture::Idle => {}
        }
    };

    let on_wheel = move |ev: leptos::ev::WheelEvent| {
        ev.prevent_default();
        let screen = local(ev.client_x(), ev.client_y());
        let factor = (-ev.delta_y() * 0.0015).exp();
        viewport.update(|v| *v = v.zoom_at(screen, factor));
    };

    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let read_only = editor.read_only.get_untracked();
        let step = if ev.shift_key() { 50.0 } else { 10.0 };
        let handled = match ev.key().as_str() {
            "Delete" | "Backspace" if !read_only => {
                events.delete.run(());
                true
            }
            "ArrowLeft" if !read_only => {
                move_selection(Point::new(-step, 0.0));
                true
            }
            "ArrowRight" if !read_only => {
                move_selection(Point::new(step, 0.0));
                true
            }
            "ArrowUp" if !read_only => {
                move_selection(Point::new(0.0, -step));
                true
            }
            "ArrowDown" if !read_only => {
                move_selection(Point::new(0.0, step));
                true
            }
            "a" if ev.ctrl_key() || ev.meta_key() => {
                editor.selection.set(Selection {
                    nodes: ids.get_untracked(),
                    edge: None,
                });
                true
            }
            "Escape" => {
                editor.selection.set(Selection::default());
                true
            }
            "+" | "=" => {
                zoom_by(1.25);
                true
            }
            "-" => {
                zoom_by(0.8);
                true
            }
            "0" => {
                fit();
                true
            }
            _ => false,
        };
        if handled {
            ev.prevent_default();
        }
    };

    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        let kind = ev
            .data_transfer()
            .and_then(|d| d.get_data(KIND_MIME).ok())
            .unwrap_or_default();
        if engine::definition::NodeKind::ALL.contains(&kind.as_str()) {
            let at = viewport
                .get_untracked()
                .to_world(local(ev.client_x(), ev.client_y()));
            let corner = Point::new(at.x - NODE_W / 2.0, at.y - NODE_H / 2.0).snapped();
            events.add.run((kind, corner));
        }
    };

    let on_focus_node = move |id: String| {
        if !pointer_down.get_value() {
            editor.selection.set(Selection::node(id));
        }
    };

    view! {
        <div class="canvas-wrap">
            <div class="canvas-tools" role="toolbar" aria-label=i18n.t(Key::CanvasTools)>
                <button type="button" title=i18n.t(Key::ZoomIn) aria-label=i18n.t(Key::ZoomIn) on:click=move |_| zoom_by(1.25)>"+"</button>
                <span class="zoom" data-testid="zoom">{move || format!("{:.0}%", viewport.get().zoom * 100.0)}</span>
                <button type="button" title=i18n.t(Key::ZoomOut) aria-label=i18n.t(Key::ZoomOut) on:click=move |_| zoom_by(0.8)>"−"</button>
                <button type="button" on:click=move |_| fit()>{i18n.t(Key::FitView)}</button>
                <button
                    type="button"
                    disabled=move || editor.read_only.get()
                    on:click=move |_| {
                        events.layout.run(());
                        request_animation_frame(fit);
                    }
                >
                    {i18n.t(Key::AutoLayout)}
                </button>
            </div>
            {move || ids.with(Vec::is_empty).then(|| view! {
                <p class="canvas-empty" data-testid="canvas-empty">{i18n.t(Key::EmptyCanvas)}</p>
            })}
            <svg
                node_ref=svg
                class="canvas"
                class:read-only=move || editor.read_only.get()
                tabindex="0"
                role="application"
                aria-label=i18n.t(Key::Canvas)
                data-testid="canvas"
                on:pointerdown=on_pointerdown
                on:pointermove=on_pointermove
                on:pointerup=on_pointerup
                on:wheel=on_wheel
                on:keydown=on_keydown
                on:dragover=|ev: leptos::ev::DragEvent| ev.prevent_default()
                on:drop=on_drop
            >
                <defs>
                    <marker id="design-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                        <path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head" />
                    </marker>
                    <pattern id="grid" width="20" height="20" patternUnits="userSpaceOnUse">
                        <circle cx="1" cy="1" r="1" class="grid-dot" />
                    </pattern>
                </defs>
                <g transform=move || viewport.get().transform()>
                    <rect x="-5000" y="-5000" width="10000" height="10000" fill="url(#grid)" />
                    <For
                        each=move || edges.get()
                        key=|e: &EdgeLook| (e.index, e.from.clone(), e.to.clone(), e.condition.clone(), e.error)
                        children=move |e: EdgeLook| view! { <EdgeView ctx edge=e /> }
                    />
                    <For
                        each=move || ids.get()
                        key=|id: &String| id.clone()
                        children=move |id: String| view! { <NodeView ctx id on_focus=on_focus_node /> }
                    />
                    {move || {
                        link_end
                            .get()
                            .map(|(from, end)| {
                                let at = ctx.at(&from);
                                let start = Point::new(at.x + NODE_W, at.y + NODE_H / 2.0);
                                view! { <path class="link-preview" d=link_path(start, end) /> }
                            })
                    }}
                    {move || {
                        lasso
                            .get()
                            .map(|r| view! { <rect class="lasso" x=r.x y=r.y width=r.w height=r.h /> })
                    }}
                </g>
            </svg>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_topmost_node_under_the_pointer_is_hit() {
        let positions: HashMap<String, Point> = [
            ("a".to_string(), Point::new(0.0, 0.0)),
            ("b".to_string(), Point::new(100.0, 0.0)),
        ]
        .into();
        let order = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            node_at(&positions, &order, Point::new(120.0, 10.0)).as_deref(),
            Some("b")
        );
        assert_eq!(
            node_at(&positions, &order, Point::new(50.0, 10.0)).as_deref(),
            Some("a")
        );
        assert_eq!(node_at(&positions, &order, Point::new(50.0, 100.0)), None);
    }
}
