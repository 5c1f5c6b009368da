//! What a console request is about: its company (`CompanyId`, else the caller's first) and
//! department (`DepartmentId`, optional), and what the caller may see.
//!
//! Robot groups, workflows and packages may belong to a department (robots and jobs go with
//! their group and workflow). Created with a `DepartmentId` header, they belong to that
//! department. A list answers what belongs to no department, and what belongs to a department of
//! the request's company that the caller sees (their own, those above and below them; admins
//! all) — narrowed, when `DepartmentId` is sent, to that department and those below it. Reading,
//! changing or deleting one object needs only that the caller sees its department; one they do
//! not see is "not found", as on the rest of Baton.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use engine::service::{scope, Caller};
use engine::store::Department;
use serde_json::{json, Value};

use super::{company, Fail};
use crate::api::ApiState;

pub(super) struct Scope {
    /// Who asks (the surface's guard signed them in).
    pub(super) caller: Caller,
    company: Option<String>,
    /// The request's company's departments.
    departments: Vec<Department>,
    /// The `DepartmentId` header's department.
    department: Option<Department>,
    /// The departments the caller sees; `None` for an administrator (all).
    seen: Option<Vec<String>>,
}

/// A handler's `scope: Scope` argument: the signed-in caller and the request's tenancy headers.
impl FromRequestParts<ApiState> for Scope {
    type Rejection = Fail;

    async fn from_request_parts(parts: &mut Parts, api: &ApiState) -> Result<Self, Fail> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Fail::new(StatusCode::UNAUTHORIZED, "sign in first"))?;
        Self::of(api, &caller, &parts.headers).await
    }
}

impl Scope {
    pub(super) async fn of(
        api: &ApiState,
        caller: &Caller,
        headers: &HeaderMap,
    ) -> Result<Self, Fail> {
        // A `CompanyId` that is not the caller's is refused; without one, a caller in no
        // company still sees what belongs to no department.
        let company = match company(api, caller, headers).await {
            Ok(id) => Some(id),
            Err(refused) if headers.contains_key("CompanyId") => return Err(refused),
            Err(_) => None,
        };
        let departments = match &company {
            Some(id) => api.store.departments(id).await?,
            None => Vec::new(),
        };
        let seen = if caller.user.is_admin() {
            None
        } else {
            Some(scope::departments_seen(api.store.as_ref(), &caller.user).await?)
        };
        let mut this = Self {
            caller: caller.clone(),
            company,
            departments,
            department: None,
            seen,
        };
        if let Some(id) = headers.get("DepartmentId").and_then(|v| v.to_str().ok()) {
            let found = this
                .departments
                .iter()
                .find(|d| d.id == id)
                .filter(|d| this.sees(Some(&d.id)))
                .cloned();
            this.department = Some(found.ok_or_else(|| {
                Fail::not_found(format!(
                    "DepartmentId: no department {id} of the company that you see"
                ))
            })?);
        }
        Ok(this)
    }

    /// Whether the caller sees what belongs to `department`.
    pub(super) fn sees(&self, department: Option<&str>) -> bool {
        match (department, &self.seen) {
            (None, _) | (_, None) => true,
            (Some(d), Some(seen)) => seen.iter().any(|s| s == d),
        }
    }

    /// Whether a list of this request shows what belongs to `department`.
    pub(super) fn lists(&self, department: Option<&str>) -> bool {
        let Some(id) = department else { return true };
        let Some(found) = self.departments.iter().find(|d| d.id == id) else {
            return false;
        };
        let under = self.department.as_ref().is_none_or(|top| {
            found.path == top.path || found.path.starts_with(&format!("{}/", top.path))
        });
        under && self.sees(Some(id))
    }

    /// The request's company.
    pub(super) fn company(&self) -> Option<&str> {
        self.company.as_deref()
    }

    /// The department new objects of this request belong to.
    pub(super) fn department_id(&self) -> Option<&str> {
        self.department.as_ref().map(|d| d.id.as_str())
    }

    /// The company of what belongs to `department` (one of this request's company's).
    pub(super) fn company_of(&self, department: Option<&str>) -> Option<&str> {
        let department = department?;
        self.departments
            .iter()
            .any(|d| d.id == department)
            .then_some(self.company.as_deref())
            .flatten()
    }

    /// `found` when the caller sees its department, else "not found" as `what`.
    pub(super) fn check<T>(
        &self,
        found: Option<T>,
        department: impl Fn(&T) -> Option<&str>,
        what: String,
    ) -> Result<T, Fail> {
        found
            .filter(|item| self.sees(department(item)))
            .ok_or_else(|| Fail::not_found(what))
    }

    /// A view with the `CompanyId` and `DepartmentId` of what belongs to `department` (its
    /// `Versions` too, for a package).
    pub(super) fn stamp(&self, mut view: Value, department: Option<&str>) -> Value {
        let company = json!(self.company_of(department));
        if let Some(versions) = view.get_mut("Versions").and_then(Value::as_array_mut) {
            for version in versions {
                version["CompanyId"] = company.clone();
                version["DepartmentId"] = json!(department);
            }
        }
        view["CompanyId"] = company;
        view["DepartmentId"] = json!(department);
        view
    }
}
