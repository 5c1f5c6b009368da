//! Baton's user interface: the application shell, its pages and the typed server functions they
//! call. Compiled twice: with `ssr` into the server, with `hydrate` into the browser's wasm.

// The designer's views are deeply nested types.
#![recursion_limit = "256"]

pub mod api;
pub mod designer;
pub mod diagram;
pub mod i18n;
pub mod inbox;
mod layout;
pub mod monitor;
mod pages;
pub mod robots;
pub mod run;
pub mod workflows;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Html, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::i18n::{provide_i18n, Locale};
use crate::layout::Layout;
use crate::pages::{
    DesignPage, InboxPage, InstancesPage, MonitorPage, NotFound, Overview, RobotsPage, RunPage,
    SignInPage, TaskPage, WorkflowsPage,
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let i18n = provide_i18n(initial_locale());

    view! {
        <Html {..} lang=move || i18n.locale.get().code() />
        <Stylesheet id="leptos" href="/pkg/baton.css" />
        <Title formatter=move |page: String| format!("{page} · Baton") />
        <Router>
            <Layout>
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=path!("/") view=Overview />
                    <Route path=path!("/login") view=SignInPage />
                    <Route path=path!("/workflows") view=WorkflowsPage />
                    <Route path=path!("/workflows/:key/design") view=DesignPage />
                    <Route path=path!("/workflows/:key/run") view=RunPage />
                    <Route path=path!("/instances") view=InstancesPage />
                    <Route path=path!("/instances/:id") view=MonitorPage />
                    <Route path=path!("/inbox") view=InboxPage />
                    <Route path=path!("/inbox/:id") view=TaskPage />
                    <Route path=path!("/robots") view=RobotsPage />
                </Routes>
            </Layout>
        </Router>
    }
}

/// On the server, the language comes from the user's cookie or the browser's `Accept-Language`;
/// in the browser, hydration reads back what the server rendered, so both sides agree.
fn initial_locale() -> Locale {
    #[cfg(feature = "ssr")]
    {
        let parts = use_context::<http::request::Parts>();
        let header = |name| {
            parts
                .as_ref()
                .and_then(|p| p.headers.get(name))
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Locale::negotiate(
            header(http::header::COOKIE).as_deref(),
            header(http::header::ACCEPT_LANGUAGE).as_deref(),
        )
    }
    #[cfg(not(feature = "ssr"))]
    {
        document()
            .document_element()
            .and_then(|html| html.get_attribute("lang"))
            .and_then(|code| Locale::from_code(&code))
            .unwrap_or_default()
    }
}
