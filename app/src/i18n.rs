//! The one translation table. Every string the UI shows comes from here, in English and Chinese;
//! components name a [`Key`] and never hold text of their own.

use leptos::prelude::*;

/// A language the UI speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    En,
    Zh,
}

/// Name of the cookie that remembers the user's choice across visits.
pub const LOCALE_COOKIE: &str = "baton_lang";

impl Locale {
    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Zh => "zh",
        }
    }

    pub fn from_code(code: &str) -> Option<Locale> {
        let primary = code.trim().split(['-', '_']).next().unwrap_or_default();
        match primary.to_ascii_lowercase().as_str() {
            "en" => Some(Locale::En),
            "zh" => Some(Locale::Zh),
            _ => None,
        }
    }

    /// The first supported language of an `Accept-Language` header, honouring `q` weights.
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut candidates: Vec<(f32, Locale)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let locale = Locale::from_code(pieces.next()?)?;
                let q = pieces
                    .find_map(|p| p.trim().strip_prefix("q=")?.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((q, locale))
            })
            .collect();
        // Stable sort: equal weights keep the header's order.
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
        candidates.first().map(|(_, l)| *l)
    }

    /// The cookie's value if set, else the browser's preference, else English.
    pub fn negotiate(cookie_header: Option<&str>, accept_language: Option<&str>) -> Locale {
        let from_cookie = cookie_header.and_then(|cookies| {
            cookies.split(';').find_map(|c| {
                let (name, value) = c.trim().split_once('=')?;
                (name == LOCALE_COOKIE)
                    .then(|| Locale::from_code(value))
                    .flatten()
            })
        });
        from_cookie
            .or_else(|| accept_language.and_then(Locale::from_accept_language))
            .unwrap_or_default()
    }

    /// The other language, offered by the switcher.
    pub fn other(self) -> Locale {
        match self {
            Locale::En => Locale::Zh,
            Locale::Zh => Locale::En,
        }
    }
}

/// Every piece of UI text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    AppName,
    Tagline,
    NavOverview,
    NavWorkflows,
    NavInstances,
    NavInbox,
    SwitchLanguage,
    LanguageName,
    MainNavigation,
    OverviewTitle,
    SystemStatus,
    Database,
    SchemaVersion,
    InstalledAt,
    CheckedAt,
    Refresh,
    Checking,
    StatusUnavailable,
    WorkflowsTitle,
    WorkflowsBlurb,
    InstancesTitle,
    InstancesBlurb,
    InboxTitle,
    InboxBlurb,
    ComingSoon,
    NotFoundTitle,
    NotFoundBlurb,
    BackToOverview,
    SignInTitle,
    SignInLead,
    Username,
    Password,
    SignIn,
    SignOut,
    SignedInAs,
    SignInFailed,
    SignInThrottled,
}

impl Locale {
    /// The text for `key` in this language.
    pub fn text(self, key: Key) -> &'static str {
        let (en, zh) = match key {
            Key::AppName => ("Baton", "Baton"),
            Key::Tagline => ("Workflow orchestration", "工作流编排"),
            Key::NavOverview => ("Overview", "概览"),
            Key::NavWorkflows => ("Workflows", "工作流"),
            Key::NavInstances => ("Instances", "实例"),
            Key::NavInbox => ("Inbox", "待办"),
            Key::SwitchLanguage => ("Switch language", "切换语言"),
            Key::LanguageName => ("English", "中文"),
            Key::MainNavigation => ("Main navigation", "主导航"),
            Key::OverviewTitle => ("Overview", "概览"),
            Key::SystemStatus => ("System status", "系统状态"),
            Key::Database => ("Database", "数据库"),
            Key::SchemaVersion => ("Schema version", "数据库结构版本"),
            Key::InstalledAt => ("Installed", "安装时间"),
            Key::CheckedAt => ("Last checked", "最近检查"),
            Key::Refresh => ("Check again", "重新检查"),
            Key::Checking => ("Checking…", "检查中…"),
            Key::SignInTitle => ("Sign in", "登录"),
            Key::SignInLead => (
                "Sign in to design, launch and follow workflows.",
                "登录后即可设计、启动和跟踪工作流。",
            ),
            Key::Username => ("Username", "用户名"),
            Key::Password => ("Password", "密码"),
            Key::SignIn => ("Sign in", "登录"),
            Key::SignOut => ("Sign out", "退出登录"),
            Key::SignedInAs => ("Signed in as", "当前用户"),
            Key::SignInFailed => ("The username or password is wrong.", "用户名或密码不正确。"),
            Key::SignInThrottled => (
                "Too many failed attempts. Wait a few minutes, then try again.",
                "失败次数过多。请稍等几分钟后再试。",
            ),
            Key::StatusUnavailable => (
                "The database did not answer. Baton keeps trying; check the server log.",
                "数据库没有响应。Baton 会继续重试；请查看服务器日志。",
            ),
            Key::WorkflowsTitle => ("Workflows", "工作流"),
            Key::WorkflowsBlurb => (
                "Draw workflows as graphs of tasks, validate them as you go, and publish versions.",
                "以任务图的方式绘制工作流，随时校验，并发布版本。",
            ),
            Key::InstancesTitle => ("Instances", "实例"),
            Key::InstancesBlurb => (
                "Watch every running workflow live; cancel, pause, resume and retry.",
                "实时查看每个运行中的工作流；取消、暂停、恢复和重试。",
            ),
            Key::InboxTitle => ("Inbox", "待办"),
            Key::InboxBlurb => (
                "Approve or reject the human tasks assigned to you and your groups.",
                "审批分配给你和你所在组的人工任务。",
            ),
            Key::ComingSoon => ("Coming soon", "即将推出"),
            Key::NotFoundTitle => ("Page not found", "页面不存在"),
            Key::NotFoundBlurb => ("There is nothing at this address.", "这个地址没有内容。"),
            Key::BackToOverview => ("Back to the overview", "返回概览"),
        };
        match self {
            Locale::En => en,
            Locale::Zh => zh,
        }
    }
}

/// The current language, shared through context.
#[derive(Debug, Clone, Copy)]
pub struct I18n {
    pub locale: RwSignal<Locale>,
}

impl I18n {
    /// A reactive text: re-renders where it is used when the language changes.
    pub fn t(self, key: Key) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
        move || self.locale.get().text(key)
    }
}

pub fn provide_i18n(initial: Locale) -> I18n {
    let i18n = I18n {
        locale: RwSignal::new(initial),
    };
    provide_context(i18n);
    i18n
}

/// The language context; falls back to English outside the app (for example in unit tests).
pub fn use_i18n() -> I18n {
    use_context::<I18n>().unwrap_or_else(|| provide_i18n(Locale::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_honours_weights_and_order() {
        assert_eq!(
            Locale::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Some(Locale::Zh)
        );
        assert_eq!(
            Locale::from_accept_language("fr-FR,en;q=0.5,zh;q=0.7"),
            Some(Locale::Zh)
        );
        assert_eq!(Locale::from_accept_language("en-GB,zh"), Some(Locale::En));
        assert_eq!(Locale::from_accept_language("fr,de"), None);
    }

    #[test]
    fn cookie_wins_over_browser_language() {
        assert_eq!(
            Locale::negotiate(Some("a=1; baton_lang=zh"), Some("en-US")),
            Locale::Zh
        );
        assert_eq!(
            Locale::negotiate(Some("baton_lang=xx"), Some("zh-TW")),
            Locale::Zh
        );
        assert_eq!(Locale::negotiate(None, None), Locale::En);
    }
}
