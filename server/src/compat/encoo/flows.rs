//! Workflows (deployments) and workflow layouts (definitions of job nodes) as the console shows
//! them, and running them.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use engine::people::{new_uuid, Permission, Role};
use engine::runtime::{Mode, StartRequest};
use engine::service::Caller;
use engine::store::{Deployment, JobQuery, NewDeployment, TriggerPolicy};
use serde::Deserialize;
use serde_json::{json, Value};

use super::scope::Scope;
use super::{admin_only, json_body, page, referenced, views, Answer, Fail, ListQuery};
use crate::api::workers::{run_deployment, with_defaults};
use crate::api::ApiState;

/// `GET /openapi/workflows`.
pub(super) async fn workflows(
    State(api): State<ApiState>,
    scope: Scope,
    Query(query): Query<ListQuery>,
) -> Answer {
    let mut all = api.store.deployments().await?;
    all.retain(|d| scope.lists(d.department_id.as_deref()));
    let packages = api.store.packages().await?;
    page(
        &query,
        all,
        |d| (&d.name, &d.description, &d.created_at),
        |d| {
            let package = packages.iter().find(|p| p.name == d.package_name);
            scope.stamp(views::workflow(&d, package), d.department_id.as_deref())
        },
    )
}

/// A deployment as the console shows it, with its package's ids and declared arguments.
async fn shown(api: &ApiState, scope: &Scope, d: &Deployment) -> Answer {
    let package = api.store.package(&d.package_name).await?;
    Ok(Json(scope.stamp(
        views::workflow(d, package.as_ref()),
        d.department_id.as_deref(),
    )))
}

/// The workflow (deployment) `id` when the caller sees it.
pub(super) async fn seen_workflow(
    api: &ApiState,
    scope: &Scope,
    id: &str,
) -> Result<Deployment, Fail> {
    scope.check(
        api.store.deployment(id).await?.filter(|d| d.id == id),
        |d| d.department_id.as_deref(),
        format!("no workflow {id}"),
    )
}

/// The package version a workflow body names: `PackageId` or `PackageName`, and
/// `PackageVersionId` or `PackageVersion` (the latest when neither is given).
async fn named_version(
    api: &ApiState,
    package: Option<String>,
    version: Option<String>,
) -> Result<(engine::store::Package, engine::store::PackageVersion), Fail> {
    let package = package
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| Fail::bad("PackageId or PackageName is required"))?;
    let version = version.filter(|v| !v.trim().is_empty());
    crate::api::packages::version_for(
        api,
        package.trim(),
        version.as_deref().map(str::trim),
        ("PackageId", "PackageVersionId"),
    )
    .await
    .map_err(|e| Fail::bad(super::super::refusal(e).1))
}

/// `GET /openapi/workflows/{workflowId}`.
pub(super) async fn workflow(
    State(api): State<ApiState>,
    scope: Scope,
    Path(id): Path<String>,
) -> Answer {
    let deployment = seen_workflow(&api, &scope, &id).await?;
    shown(&api, &scope, &deployment).await
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WorkflowBody {
    name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    arguments: Vec<views::Argument>,
    package_name: Option<String>,
    package_version: Option<String>,
    package_id: Option<String>,
    package_version_id: Option<String>,
    associated_queue_id: Option<String>,
    priority: Option<i32>,
    max_retry_count: Option<i32>,
    trigger_policy: Option<String>,
}

/// `POST /openapi/workflows`: deploys a package version to a robot group.
pub(super) async fn create_workflow(
    State(api): State<ApiState>,
    scope: Scope,
    body: Result<Json<WorkflowBody>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    admin_only(&scope.caller)?;
    let Json(body) = body.map_err(|e| Fail::bad(e.body_text()))?;
    let required = |value: Option<String>, name: &str| {
        value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Fail::bad(format!("{name} is required")))
    };
    let name = required(body.name, "Name")?;
    let queue = required(body.associated_queue_id, "AssociatedQueueId")?;
    let priority = body.priority.unwrap_or(2000);
    if !(0..=5000).contains(&priority) {
        return Err(Fail::bad("Priority: 0 to 5000"));
    }
    let retries = body.max_retry_count.unwrap_or(0);
    if !(0..=10).contains(&retries) {
        return Err(Fail::bad("MaxRetryCount: 0 to 10"));
    }
    let policy = match body.trigger_policy.as_deref() {
        None => TriggerPolicy::AnyTime,
        Some(p) => TriggerPolicy::parse(p)
            .ok_or_else(|| Fail::bad("TriggerPolicy: SkipWhenNoResource or AnyTime"))?,
    };
    let seen_queue = api
        .store
        .queue(&queue)
        .await?
        .filter(|q| scope.sees(q.department_id.as_deref()));
    if seen_queue.is_none() {
        return Err(Fail::bad(format!(
            "AssociatedQueueId: no robot group {queue}"
        )));
    }
    let (package, version) = named_version(
        &api,
        body.package_id.or(body.package_name),
        body.package_version_id.or(body.package_version),
    )
    .await?;
    let deployment = api
        .store
        .create_deployment(NewDeployment {
            id: &new_uuid(),
            name: &name,
            description: &body.description,
            package_name: &package.name,
            package_version: &version.version,
            queue_id: &queue,
            arguments: &with_defaults(&version.arguments, views::argument_values(&body.arguments)),
            priority,
            max_retries: retries,
            trigger_policy: policy,
            department_id: scope.department_id(),
            created_by: &scope.caller.user.username,
        })
        .await?;
    shown(&api, &scope, &deployment).await
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ExecuteBody {
    #[serde(default)]
    arguments: Vec<views::Argument>,
    priority: Option<i32>,
}

/// `POST /openapi/workflows/{workflowId}/execute`: queues a job; answers the jobs (one).
pub(super) async fn execute_workflow(
    State(api): State<ApiState>,
    scope: Scope,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Answer {
    if !scope.caller.user.is_admin() && !scope.caller.user.has(Role::Operator) {
        return Err(Fail::new(
            StatusCode::FORBIDDEN,
            "running workflows needs the operator role",
        ));
    }
    let body: ExecuteBody = if body.iter().all(u8::is_ascii_whitespace) {
        ExecuteBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| Fail::bad(format!("body: {e}")))?
    };
    let deployment = seen_workflow(&api, &scope, &id).await?;
    let priority = body.priority.unwrap_or(deployment.priority);
    if !(0..=5000).contains(&priority) {
        return Err(Fail::bad("Priority: 0 to 5000"));
    }
    let more = match views::argument_values(&body.arguments) {
        Value::Object(more) => more,
        _ => serde_json::Map::new(),
    };
    let job = run_deployment(&api, &deployment, more, priority).await?;
    Ok(Json(json!([scope.stamp(
        views::job(&job, &deployment),
        deployment.department_id.as_deref()
    )])))
}

/// The published definitions with job nodes that `caller` may use.
pub(super) async fn layout_list(
    api: &ApiState,
    caller: &Caller,
) -> Result<Vec<views::Layout>, Fail> {
    let summaries = api
        .definitions
        .list(
            &caller.user,
            None,
            Some(engine::definition::DefinitionStatus::Published),
            1_000,
            0,
        )
        .await?;
    let mut layouts = Vec::new();
    for summary in summaries.items {
        let (version, definition) = api.definitions.version(&summary.key, None).await?;
        if definition
            .nodes
            .iter()
            .any(|n| matches!(n.kind, engine::definition::NodeKind::Job(_)))
        {
            layouts.push(views::Layout {
                definition,
                published_at: version.published_at,
                published_by: version.published_by,
            });
        }
    }
    Ok(layouts)
}

/// `GET /openapi/workflowlayouts`.
pub(super) async fn layouts(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<ListQuery>,
) -> Answer {
    let all = layout_list(&api, &caller).await?;
    page(
        &query,
        all,
        |l| {
            (
                &l.definition.name,
                &l.definition.description,
                &l.published_at,
            )
        },
        |l| views::layout(&l),
    )
}

/// `GET /openapi/workflowlayouts/{workflowlayoutId}`: the one layout.
pub(super) async fn layout(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    let found = layout_list(&api, &caller)
        .await?
        .into_iter()
        .find(|l| l.definition.key == id)
        .ok_or_else(|| Fail::not_found(format!("no workflow layout {id}")))?;
    Ok(Json(views::layout(&found)))
}

/// `POST /openapi/workflowlayouts/{workflowlayoutId}/execute`: starts the layout's workflow.
pub(super) async fn execute_layout(
    State(api): State<ApiState>,
    scope: Scope,
    Path(id): Path<String>,
) -> Answer {
    api.definitions
        .authorize(&scope.caller.user, &id, Permission::Use)
        .await?;
    let started = api
        .runtime
        .start_bound(
            StartRequest {
                definition_key: id.clone(),
                version: None,
                input: json!({}),
                trigger: engine::instance::Trigger::Api,
                operator: scope.caller.user.username.clone(),
                idempotency_key: None,
            },
            Mode::default(),
            None,
        )
        .await?;
    let instance = started.instance;
    // The first jobs are queued by the scheduler right after the start; wait a moment for them.
    let mut jobs = Vec::new();
    for _ in 0..25 {
        jobs = api
            .store
            .jobs(&JobQuery {
                instance_id: Some(instance.id),
                limit: 100,
                ..JobQuery::default()
            })
            .await?
            .items;
        if !jobs.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut views = Vec::new();
    for job in &jobs {
        if let Some(d) = api.store.deployment(&job.deployment_id).await? {
            let department = d.department_id.clone();
            views.push(scope.stamp(views::job(job, &d), department.as_deref()));
        }
    }
    Ok(Json(json!({
        "Id": instance.id.to_string(),
        "Name": id,
        "StartedAt": instance.created_at,
        "FinishedAt": instance.ended_at,
        "OwnerId": id,
        "JobStartupType": "Manual",
        "JobStartupId": null,
        "JobStartupName": scope.caller.user.username,
        "CreatedAt": instance.created_at,
        "CreatedBy": scope.caller.user.id.to_string(),
        "CreatedByName": scope.caller.user.display_name,
        "Jobs": views,
    })))
}

/// `PATCH /openapi/workflows/{workflowId}`: what is given replaces what the workflow has.
pub(super) async fn change_workflow(
    State(api): State<ApiState>,
    scope: Scope,
    Path(id): Path<String>,
    body: Result<Json<WorkflowBody>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    admin_only(&scope.caller)?;
    let body = json_body(body)?;
    let current = seen_workflow(&api, &scope, &id).await?;
    let priority = body.priority.unwrap_or(current.priority);
    if !(0..=5000).contains(&priority) {
        return Err(Fail::bad("Priority: 0 to 5000"));
    }
    let retries = body.max_retry_count.unwrap_or(current.max_retries);
    if !(0..=10).contains(&retries) {
        return Err(Fail::bad("MaxRetryCount: 0 to 10"));
    }
    let policy = match body.trigger_policy.as_deref() {
        None => current.trigger_policy,
        Some(p) => TriggerPolicy::parse(p)
            .ok_or_else(|| Fail::bad("TriggerPolicy: SkipWhenNoResource or AnyTime"))?,
    };
    let queue = body
        .associated_queue_id
        .unwrap_or_else(|| current.queue_id.clone());
    if api.store.queue(&queue).await?.is_none() {
        return Err(Fail::bad(format!(
            "AssociatedQueueId: no robot group {queue}"
        )));
    }
    let arguments = if body.arguments.is_empty() {
        current.arguments.clone()
    } else {
        views::argument_values(&body.arguments)
    };
    let pick = |given: Option<String>, kept: &str| {
        given
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| kept.to_string())
    };
    let name = pick(body.name, &current.name);
    let package_named = body.package_id.is_some() || body.package_name.is_some();
    let version_named = body.package_version_id.is_some() || body.package_version.is_some();
    let (package_name, package_version) = if package_named || version_named {
        let (package, version) = named_version(
            &api,
            body.package_id
                .or(body.package_name)
                .or(Some(current.package_name.clone())),
            body.package_version_id.or(body.package_version),
        )
        .await?;
        (package.name, version.version)
    } else {
        (
            current.package_name.clone(),
            current.package_version.clone(),
        )
    };
    let description = if body.description.is_empty() {
        current.description.clone()
    } else {
        body.description
    };
    let changed = api
        .store
        .update_deployment(
            &id,
            NewDeployment {
                id: &id,
                name: &name,
                description: &description,
                package_name: &package_name,
                package_version: &package_version,
                queue_id: &queue,
                arguments: &arguments,
                priority,
                max_retries: retries,
                trigger_policy: policy,
                department_id: current.department_id.as_deref(),
                created_by: &current.created_by,
            },
        )
        .await?;
    shown(&api, &scope, &changed).await
}

/// `DELETE /openapi/workflows/{workflowId}`.
pub(super) async fn delete_workflow(
    State(api): State<ApiState>,
    scope: Scope,
    Path(id): Path<String>,
) -> Result<StatusCode, Fail> {
    admin_only(&scope.caller)?;
    seen_workflow(&api, &scope, &id).await?;
    api.store.delete_deployment(&id).await.map_err(referenced)?;
    Ok(StatusCode::NO_CONTENT)
}
