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
    WorkflowNotFound,
    WorkflowsBlurb,
    InstancesTitle,
    InstancesBlurb,
    InboxTitle,
    InboxBlurb,
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
    InboxWaiting,
    InboxFilter,
    ColumnTask,
    ColumnWorkflow,
    ColumnStatus,
    ColumnCreated,
    ColumnDue,
    InboxEmpty,
    LoadFailed,
    PagePrevious,
    PageNext,
    ShowingRange,
    InboxKeyboardHint,
    StatusOpen,
    StatusClaimed,
    StatusCompleted,
    StatusCancelled,
    StatusExpired,
    TaskNotFound,
    BackToInbox,
    TaskContext,
    TaskAnswer,
    TaskFor,
    Claim,
    Release,
    ClaimedBy,
    ClaimedByYou,
    ClaimedByOther,
    NotYours,
    Required,
    ChooseOption,
    OutcomeApprove,
    OutcomeReject,
    Sending,
    FixFields,
    TaskClosedMeanwhile,
    TaskIsClosed,
    CompletedBy,
    Outcome,
    ActionFailed,
    NoContext,
    InboxCount,
    Yes,
    No,
    InstPending,
    InstRunning,
    InstPaused,
    InstFailed,
    InstRollingBack,
    RunWaiting,
    RunSkipped,
    RunTimedOut,
    RunCompensated,
    RunNotStarted,
    ColumnInstance,
    ColumnStartedBy,
    ColumnStarted,
    ColumnDuration,
    AllStatuses,
    InstancesEmpty,
    InstanceNotFound,
    BackToInstances,
    Progress,
    CancelInstance,
    PauseInstance,
    ResumeInstance,
    ConfirmCancel,
    ConfirmPause,
    ConfirmResume,
    EventLog,
    NodeRunsTitle,
    SelectNode,
    NoRuns,
    Attempt,
    LoopIndex,
    InputLabel,
    OutputLabel,
    ErrorLabel,
    Ended,
    LiveUpdates,
    Diagram,
    StartedFrom,
    StartedTo,
    RerunNode,
    RetryWithInput,
    SkipNode,
    ConfirmRerun,
    ConfirmSkip,
}

/// A piece of UI text in every language: [`Key`], and the designer's own table
/// (`designer::text::DKey`).
pub trait Phrase: Copy + Send + Sync + 'static {
    /// The English and the Chinese text.
    fn pair(self) -> (&'static str, &'static str);
}

impl Locale {
    /// The text for `key` in this language.
    pub fn text(self, key: impl Phrase) -> &'static str {
        let (en, zh) = key.pair();
        match self {
            Locale::En => en,
            Locale::Zh => zh,
        }
    }
}

impl Phrase for Key {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
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
            Key::WorkflowNotFound => ("This workflow does not exist, or it is not yours to see.", "该工作流不存在，或你无权查看。"),
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
            Key::NotFoundTitle => ("Page not found", "页面不存在"),
            Key::NotFoundBlurb => ("There is nothing at this address.", "这个地址没有内容。"),
            Key::BackToOverview => ("Back to the overview", "返回概览"),
            Key::Yes => ("Yes", "是"),
            Key::StartedFrom => ("Started from", "起始日期"),
            Key::StartedTo => ("to", "截止日期"),

            Key::RerunNode => ("Re-run", "重新运行"),
            Key::RetryWithInput => ("Re-run with this input", "用此输入重新运行"),
            Key::SkipNode => ("Skip", "跳过"),
            Key::ConfirmRerun => ("Run this node again? The instance resumes.", "重新运行该节点？实例将恢复运行。"),
            Key::ConfirmSkip => ("Skip this node? The workflow goes on as if it had completed.", "跳过该节点？流程将如同该节点已完成一样继续。"),

            Key::InstPending => ("Pending", "等待中"),
            Key::InstRunning => ("Running", "运行中"),
            Key::InstPaused => ("Paused", "已暂停"),
            Key::InstFailed => ("Failed", "失败"),
            Key::InstRollingBack => ("Rolling back", "回滚中"),
            Key::RunWaiting => ("Waiting", "等待中"),
            Key::RunSkipped => ("Skipped", "已跳过"),
            Key::RunTimedOut => ("Timed out", "已超时"),
            Key::RunCompensated => ("Rolled back", "已回滚"),
            Key::RunNotStarted => ("Not started", "未开始"),
            Key::ColumnInstance => ("Instance", "实例"),
            Key::ColumnStartedBy => ("Started by", "启动人"),
            Key::ColumnStarted => ("Started", "启动时间"),
            Key::ColumnDuration => ("Duration", "耗时"),
            Key::AllStatuses => ("All", "全部"),
            Key::InstancesEmpty => ("No instances to show.", "没有可显示的实例。"),
            Key::InstanceNotFound => ("This instance does not exist, or it is not yours to see.", "该实例不存在，或你无权查看。"),
            Key::BackToInstances => ("Back to the instances", "返回实例列表"),
            Key::Progress => ("{done} of {total} nodes done", "已完成 {done}/{total} 个节点"),
            Key::CancelInstance => ("Cancel", "取消"),
            Key::PauseInstance => ("Pause", "暂停"),
            Key::ResumeInstance => ("Resume", "恢复"),
            Key::ConfirmCancel => ("Cancel this instance? Running nodes stop and nothing more is scheduled.", "确定取消该实例？正在运行的节点将停止，不再调度新的节点。"),
            Key::ConfirmPause => ("Pause this instance? Running nodes finish; nothing new starts until it is resumed.", "确定暂停该实例？正在运行的节点会完成；恢复之前不会启动新的节点。"),
            Key::ConfirmResume => ("Resume this instance?", "确定恢复该实例？"),
            Key::EventLog => ("Event log", "事件日志"),
            Key::NodeRunsTitle => ("Runs of the selected node", "所选节点的运行记录"),
            Key::SelectNode => ("Select a node in the diagram to see its runs.", "在图中选择一个节点以查看其运行记录。"),
            Key::NoRuns => ("This node has not run.", "该节点尚未运行。"),
            Key::Attempt => ("Attempt", "尝试"),
            Key::LoopIndex => ("Item", "项"),
            Key::InputLabel => ("Input", "输入"),
            Key::OutputLabel => ("Output", "输出"),
            Key::ErrorLabel => ("Error", "错误"),
            Key::Ended => ("Ended", "结束时间"),
            Key::LiveUpdates => ("Updates live", "实时更新"),
            Key::Diagram => ("Workflow diagram", "流程图"),

            Key::No => ("No", "否"),
            Key::InboxWaiting => ("Waiting for me", "待我处理"),
            Key::InboxFilter => ("Show", "显示"),
            Key::ColumnTask => ("Task", "任务"),
            Key::ColumnWorkflow => ("Workflow", "工作流"),
            Key::ColumnStatus => ("Status", "状态"),
            Key::ColumnCreated => ("Created", "创建时间"),
            Key::ColumnDue => ("Due", "截止时间"),
            Key::InboxEmpty => ("Nothing waits for you here.", "这里没有待你处理的任务。"),
            Key::LoadFailed => ("This could not be loaded. Try again in a moment.", "无法加载。请稍后重试。"),
            Key::PagePrevious => ("Previous", "上一页"),
            Key::PageNext => ("Next", "下一页"),
            Key::ShowingRange => ("{from}–{to} of {total}", "第 {from}–{to} 条，共 {total} 条"),
            Key::InboxKeyboardHint => ("Use ↑ and ↓ to move between tasks, Enter to open one.", "使用 ↑ 和 ↓ 在任务间移动，按回车打开。"),
            Key::StatusOpen => ("Open", "待处理"),
            Key::StatusClaimed => ("Claimed", "已认领"),
            Key::StatusCompleted => ("Completed", "已完成"),
            Key::StatusCancelled => ("Cancelled", "已取消"),
            Key::StatusExpired => ("Expired", "已过期"),
            Key::TaskNotFound => ("This task does not exist, or it is not yours to see.", "该任务不存在，或你无权查看。"),
            Key::BackToInbox => ("Back to the inbox", "返回待办"),
            Key::TaskContext => ("What the workflow knows", "流程数据"),
            Key::TaskAnswer => ("Your answer", "你的答复"),
            Key::TaskFor => ("For", "处理人"),
            Key::Claim => ("Claim", "认领"),
            Key::Release => ("Give back", "放回"),
            Key::ClaimedBy => ("Claimed by", "认领人"),
            Key::ClaimedByYou => ("You claimed this task; nobody else sees it until you complete it or give it back.", "你已认领该任务；在你完成或放回之前，其他人看不到它。"),
            Key::ClaimedByOther => ("Someone else claimed this task.", "该任务已被他人认领。"),
            Key::NotYours => ("You can see this task, but it is not assigned to you or your groups.", "你可以查看该任务，但它没有分配给你或你所在的组。"),
            Key::Required => ("required", "必填"),
            Key::ChooseOption => ("Choose…", "请选择…"),
            Key::OutcomeApprove => ("Approve", "同意"),
            Key::OutcomeReject => ("Reject", "拒绝"),
            Key::Sending => ("Sending…", "提交中…"),
            Key::FixFields => ("Check the fields marked below.", "请检查下面标出的字段。"),
            Key::TaskClosedMeanwhile => ("This task was completed or closed in the meantime, so your answer was not recorded.", "该任务已在此期间被完成或关闭，你的答复未被记录。"),
            Key::TaskIsClosed => ("This task is closed.", "该任务已关闭。"),
            Key::CompletedBy => ("Completed by", "完成人"),
            Key::Outcome => ("Outcome", "结果"),
            Key::ActionFailed => ("That did not work. Try again.", "操作未成功，请重试。"),
            Key::NoContext => ("No data yet.", "暂无数据。"),
            Key::InboxCount => ("tasks waiting for you", "个待办任务"),
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
    pub fn t(self, key: impl Phrase) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
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
