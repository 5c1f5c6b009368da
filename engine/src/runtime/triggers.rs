//! Cron triggers: each due tick starts one instance, however many processes see it.

use super::{Runtime, StartRequest};
use crate::instance::Trigger;

/// Starts an instance for each due cron tick, then moves the trigger to its next time.
/// Each tick's start carries the idempotency key `key/name/tick`, so however many
/// processes (or retries after a crash) see the tick, it starts one instance. Ticks missed
/// while no server ran are not made up: the latest one fires, once.
pub(super) async fn fire(runtime: &Runtime) -> usize {
    let store = &runtime.inner.store;
    let now = chrono::Utc::now();
    let due = match store.due_triggers(now, 50).await {
        Ok(due) => due,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read due cron triggers");
            return 0;
        }
    };
    let mut fired = 0;
    for trigger in due {
        let (Some(tick), Some(schedule)) = (trigger.next_fire_at, &trigger.schedule) else {
            continue;
        };
        let key = &trigger.definition_key;
        let started = runtime
            .start_once(StartRequest {
                definition_key: key.clone(),
                version: None,
                input: trigger
                    .input
                    .clone()
                    .unwrap_or_else(|| serde_json::json!({})),
                trigger: Trigger::Cron,
                operator: Trigger::Cron.as_str().to_string(),
                idempotency_key: Some(format!("{key}/{}/{}", trigger.name, tick.to_rfc3339())),
            })
            .await;
        match started {
            Ok(started) if !started.existing => fired += 1,
            Ok(_) => {}
            // An archived definition or an input its schema refuses: the tick is skipped.
            Err(err) => {
                tracing::warn!(definition = %key, trigger = %trigger.name, error = %err, "cron trigger did not start an instance")
            }
        }
        let next = match crate::definition::trigger::next_fire(schedule, now.max(tick)) {
            Ok(next) => next,
            Err(err) => {
                tracing::warn!(definition = %key, trigger = %trigger.name, error = %err, "cron trigger has no next time");
                continue;
            }
        };
        if let Err(err) = store.advance_trigger(key, &trigger.name, tick, next).await {
            tracing::warn!(definition = %key, error = %err, "cannot move a cron trigger on");
        }
    }
    fired
}
