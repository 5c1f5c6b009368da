//! Placeholder for a section that is designed but not built yet; says so plainly.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::i18n::{use_i18n, Key};

#[component]
pub fn ComingPage(
    title: impl Fn() -> &'static str + Copy + Send + Sync + 'static,
    blurb: impl Fn() -> &'static str + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <Title text=title />
        <section class="page">
            <h1>{title}</h1>
            <div class="empty-state">
                <p class="badge">{i18n.t(Key::ComingSoon)}</p>
                <p>{blurb}</p>
            </div>
        </section>
    }
}
