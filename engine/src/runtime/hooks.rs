//! Instance hooks (see `store::hooks`): a POST to a URL once an instance has ended, sent by the
//! http executor, so through the same address guard as http nodes. The body is the format's
//! (a surface registers one in [`super::RuntimeConfig::hook_formats`]) or Baton's own:
//! `{instance_id, definition_key, version, status, output, error}`. A refused or failing send
//! is tried again after 1 s, 2 s, 4 s, … up to [`MAX_ATTEMPTS`] in all; it carries an
//! `Idempotency-Key` (`hook-<id>`) so a receiver can drop the repeat of a send that did arrive.

use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};

use super::executors::Call;
use super::{Inner, Runtime};
use crate::definition::{Http, Node, NodeKind};
use crate::id::Id;
use crate::instance::InstanceRecord;
use crate::store::{Hook, HookOutcome, NewHook, StoreError};

/// Sends of one hook before it is given up.
pub const MAX_ATTEMPTS: i32 = 6;
/// How long a claim keeps other processes from sending a hook.
const CLAIM: Duration = Duration::from_secs(60);

/// Shapes a hook's body from the ended instance.
pub type HookFormat = fn(&InstanceRecord) -> Value;

/// Baton's own hook body.
pub fn default_body(instance: &InstanceRecord) -> Value {
    json!({
        "instance_id": instance.id.to_string(),
        "definition_key": instance.definition_key,
        "version": instance.version,
        "status": instance.status.as_str(),
        "output": instance.output,
        "error": instance.error,
    })
}

pub(super) async fn add(
    inner: &Inner,
    instance: Id,
    url: &str,
    format: &str,
) -> Result<(), StoreError> {
    inner
        .store
        .add_hook(NewHook {
            id: inner.next_id(),
            instance_id: instance,
            url,
            format,
        })
        .await
}

/// Sends the hooks that are due; returns how many were delivered.
pub(super) async fn deliver(inner: &Inner) -> Result<usize, StoreError> {
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(CLAIM).unwrap_or_default();
    let due = inner.store.claim_hooks(now, until, 20).await?;
    let mut delivered = 0;
    for hook in due {
        let outcome = send(inner, &hook).await;
        if outcome == HookOutcome::Delivered {
            delivered += 1;
        } else {
            tracing::warn!(hook = %hook.id, instance = %hook.instance_id, ?outcome, "instance hook not delivered");
        }
        inner.store.record_hook(hook.id, outcome).await?;
    }
    Ok(delivered)
}

async fn send(inner: &Inner, hook: &Hook) -> HookOutcome {
    let instance = match inner.store.instance(hook.instance_id).await {
        Ok(Some(instance)) => instance,
        Ok(None) => {
            return HookOutcome::Failed {
                error: "the instance is gone".into(),
            }
        }
        Err(e) => return retry(hook, e.to_string()),
    };
    let format = inner
        .config
        .hook_formats
        .iter()
        .find(|(name, _)| *name == hook.format)
        .map_or(default_body as HookFormat, |(_, f)| *f);
    // No body template: a POST without one sends the call's input as it is, so nothing in the
    // instance's data is read as a placeholder.
    let spec = Http {
        method: Some("POST".into()),
        url: Some(hook.url.clone()),
        ..Http::default()
    };
    let node = Node::bare("$hook", NodeKind::Http(spec.clone()));
    let call = Call {
        node: &node,
        input: format(&instance),
        context: &instance.context,
        idempotency_key: format!("hook-{}", hook.id),
        extra: None,
    };
    match inner.executors.http.execute(&spec, &call).await {
        Ok(_) => HookOutcome::Delivered,
        Err(e) => retry(hook, e.message),
    }
}

fn retry(hook: &Hook, error: String) -> HookOutcome {
    if hook.attempts >= MAX_ATTEMPTS {
        return HookOutcome::Failed { error };
    }
    let wait = 1i64 << (hook.attempts - 1).clamp(0, 16);
    HookOutcome::Retry {
        error,
        at: Utc::now() + chrono::Duration::seconds(wait),
    }
}

impl Runtime {
    /// Asks for a POST to `url` once instance `id` has ended, its body shaped by `format`
    /// (see the module). The URL must be one http nodes may call; it is checked when sent.
    pub async fn add_hook(&self, id: Id, url: &str, format: &str) -> Result<(), StoreError> {
        add(&self.inner, id, url, format).await
    }

    /// Sends the instance hooks that are due; returns how many were delivered.
    pub async fn deliver_hooks(&self) -> usize {
        match deliver(&self.inner).await {
            Ok(n) => n,
            Err(err) => {
                tracing::warn!(error = %err, "cannot send instance hooks");
                0
            }
        }
    }
}
