//! Departments scope definitions and their instances. A definition in a department is seen by the
//! people in that department, in the departments above it and in those below it (a company-wide
//! definition sits in the company's root department, so its whole company sees it); one in no
//! department by everybody its grants allow. Administrators see everything. Grants (USE, MGMT)
//! still decide what a person may do with what they see.

use crate::people::User;
use crate::store::{Store, StoreError, Visibility};

/// The ids of the departments whose definitions `user` sees.
pub async fn departments_seen(store: &dyn Store, user: &User) -> Result<Vec<String>, StoreError> {
    let mine = store.memberships(user.id).await?;
    let mut companies: Vec<&str> = mine.iter().map(|d| d.company_id.as_str()).collect();
    companies.sort_unstable();
    companies.dedup();
    let mut seen = Vec::new();
    for company in companies {
        for department in store.departments(company).await? {
            let related = mine.iter().any(|m| {
                m.company_id == department.company_id
                    && (m.path == department.path
                        || department.path.starts_with(&format!("{}/", m.path))
                        || m.path.starts_with(&format!("{}/", department.path)))
            });
            if related {
                seen.push(department.id);
            }
        }
    }
    Ok(seen)
}

/// Whether `user` sees what is in `department`.
pub async fn sees(
    store: &dyn Store,
    user: &User,
    department: Option<&str>,
) -> Result<bool, StoreError> {
    match department {
        None => Ok(true),
        Some(_) if user.is_admin() => Ok(true),
        Some(id) => Ok(departments_seen(store, user).await?.iter().any(|d| d == id)),
    }
}

/// Whether `user` sees the definition `key` (and so its instances); `true` for an unknown key,
/// which the caller reports on its own.
pub async fn sees_definition(
    store: &dyn Store,
    user: &User,
    key: &str,
) -> Result<bool, StoreError> {
    if user.is_admin() {
        return Ok(true);
    }
    match store.definition(key).await? {
        Some(record) => sees(store, user, record.department_id.as_deref()).await,
        None => Ok(true),
    }
}

/// What a list shows `user`: `None` for an administrator (everything).
pub async fn visibility(store: &dyn Store, user: &User) -> Result<Option<Visibility>, StoreError> {
    if user.is_admin() {
        return Ok(None);
    }
    Ok(Some(Visibility {
        roles: user.roles.iter().map(|r| r.as_str().to_string()).collect(),
        username: user.username.clone(),
        departments: departments_seen(store, user).await?,
    }))
}

/// Keeps the items `user` sees, each in the department `department` gives (none: everybody's).
pub async fn retain_seen<T>(
    store: &dyn Store,
    user: &User,
    items: &mut Vec<T>,
    department: impl Fn(&T) -> Option<&str>,
) -> Result<(), StoreError> {
    if user.is_admin() {
        return Ok(());
    }
    let seen = departments_seen(store, user).await?;
    items.retain(|item| department(item).is_none_or(|d| seen.iter().any(|s| s == d)));
    Ok(())
}

/// The department of each robot: its queue's.
pub async fn robot_departments(
    store: &dyn Store,
    robots: Vec<crate::store::Robot>,
) -> Result<Vec<(crate::store::Robot, Option<String>)>, StoreError> {
    let queues = store.queues().await?;
    Ok(robots
        .into_iter()
        .map(|r| {
            let department = queues
                .iter()
                .find(|q| Some(&q.id) == r.queue_id.as_ref())
                .and_then(|q| q.department_id.clone());
            (r, department)
        })
        .collect())
}
