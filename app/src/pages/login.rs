//! `/login`: a plain form posted to `/auth/login`, so it works before (and without) the wasm.
//! The server answers with the session cookie and a redirect to where the user was going, or
//! back here with `?error=`.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::i18n::{use_i18n, Key};

#[component]
pub fn SignInPage() -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next").unwrap_or_else(|| "/".into()));
    let error = move || {
        query.with(|q| match q.get("error").as_deref() {
            Some("throttled") => Some(Key::SignInThrottled),
            Some(_) => Some(Key::SignInFailed),
            None => None,
        })
    };

    view! {
        <Title text=t(Key::SignInTitle) />
        <section class="page signin">
            <form class="card signin-card" method="post" action="/auth/login">
                <h1>{t(Key::SignInTitle)}</h1>
                <p class="muted">{t(Key::SignInLead)}</p>
                {move || {
                    error()
                        .map(|key| {
                            view! {
                                <p class="error" role="alert" data-testid="signin-error">
                                    {i18n.t(key)}
                                </p>
                            }
                        })
                }}
                <input type="hidden" name="next" value=next />
                <label class="field">
                    <span>{t(Key::Username)}</span>
                    <input
                        name="username"
                        autocomplete="username"
                        required
                        autofocus
                        maxlength="64"
                    />
                </label>
                <label class="field">
                    <span>{t(Key::Password)}</span>
                    <input
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        required
                        maxlength="1024"
                    />
                </label>
                <button type="submit" class="button primary">{t(Key::SignIn)}</button>
            </form>
        </section>
    }
}
