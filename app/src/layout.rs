//! The frame around every page: brand, main navigation, language switcher.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::current_user;
use crate::i18n::{use_i18n, Key, LOCALE_COOKIE};
use crate::inbox::inbox_count;
use leptos_router::hooks::use_location;

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let i18n = use_i18n();
    let t = move |key| i18n.t(key);
    // Effects run only in the browser, so this flips once the wasm has hydrated the page.
    // End-to-end tests wait on it; CSS may use it too.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    let me = Resource::new(|| (), |_| current_user());
    let signed_in = move || me.get().and_then(Result::ok).flatten().is_some();
    // The inbox badge: read again on every navigation, and every 15 seconds while the page is
    // open, so new tasks show without a reload.
    let location = use_location();
    let ticks = RwSignal::new(0u32);
    Effect::new(move |_| {
        let _ = set_interval_with_handle(
            move || ticks.update(|n| *n = n.wrapping_add(1)),
            std::time::Duration::from_secs(15),
        );
    });
    provide_context(InboxBadge(ticks));
    let waiting = Resource::new(
        move || (location.pathname.get(), ticks.get()),
        |_| inbox_count(),
    );

    let switch_language = move |_| {
        let next = i18n.locale.get_untracked().other();
        i18n.locale.set(next);
        remember_locale(next.code());
    };

    view! {
        <div class="app" data-hydrated=move || hydrated.get().to_string()>
            <header class="topbar">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true">"◆"</span>
                    <span class="brand-name">{t(Key::AppName)}</span>
                    <span class="brand-tagline">{t(Key::Tagline)}</span>
                </a>
                // The sections are for signed-in users; the sign-in page shows none.
                <nav class="mainnav" aria-label=t(Key::MainNavigation)>
                    <Transition fallback=|| ()>
                        {move || {
                            signed_in()
                                .then(|| {
                                    view! {
                                        <A href="/" exact=true>{t(Key::NavOverview)}</A>
                                        <A href="/workflows">{t(Key::NavWorkflows)}</A>
                                        <A href="/instances">{t(Key::NavInstances)}</A>
                                        <A href="/inbox">
                                            {t(Key::NavInbox)}
                                            {move || {
                                                waiting
                                                    .get()
                                                    .and_then(Result::ok)
                                                    .filter(|n| *n > 0)
                                                    .map(|n| {
                                                        view! {
                                                            <span class="count" data-testid="inbox-count" title=t(Key::InboxCount)>
                                                                {n}
                                                            </span>
                                                        }
                                                    })
                                            }}
                                        </A>
                                        <A href="/robots">{i18n.t(crate::robots::RKey::NavRobots)}</A>
                                    }
                                })
                        }}
                    </Transition>
                </nav>
                <Transition fallback=|| ()>
                    {move || {
                        me.get()
                            .and_then(Result::ok)
                            .flatten()
                            .map(|me| {
                                view! {
                                    <form class="account" method="post" action="/auth/logout">
                                        <span class="account-name" title=t(Key::SignedInAs) data-testid="signed-in-user">
                                            {me.display_name}
                                        </span>
                                        <button type="submit" class="link-button">{t(Key::SignOut)}</button>
                                    </form>
                                }
                            })
                    }}
                </Transition>
                <button
                    class="lang-switch"
                    type="button"
                    title=t(Key::SwitchLanguage)
                    aria-label=t(Key::SwitchLanguage)
                    on:click=switch_language
                >
                    {move || i18n.locale.get().other().text(Key::LanguageName)}
                </button>
            </header>
            <main class="content">{children()}</main>
        </div>
    }
}

/// The navigation's inbox count; pages that change tasks ask it to count again.
#[derive(Clone, Copy)]
pub struct InboxBadge(RwSignal<u32>);

impl InboxBadge {
    pub fn refresh(self) {
        self.0.update(|n| *n = n.wrapping_add(1));
    }
}

/// Keeps the choice for a year, so the server renders the next page in the same language.
fn remember_locale(code: &str) {
    use leptos::wasm_bindgen::JsCast;
    if let Ok(doc) = document().dyn_into::<web_sys::HtmlDocument>() {
        let cookie = format!("{LOCALE_COOKIE}={code}; path=/; max-age=31536000; samesite=strict");
        // A refused cookie only means the choice is not remembered; the page still switches.
        let _ = doc.set_cookie(&cookie);
    }
}
