//! Baton's objects as the Encoo console's PascalCase ones (field names exactly as its document
//! spells them, `LastRunInstaceId` included).

use engine::definition::{Definition, NodeKind};
use engine::people::User;
use engine::store::{
    Company, Department, Deployment, Job, Package, PackageArgument, PackageVersion, Queue, Robot,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// An `Arguments[]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Argument {
    pub name: String,
    #[serde(default)]
    pub r#type: Option<String>,
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default)]
    pub default_value: Option<Value>,
    #[serde(default)]
    pub asset_content: Option<Value>,
}

/// The argument values Baton keeps (`{name: value}`) from a list of arguments.
pub fn argument_values(arguments: &[Argument]) -> Value {
    Value::Object(
        arguments
            .iter()
            .map(|a| {
                (
                    a.name.clone(),
                    a.default_value.clone().unwrap_or(Value::Null),
                )
            })
            .collect::<Map<_, _>>(),
    )
}

/// Argument values as the console's list (every argument an input).
fn arguments(values: &Value) -> Value {
    let list: Vec<Value> = values
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(name, value)| {
                    json!({
                        "Name": name,
                        "Type": match value {
                            Value::Number(_) => "Number",
                            Value::Bool(_) => "Boolean",
                            Value::String(_) => "String",
                            _ => "Object",
                        },
                        "Direction": "In",
                        "DefaultValue": match value {
                            Value::String(s) => json!(s),
                            other => json!(other.to_string()),
                        },
                        "AssetContent": null,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!(list)
}

pub fn company(c: &Company, user: &User) -> Value {
    json!({
        "CompanyUserId": user.id.to_string(),
        "CompanyUserName": user.display_name,
        "Id": c.id,
        "Name": c.name,
        "Description": c.description,
        "Tags": c.tags,
        "Properties": c.properties,
        "CreatedAt": c.created_at,
        "CreatedBy": null,
        "CreatedByName": c.created_by,
        "ModifiedBy": null,
        "ModifiedByName": c.created_by,
        "ModifiedAt": c.updated_at,
        "CompanyId": c.id,
        "Edition": "Enterprise",
    })
}

/// A department with its children, from `all` of the company's.
pub fn department(d: &Department, all: &[Department]) -> Value {
    let children: Vec<Value> = all
        .iter()
        .filter(|c| c.parent_id.as_deref() == Some(d.id.as_str()))
        .map(|c| department(c, all))
        .collect();
    json!({
        "Children": children,
        "DepartmentPath": d.path,
        "VisitorHasAnyRole": true,
        "VisitorHasPermission": true,
        "UserCount": d.user_count,
        "Id": d.id,
        "DepartmentId": d.id,
        "ParentId": d.parent_id,
        "Name": d.name,
        "Description": d.description,
        "ETag": d.updated_at,
        "Tags": [],
        "Properties": {},
        "CreatedAt": d.created_at,
        "ModifiedAt": d.updated_at,
        "CompanyId": d.company_id,
    })
}

pub fn company_user(user: &User, company: Option<&str>, department: Option<&Department>) -> Value {
    json!({
        "UserExtensionInfo": {"ExtensionId": "", "ExtensionMobile": "", "ExtensionEmail": ""},
        "IsExternalUser": false,
        "HasModifiedPassword": true,
        "Id": user.id.to_string(),
        "UserId": user.id.to_string(),
        "CompanyId": company,
        "IsCompanyOwner": user.is_admin(),
        "RoleIds": user.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "Status": if user.disabled { "Banned" } else { "Active" },
        "ResourceType": "CompanyUser",
        "ParentResourceType": "Department",
        "AssignedDepartmentId": department.map(|d| d.id.clone()),
        "ParentId": department.map(|d| d.id.clone()),
        "Name": user.display_name,
        "Description": "",
        "ETag": user.created_at,
        "Tags": user.groups,
        "Properties": {},
        "CreatedAt": user.created_at,
        "ModifiedAt": user.created_at,
        "LastLoginAt": null,
        "DepartmentPath": department.map(|d| d.path.clone()),
        "Email": "",
        "PhoneNumber": "",
        "UserName": user.username,
    })
}

pub fn queue(q: &Queue) -> Value {
    json!({
        "Id": q.id,
        "Name": q.name,
        "Description": q.description,
        "Tags": q.tags,
        "Properties": {},
        "CreatedAt": q.created_at,
        "CreatedBy": null,
        "CreatedByName": q.created_by,
        "ModifiedAt": q.updated_at,
        "ModifiedBy": null,
        "ModifiedByName": q.created_by,
        "RobotCount": q.robot_count,
        "CompanyId": null,
        "DepartmentId": null,
    })
}

pub fn robot(r: &Robot) -> Value {
    let status = match r.status.as_str() {
        "ready" => "Ready",
        "busy" => "Busy",
        _ => "Disconnected",
    };
    json!({
        "Id": r.id,
        "CurrentDeviceId": null,
        "LastHeartbeatTime": r.last_heartbeat_at,
        "ListeningStatus": null,
        "CompanyId": null,
        "DepartmentId": null,
        "SdkVersion": r.sdk_version,
        "Name": r.name,
        "Description": r.description,
        "CanUpgrade": false,
        "LicenseStatus": "ServerLicensed",
        "ClientSku": "",
        "Version": r.sdk_version,
        "Status": status,
        "QueueId": r.queue_id,
    })
}

/// A deployment, with the ids and declared arguments of its package version when it is known.
pub fn workflow(d: &Deployment, package: Option<&Package>) -> Value {
    let version = package.and_then(|p| p.versions.iter().find(|v| v.version == d.package_version));
    let arguments = match version {
        Some(v) => declared_arguments(&v.arguments, &d.arguments),
        None => arguments(&d.arguments),
    };
    json!({
        "Id": d.id,
        "DepartmentId": null,
        "Name": d.name,
        "Description": d.description,
        "Arguments": arguments,
        "Tags": [],
        "VideoRecordMode": "NeverRecord",
        "Properties": {},
        "JobStateNotification": {"SwitchOn": false, "JustNoticeAgainstLastRuninstance": false,
                                 "Conditions": null, "Recipients": []},
        "PackageName": d.package_name,
        "PackageId": package.map(|p| &p.id),
        "PackageVersionId": version.map(|v| &v.id),
        "PackageVersion": d.package_version,
        "AssociatedQueueId": d.queue_id,
        "Priority": d.priority,
        "MaxRetryCount": d.max_retries,
        "TriggerPolicy": d.trigger_policy.as_str(),
        "LastTriggeredAt": null,
        "TriggeredCount": null,
        "CreatedAt": d.created_at,
        "CreatedBy": null,
        "CreatedByName": d.created_by,
        "ModifiedAt": d.updated_at,
        "ModifiedBy": null,
        "ModifiedByName": d.created_by,
        "CompanyId": null,
    })
}

pub fn job(j: &Job, d: &Deployment) -> Value {
    json!({
        "Id": j.id,
        "WorkflowId": d.id,
        "Name": d.name,
        "Description": d.description,
        "PackageId": null,
        "PackageName": d.package_name,
        "PackageVersion": d.package_version,
        "PackageVersionId": null,
        "Arguments": arguments(&j.arguments),
        "ContainingQueueId": j.queue_id,
        "Priority": j.priority,
        "State": j.state,
        "DisplayState": j.state,
        "VideoRecordMode": "NeverRecord",
        "Message": j.message,
        "LastRunInstaceId": j.instance_id,
        "LastRobotName": j.robot_id,
        "StartedAt": j.started_at,
        "FinishedAt": j.finished_at,
        "RetriedCount": j.retried_count,
        "MaxRetryCount": j.max_retries,
        "DepartmentId": null,
        "CompanyId": null,
        "CronTriggerId": null,
        "JobExecutionPolicy": null,
        "CreatedAt": j.created_at,
        "CreatedBy": null,
        "CreatedByName": null,
        "ModifiedAt": j.finished_at.clone().or(j.started_at.clone()).unwrap_or(j.created_at.clone()),
        "ModifiedBy": null,
        "ModifiedByName": null,
        "JobStartupType": if j.instance_id.is_some() { "Layout" } else { "Manual" },
        "JobStartupId": j.instance_id,
        "JobStartupName": j.node_id,
        "JobGroupId": j.instance_id,
        "SeqNum": 0,
        "Step": "",
        "JobSubjectId": null,
        "JobSubjectName": null,
        "JobSubjectType": null,
    })
}

/// A published definition with `job` nodes.
pub struct Layout {
    pub definition: Definition,
    pub published_at: String,
    pub published_by: String,
}

pub fn layout(l: &Layout) -> Value {
    let nodes: Vec<Value> = l
        .definition
        .nodes
        .iter()
        .filter_map(|n| match &n.kind {
            NodeKind::Job(job) => Some((n, job)),
            _ => None,
        })
        .enumerate()
        .map(|(i, (n, job))| {
            json!({
                "Id": n.id,
                "Index": i,
                "Name": if n.name.is_empty() { &n.id } else { &n.name },
                "WorkflowId": job.deployment,
                "Description": n.description,
                "Tags": [],
                "Arguments": arguments(job.arguments.as_ref().unwrap_or(&json!({}))),
                "CreatedAt": l.published_at,
                "CreatedBy": null,
                "CreatedByName": l.published_by,
                "ModifiedAt": l.published_at,
                "ModifiedBy": null,
                "ModifiedByName": l.published_by,
            })
        })
        .collect();
    json!({
        "Id": l.definition.key,
        "Name": l.definition.name,
        "Description": l.definition.description,
        "Tags": l.definition.tags,
        "Properties": {},
        "Nodes": nodes,
        "LastTriggeredAt": null,
        "TriggeredCount": null,
        "CompanyId": null,
        "DepartmentId": null,
        "CreatedAt": l.published_at,
        "CreatedBy": null,
        "CreatedByName": l.published_by,
        "ModifiedAt": l.published_at,
        "ModifiedBy": null,
        "ModifiedByName": l.published_by,
    })
}

/// A package's declared arguments, each with the value `values` gives it (else its default),
/// then the values of arguments the package does not declare.
fn declared_arguments(declared: &[PackageArgument], values: &Value) -> Value {
    let undeclared: Map<String, Value> = values
        .as_object()
        .map(|all| {
            all.iter()
                .filter(|(name, _)| !declared.iter().any(|a| &a.name == *name))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    let mut list: Vec<Value> = declared
        .iter()
        .map(|a| {
            let value = match values.get(&a.name) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Null) | None => a.default_value.clone(),
                Some(other) => Some(other.to_string()),
            };
            json!({"Name": a.name, "Type": a.kind, "Direction": a.direction,
                   "DefaultValue": value, "AssetContent": null})
        })
        .collect();
    if let Value::Array(more) = arguments(&Value::Object(undeclared)) {
        list.extend(more);
    }
    json!(list)
}

fn package_version(p: &Package, v: &PackageVersion) -> Value {
    json!({
        "Id": v.id,
        "PackageId": p.id,
        "Version": v.version,
        "Description": v.description,
        "Arguments": declared_arguments(&v.arguments, &Value::Null),
        "ETag": p.etag,
        "UploadTime": v.created_at,
        "TotalDownloads": v.total_downloads,
        "CreatedAt": v.created_at,
        "ModifiedAt": v.created_at,
        "CreatedBy": null,
        "CreatedByName": v.created_by,
        "ModifiedBy": null,
        "ModifiedByName": v.created_by,
        "CompanyId": null,
        "DepartmentId": p.department_id,
        "FullDescription": v.description,
    })
}

/// A package; its `Versions` (highest first) when `versions` is set, else an empty list.
pub fn package(p: &Package, versions: bool) -> Value {
    let latest = p.latest();
    json!({
        "Id": p.id,
        "Name": p.name,
        "Description": p.description,
        "TotalDownloads": p.total_downloads,
        "LastVersion": latest.map(|v| &v.version),
        "LastVersionId": latest.map(|v| &v.id),
        "CreatedAt": p.created_at,
        "ModifiedAt": p.updated_at,
        "CreatedBy": null,
        "CreatedByName": p.created_by,
        "ModifiedBy": null,
        "ModifiedByName": p.modified_by,
        "Tags": p.tags,
        "CompanyId": null,
        "DepartmentId": p.department_id,
        "IconUrl": null,
        "FullDescription": p.description,
        "Versions": if versions {
            p.versions.iter().map(|v| package_version(p, v)).collect::<Vec<_>>()
        } else {
            Vec::new()
        },
    })
}

/// The answer to an upload: the package and the version just added.
pub fn uploaded(p: &Package, version_id: &str) -> Value {
    json!({
        "PackageId": p.id,
        "PackageVersionId": version_id,
        "PackageName": p.name,
        "LastVersion": p.latest().map(|v| &v.version),
    })
}
