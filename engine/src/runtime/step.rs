//! One work item: arrive at a join, pass a skip on, or run the node; then record the result.
//! Recording is optimistic: a result computed from a state that has moved on is recomputed
//! (never re-run), so parallel branches neither lose updates nor fire a join twice.

use std::time::Instant;

use chrono::Utc;
use serde_json::{json, Value};

use super::chain::chain;
use super::executors::Call;
use super::plan::{backoff_ms, execute, node_input, plan, reaches_outside, Plan};
use super::{foreach, waits, Inner};
use crate::definition::{JoinMode, Located, Node, NodeKind, Timer};
use crate::id::Id;
use crate::instance::{InstanceStatus, NodeRunStatus};
use crate::store::{
    Arrival, Completion, FinishedRun, IterationChange, IterationKey, NewEvent, NewNodeRun,
    NextItem, RunStart, StepState, StoreError, WorkItem, ACTIONS_NODE, DEADLINE_NODE,
};

/// Runs one item and returns the items handed on to this worker (leased to it already).
pub(super) async fn process(inner: &Inner, item: WorkItem) -> Result<Vec<WorkItem>, StoreError> {
    if item.node_id == DEADLINE_NODE {
        return deadline(inner, &item).await;
    }
    if item.node_id == ACTIONS_NODE {
        return super::actions::process(inner, &item).await;
    }
    let definition = inner.definition(&item.definition_key, item.version).await?;
    let Some(at) = definition.locate(&item.node_id) else {
        return Err(StoreError::Corrupt(format!(
            "instance {} has work for unknown node `{}`",
            item.instance_id, item.node_id
        )));
    };
    let incoming = at.incoming();
    match (&item.from_node, item.live) {
        (Some(from), _) if incoming > 1 => arrive(inner, &item, at, from, incoming).await,
        (_, false) => skip(inner, &item, at).await,
        (_, true) => match &at.node.kind {
            NodeKind::Timer(timer) if item.resume_run.is_none() => {
                wait(inner, &item, at, timer).await
            }
            NodeKind::Approval(_)
            | NodeKind::Callback(_)
            | NodeKind::Job(_)
            | NodeKind::Subprocess(_)
                if item.resume_run.is_none() && !item.skip =>
            {
                waits::begin(inner, &item, at).await
            }
            _ => run(inner, &item, at).await,
        },
    }
}

/// The instance's time limit has passed: it fails, and its queued work is dropped.
async fn deadline(inner: &Inner, item: &WorkItem) -> Result<Vec<WorkItem>, StoreError> {
    commit(inner, item, None, None, |state| {
        let mut c = base(inner, item, state);
        c.fail = Some(json!({
            "code": "timeout",
            "message": "the instance ran past its time limit",
        }));
        Some(c)
    })
    .await
}

/// A timer's first activation: its run starts waiting, and the node is queued again, due when
/// the wait is over, to finish that run.
async fn wait(
    inner: &Inner,
    item: &WorkItem,
    at: Located<'_>,
    timer: &Timer,
) -> Result<Vec<WorkItem>, StoreError> {
    let node = at.node;
    let now = Utc::now();
    let until = match (&timer.duration, &timer.until) {
        (Some(duration), _) => {
            now + chrono::Duration::milliseconds(duration.as_std().as_millis() as i64)
        }
        (None, Some(until)) => chrono::DateTime::parse_from_rfc3339(until)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now),
        (None, None) => now,
    };
    let delay_ms = (until - now).num_milliseconds().max(0);
    let state = inner
        .store
        .step_state(item.instance_id, None, iteration_of(item))
        .await?;
    if state.mock {
        return run(inner, item, at).await;
    }
    let run_id = inner.next_id();
    commit(inner, item, None, Some(state), |state| {
        if state.status != InstanceStatus::Running {
            return None;
        }
        let mut c = base(inner, item, state);
        c.runs.push(FinishedRun {
            id: run_id,
            started: Some(RunStart {
                node_id: node.id.clone(),
                attempt: item.attempt,
                loop_index: item.loop_index,
                input: Value::Null,
                started_at: now,
            }),
            status: NodeRunStatus::Waiting,
            output: None,
            error: None,
            cost_ms: 0,
        });
        c.events.push(NewEvent {
            node_id: Some(node.id.clone()),
            kind: "node.waiting",
            data: json!({"run": run_id, "until": until.to_rfc3339()}),
        });
        c.next.push(NextItem {
            attempt: item.attempt,
            delay_ms,
            resume_run: Some(run_id),
            ..NextItem::new(inner.next_id(), &node.id, None).within(item)
        });
        Some(c)
    })
    .await
}

/// Commits `build(state)`; on `Stale` reads the state again and rebuilds. `known` is a state
/// already read, tried first.
pub(super) async fn commit<F>(
    inner: &Inner,
    item: &WorkItem,
    join: Option<&str>,
    mut known: Option<StepState>,
    mut build: F,
) -> Result<Vec<WorkItem>, StoreError>
where
    F: FnMut(&StepState) -> Option<Completion>,
{
    loop {
        let state = match known.take() {
            Some(state) => state,
            None => {
                inner
                    .store
                    .step_state(item.instance_id, join, iteration_of(item))
                    .await?
            }
        };
        if state.status.is_final() {
            // Cancelled or finished meanwhile: nothing to record. (A paused instance still
            // records what was already running; it only stops new work being leased.)
            return Ok(Vec::new());
        }
        let Some(mut completion) = build(&state) else {
            return Ok(Vec::new());
        };
        // A failing instance whose nodes can be rolled back rolls back first (not a dry run,
        // which did nothing to undo).
        if completion.fail.is_some() && !state.mock {
            let definition = inner.definition(&item.definition_key, item.version).await?;
            if super::actions::has_actions(&definition, crate::definition::Phase::Rollback) {
                completion.rollback = Some(inner.next_id());
            }
        }
        match inner.commits.commit(completion).await {
            Ok(outcome) => return Ok(outcome.handed),
            Err(StoreError::Stale) => continue,
            Err(StoreError::LeaseLost) => return Ok(Vec::new()),
            Err(other) => return Err(other),
        }
    }
}

/// The iteration `item` runs in, when it is in a foreach body.
pub(super) fn iteration_of(item: &WorkItem) -> Option<IterationKey> {
    Some(IterationKey {
        run: item.loop_run?,
        index: item.loop_index?,
        item: item.id,
    })
}

pub(super) fn base(inner: &Inner, item: &WorkItem, state: &StepState) -> Completion {
    Completion::of(
        item,
        &inner.owner,
        inner.config.lease.as_millis() as i64,
        state.rev,
    )
}

/// A branch reaches a node with several incoming edges. `all`: the node runs once every branch
/// has arrived (live if any arrived live). `first`: it runs on the first live arrival.
async fn arrive(
    inner: &Inner,
    item: &WorkItem,
    at: Located<'_>,
    from: &str,
    incoming: usize,
) -> Result<Vec<WorkItem>, StoreError> {
    let node = at.node;
    let mode = match node.kind {
        NodeKind::Join { join } => join,
        _ => JoinMode::All,
    };
    // Each iteration of a foreach body joins on its own.
    let key = match item.loop_index {
        Some(index) => format!("{}#{index}", node.id),
        None => node.id.clone(),
    };
    commit(inner, item, Some(&key), None, |state| {
        let mut c = base(inner, item, state);
        let arrived = state.arrivals.len() + 1;
        let any_live_before = state.arrivals.iter().any(|(_, live)| *live);
        let complete = arrived >= incoming;
        let fire = match mode {
            JoinMode::All => complete.then_some(item.live || any_live_before),
            JoinMode::First if item.live && !any_live_before => Some(true),
            JoinMode::First => (complete && !any_live_before && !item.live).then_some(false),
        };
        c.arrival = Some(if complete {
            Arrival::Clear { node: key.clone() }
        } else {
            Arrival::Record {
                node: key.clone(),
                from: from.to_string(),
                live: item.live,
            }
        });
        if let Some(live) = fire {
            c.next.push(NextItem {
                live,
                ..NextItem::new(inner.next_id(), &node.id, None).within(item)
            });
        }
        foreach::close_iteration(inner, item, at, state, &mut c, None);
        Some(c)
    })
    .await
}

/// A node on a branch that was not taken: skipped, and the skip passes on.
async fn skip(
    inner: &Inner,
    item: &WorkItem,
    at: Located<'_>,
) -> Result<Vec<WorkItem>, StoreError> {
    let node = at.node;
    let outgoing = at.outgoing();
    commit(inner, item, None, None, |state| {
        let mut c = base(inner, item, state);
        c.next = outgoing
            .iter()
            .map(|e| NextItem {
                live: false,
                ..NextItem::new(inner.next_id(), &e.to, Some(node.id.clone())).within(item)
            })
            .collect();
        let run_id = inner.next_id();
        c.runs.push(FinishedRun {
            id: run_id,
            started: Some(RunStart {
                node_id: node.id.clone(),
                attempt: item.attempt,
                loop_index: item.loop_index,
                input: Value::Null,
                started_at: Utc::now(),
            }),
            status: NodeRunStatus::Skipped,
            output: None,
            error: None,
            cost_ms: 0,
        });
        c.events.push(NewEvent {
            node_id: Some(node.id.clone()),
            kind: "node.skipped",
            data: json!({"run": run_id}),
        });
        foreach::close_iteration(inner, item, at, state, &mut c, None);
        Some(c)
    })
    .await
}

/// Runs the node once, then records what it did and where the flow goes.
async fn run(inner: &Inner, item: &WorkItem, at: Located<'_>) -> Result<Vec<WorkItem>, StoreError> {
    run_with(inner, item, at, None).await
}

/// [`run`], with the node's result already `decided` (a waiting node that could not begin to
/// wait) instead of running it.
pub(super) async fn run_with(
    inner: &Inner,
    item: &WorkItem,
    at: Located<'_>,
    decided: Option<Result<Value, super::executors::NodeError>>,
) -> Result<Vec<WorkItem>, StoreError> {
    let node = at.node;
    // As the claim saw it, when it did; else read now.
    let state = match (&item.seen, iteration_of(item)) {
        (Some(seen), None) => seen.state(),
        (_, iteration) => {
            inner
                .store
                .step_state(item.instance_id, None, iteration)
                .await?
        }
    };
    if state.status != InstanceStatus::Running {
        return Ok(Vec::new());
    }
    // What the node reads as `$.context`: inside a foreach body, the iteration's own context
    // over the instance's.
    let view = foreach::view(&state);
    // A resumed run (a timer that has waited) was recorded when it began.
    let run_id = item.resume_run.unwrap_or_else(|| inner.next_id());
    let started_at = Utc::now();
    let started = Instant::now();
    // An operator's skip goes on with the output they gave, without running the node.
    let skipped = item.skip;
    let input = match &item.input {
        _ if skipped => Ok(Value::Null),
        Some(given) => Ok(given.clone()),
        None => node_input(node, &view),
    };
    let recorded_input = input.as_ref().cloned().unwrap_or(Value::Null);

    // A foreach with items starts its iterations and waits for them; with none it is done.
    let mut decided = decided;
    if let (NodeKind::Foreach(spec), false, Ok(given)) = (&node.kind, skipped, &input) {
        match foreach::collection(spec, &view, given, item) {
            Ok(items) if !items.is_empty() => {
                drop(view);
                return foreach::start(inner, item, node, spec, state, items, recorded_input).await;
            }
            Ok(_) => decided = Some(Ok(json!([]))),
            Err(e) => decided = Some(Err(e)),
        }
    }
    // A dry run does not reach outside: the node completes with its mocked output.
    let mocked = state.mock
        && !skipped
        && decided.is_none()
        && item.resume_run.is_none()
        && reaches_outside(&node.kind);
    if mocked {
        if let Ok(given) = &input {
            decided = Some(Ok(mock_output(node, given)));
        }
    }

    // A node that reaches outside is recorded as started before it runs, so a crash mid-call
    // leaves a trace; one that only computes is recorded whole when it finishes.
    let start_first = !skipped && (reaches_outside(&node.kind) || item.resume_run.is_some());
    // The status the claim saw may be older than a cancel or pause: recording the start
    // checks it again, before anything reaches outside.
    if start_first && item.resume_run.is_none() {
        let begun = inner
            .store
            .begin_node_run(NewNodeRun {
                id: run_id,
                instance_id: item.instance_id,
                node_id: &node.id,
                attempt: item.attempt,
                loop_index: item.loop_index,
                input: &recorded_input,
            })
            .await?;
        if !begun {
            return Ok(Vec::new());
        }
    }
    let result = match (decided, input) {
        (Some(decided), _) => decided,
        _ if skipped => Ok(item.input.clone().unwrap_or(Value::Null)),
        (None, Ok(input)) => {
            let call = Call {
                node,
                input,
                context: &view,
                idempotency_key: item.id.to_string(),
                extra: None,
            };
            execute(inner, node, call).await
        }
        (None, Err(e)) => Err(e),
    };
    drop(view);
    let cost_ms = started.elapsed().as_millis() as i64;
    let outgoing = at.outgoing();

    // A failure with attempts left is retried after its backoff, before on_error applies.
    let retry_in = match (&result, &node.retry) {
        (Err(_), Some(retry)) if item.attempt < retry.max_attempts as i32 => {
            Some(backoff_ms(retry, item.attempt))
        }
        _ => None,
    };

    let ran = Ran {
        run_id,
        start_first,
        started_at,
        input: recorded_input,
        cost_ms,
    };

    // A straight run of nodes that only compute is carried on in memory and recorded in one
    // transaction with this one.
    if !start_first && !skipped && retry_in.is_none() && item.loop_run.is_none() {
        if let Some(handed) = chain(inner, item, at, &state, &result, &ran).await? {
            return Ok(handed);
        }
    }

    // Planned afresh from each state the commit sees; the node itself is not run again. The
    // state read before running is tried first: usually nothing else happened meanwhile.
    commit(inner, item, None, Some(state), |state| {
        let mut plan = match &state.iteration {
            Some(it) => plan(node, &outgoing, &result, &it.context, Some(&state.context)),
            None => plan(node, &outgoing, &result, &state.context, None),
        };
        if retry_in.is_some() {
            plan = Plan {
                status: plan.status,
                output: None,
                error: plan.error,
                context: None,
                instance_output: None,
                route: Vec::new(),
                fail: None,
                pause: None,
            };
        }
        if skipped && plan.status == NodeRunStatus::Completed {
            plan.status = NodeRunStatus::Skipped;
        }
        // Debug mode: a failure with no attempt left waits for an operator instead.
        if state.debug && retry_in.is_none() && plan.fail.is_some() {
            plan.pause = plan.fail.take();
        }
        let mut c = base(inner, item, state);
        if mocked {
            c.events.push(NewEvent {
                node_id: Some(node.id.clone()),
                kind: "mock.passed",
                data: json!({"run": run_id, "output": plan.output}),
            });
        }
        let held = plan.pause.is_some();
        let produced = record(inner, item, node, &ran, plan, &mut c);
        if held {
            // Kept for the operator, in its place (its iteration, and a join's own run).
            c.next.push(NextItem {
                attempt: item.attempt,
                held: true,
                ..NextItem::new(inner.next_id(), &node.id, None).within(item)
            });
        }
        if let Some(delay_ms) = retry_in {
            c.events.push(NewEvent {
                node_id: Some(node.id.clone()),
                kind: "node.retrying",
                data: json!({"attempt": item.attempt + 1, "delay_ms": delay_ms}),
            });
            c.next.push(NextItem {
                // The retry runs the node itself, even where it is a join; an operator's input
                // stays with it.
                attempt: item.attempt + 1,
                delay_ms,
                input: item.input.clone(),
                ..NextItem::new(inner.next_id(), &node.id, None).within(item)
            });
        }
        foreach::close_iteration(inner, item, at, state, &mut c, produced);
        Some(c)
    })
    .await
}

/// What a node that reaches outside gives in a dry run: its `mock` output, or a neutral one —
/// an approval takes its first outcome, an http call answers 200, a timer passes its input on.
fn mock_output(node: &Node, input: &Value) -> Value {
    if let Some(output) = &node.mock {
        return output.clone();
    }
    match &node.kind {
        NodeKind::Approval(approval) => json!({
            "outcome": approval.outcomes.first().map(String::as_str).unwrap_or("approve"),
            "data": {},
            "by": "mock",
        }),
        NodeKind::Http(_) => json!({"status": 200, "headers": {}, "body": null}),
        NodeKind::Timer(_) => input.clone(),
        _ => json!({}),
    }
}

/// How a node's run went, for recording.
pub(super) struct Ran {
    pub(super) run_id: Id,
    /// Already recorded as started (by `begin_node_run`); otherwise recorded whole.
    pub(super) start_first: bool,
    pub(super) started_at: chrono::DateTime<Utc>,
    pub(super) input: Value,
    pub(super) cost_ms: i64,
}

/// Adds a finished node's run, events, next items and changes to `c`; returns what it leaves
/// as its foreach iteration's output (its output, when it completed).
pub(super) fn record(
    inner: &Inner,
    item: &WorkItem,
    node: &Node,
    ran: &Ran,
    plan: Plan,
    c: &mut Completion,
) -> Option<Value> {
    let run_id = ran.run_id;
    if !ran.start_first {
        c.events.push(NewEvent {
            node_id: Some(node.id.clone()),
            kind: "node.started",
            data: json!({"run": run_id, "attempt": item.attempt, "loop_index": item.loop_index}),
        });
    }
    c.events.push(NewEvent {
        node_id: Some(node.id.clone()),
        kind: match plan.status {
            NodeRunStatus::Completed => "node.completed",
            NodeRunStatus::Skipped => "node.skipped",
            _ => "node.failed",
        },
        data: json!({"run": run_id, "cost_ms": ran.cost_ms, "error": plan.error}),
    });
    let produced = match plan.status {
        NodeRunStatus::Completed | NodeRunStatus::Skipped => plan.output.clone(),
        _ => None,
    };
    c.runs.push(FinishedRun {
        id: run_id,
        started: (!ran.start_first).then(|| RunStart {
            node_id: node.id.clone(),
            attempt: item.attempt,
            loop_index: item.loop_index,
            input: ran.input.clone(),
            started_at: ran.started_at,
        }),
        status: plan.status,
        output: plan.output,
        error: plan.error,
        cost_ms: ran.cost_ms,
    });
    c.next = plan
        .route
        .into_iter()
        .map(|(to, live)| NextItem {
            live,
            ..NextItem::new(inner.next_id(), to, Some(node.id.clone())).within(item)
        })
        .collect();
    match (item.loop_run, item.loop_index) {
        (Some(run), Some(index)) => c.iterations.push(IterationChange::Update {
            run,
            index,
            context: plan.context,
            output: produced.clone(),
        }),
        _ => {
            if plan.context.is_some() {
                c.context = plan.context;
            }
        }
    }
    if plan.instance_output.is_some() {
        c.output = plan.instance_output;
    }
    c.fail = plan.fail;
    c.pause = plan.pause;
    produced
}
