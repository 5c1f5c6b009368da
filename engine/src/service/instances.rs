//! Who sees and operates which instances, for every surface: USE on an instance's definition lets
//! you see and operate it; you always see the instances you started; administrators see all.

use std::sync::Arc;

use crate::definition::Definition;
use crate::id::Id;
use crate::instance::{Event, InstanceRecord, NodeRun};
use crate::people::{Permission, User};
use crate::runtime::Runtime;
use crate::store::{InstanceQuery, Page, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// No such instance, or not one the caller may see.
    #[error("instance not found")]
    NotFound,
    /// Seen, but not operated: USE on the definition is needed.
    #[error("USE on `{0}` is needed to operate its instances")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything a monitor shows of one instance.
#[derive(Debug, Clone)]
pub struct InstanceDetail {
    pub instance: InstanceRecord,
    pub runs: Vec<NodeRun>,
    pub events: Vec<Event>,
    pub definition: Arc<Definition>,
    /// The viewer may cancel, pause, resume and act on nodes.
    pub may_operate: bool,
}

#[derive(Clone)]
pub struct InstanceService {
    runtime: Runtime,
}

impl InstanceService {
    pub fn new(runtime: Runtime) -> Self {
        Self { runtime }
    }

    /// The scheduler, for starting instances (after the caller's USE is checked).
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The instances `user` may see, filtered by `query` (its `visible_to` is set here).
    pub async fn list(
        &self,
        user: &User,
        mut query: InstanceQuery,
    ) -> Result<Page<InstanceRecord>, StoreError> {
        query.visible_to = super::scope::visibility(self.runtime.store().as_ref(), user).await?;
        self.runtime.store().list_instances(&query).await
    }

    /// The instance, if `user` may see it; with `operate`, if they may also operate it.
    pub async fn visible(
        &self,
        user: &User,
        id: Id,
        operate: bool,
    ) -> Result<InstanceRecord, InstanceError> {
        let (instance, may_use) = self.seen(user, id).await?;
        if operate && !may_use {
            return Err(InstanceError::Forbidden(instance.definition_key));
        }
        Ok(instance)
    }

    /// The instance, if `user` may see it, and whether they may operate it (USE on its
    /// definition).
    async fn seen(&self, user: &User, id: Id) -> Result<(InstanceRecord, bool), InstanceError> {
        let store = self.runtime.store();
        let instance = store.instance(id).await?.ok_or(InstanceError::NotFound)?;
        let grants = store.grants(&instance.definition_key).await?;
        let may_use = user.may(&grants, Permission::Use)
            && super::scope::sees_definition(store.as_ref(), user, &instance.definition_key)
                .await?;
        if instance.operator != user.username && !may_use {
            return Err(InstanceError::NotFound);
        }
        Ok((instance, may_use))
    }

    /// Cancels, pauses or resumes the instance, if `user` may operate it.
    pub async fn change(
        &self,
        user: &User,
        id: Id,
        change: crate::store::InstanceChange,
    ) -> Result<InstanceRecord, InstanceError> {
        self.visible(user, id, true).await?;
        Ok(self.runtime.change(id, change, &user.username).await?)
    }

    /// Re-runs or skips a node of a paused instance, if `user` may operate it.
    pub async fn node_action(
        &self,
        user: &User,
        id: Id,
        node: &str,
        action: crate::runtime::NodeAction,
    ) -> Result<InstanceRecord, InstanceError> {
        self.visible(user, id, true).await?;
        Ok(self
            .runtime
            .node_action(id, node, action, &user.username)
            .await?)
    }

    /// The instance with its node runs, its event log and the version it runs.
    pub async fn detail(&self, user: &User, id: Id) -> Result<InstanceDetail, InstanceError> {
        let (instance, may_operate) = self.seen(user, id).await?;
        let store = self.runtime.store();
        let runs = store.node_runs(id).await?;
        let events = store.events(id, 0).await?;
        let definition = self
            .runtime
            .definition(&instance.definition_key, instance.version)
            .await?;
        Ok(InstanceDetail {
            may_operate,
            instance,
            runs,
            events,
            definition,
        })
    }
}
