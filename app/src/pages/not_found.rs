//! Any address the router does not know.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::i18n::{use_i18n, Key};

#[component]
pub fn NotFound() -> impl IntoView {
    let i18n = use_i18n();
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text=i18n.t(Key::NotFoundTitle) />
        <section class="page">
            <h1>{i18n.t(Key::NotFoundTitle)}</h1>
            <p>{i18n.t(Key::NotFoundBlurb)}</p>
            <p><a href="/">{i18n.t(Key::BackToOverview)}</a></p>
        </section>
    }
}
