//! The canvas's shapes: a node (its box, kind stripe, label and ports) and an edge (a curve with
//! a wide invisible stroke to click, and its condition as a label). Each reads its own position
//! memo, so moving one node redraws that node and its edges only.

use leptos::prelude::*;

use super::canvas::Ctx;
use super::edit::{self, EdgeLook};
use super::viewport::{edge_path, Point, NODE_H, NODE_W};

/// `text` cut to `max` characters, with an ellipsis when cut (node labels fit their box).
pub fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

#[component]
pub(super) fn NodeView(
    ctx: Ctx,
    id: String,
    on_focus: impl Fn(String) + Copy + 'static,
) -> impl IntoView {
    let editor = ctx.editor;
    let look = {
        let id = id.clone();
        Memo::new(move |_| editor.doc.with(|d| edit::look(d, &id)))
    };
    let at = {
        let id = id.clone();
        Memo::new(move |_| ctx.at(&id))
    };
    let selected = {
        let id = id.clone();
        move || editor.selection.with(|s| s.nodes.contains(&id))
    };
    let faulty = {
        let id = id.clone();
        move || ctx.faulty.with(|f| f.contains(&id))
    };
    let focus_id = id.clone();
    let (node_attr, port_attr) = (id.clone(), id.clone());
    let kind = move || look.with(|l| l.as_ref().map(|l| l.kind.clone()).unwrap_or_default());
    let label = move || look.with(|l| l.as_ref().map(|l| short(&l.label, 18)).unwrap_or_default());
    view! {
        <g
            class=move || format!("design-node kind-{}", kind())
            class:selected=selected
            class:faulty=faulty
            data-node=node_attr
            transform=move || {
                let p = at.get();
                format!("translate({} {})", p.x, p.y)
            }
            tabindex="0"
            role="button"
            aria-label=move || format!("{} ({})", label(), kind())
            on:focus=move |_| on_focus(focus_id.clone())
        >
            <rect class="body" width=NODE_W height=NODE_H rx="8" />
            <rect class="stripe" width="6" height=NODE_H rx="3" />
            <text x="16" y="20" class="node-label">{label}</text>
            <text x="16" y="36" class="node-kind">{kind}</text>
            <circle class="port in" cx="0" cy=NODE_H / 2.0 r="5" />
            <circle class="port out" cx=NODE_W cy=NODE_H / 2.0 r="7" data-port=port_attr />
        </g>
    }
}

#[component]
pub(super) fn EdgeView(ctx: Ctx, edge: EdgeLook) -> impl IntoView {
    let editor = ctx.editor;
    let (from, to, index) = (edge.from.clone(), edge.to.clone(), edge.index);
    let d = Memo::new(move |_| edge_path(ctx.at(&from), ctx.at(&to)));
    let middle = {
        let (from, to) = (edge.from.clone(), edge.to.clone());
        Memo::new(move |_| {
            let (a, b) = (ctx.at(&from), ctx.at(&to));
            Point::new((a.x + NODE_W + b.x) / 2.0, (a.y + b.y + NODE_H) / 2.0 - 6.0)
        })
    };
    let selected = move || editor.selection.with(|s| s.edge == Some(index));
    let label = edge
        .condition
        .clone()
        .map(|c| c.chars().take(28).collect::<String>());
    view! {
        <g class="design-edge" class:selected=selected class:error-edge=edge.error data-edge=index.to_string()
            data-from=edge.from.clone() data-to=edge.to.clone()>
            <path class="hit" d=move || d.get() />
            <path class="line" d=move || d.get() marker-end="url(#design-arrow)" />
            {label.map(|text| {
                view! {
                    <text class="edge-label" x=move || middle.get().x y=move || middle.get().y text-anchor="middle">{text}</text>
                }
            })}
        </g>
    }
}
