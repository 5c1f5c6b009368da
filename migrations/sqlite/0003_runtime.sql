-- Running workflows: instances, the run of each node, the event log, and the ready queue.

create table instances (
    id integer primary key,
    -- the definition_versions row this instance runs; instances keep their version
    version_id integer not null references definition_versions (id),
    definition_key text not null,
    version integer not null,
    -- pending | running | paused | completed | failed | cancelled | rolling_back
    status text not null,
    input text not null,
    context text not null,
    -- bumped by every completed step: a completion computed from an older state is refused
    -- and recomputed, so parallel branches never lose an update or fire a join twice
    step_rev integer not null default 0,
    -- the last event seq handed out; bumped under the row lock, so seqs never collide
    event_seq integer not null default 0,
    output text,
    error text,
    -- manual | api | cron | webhook | subprocess
    trigger text not null,
    operator text not null,
    created_at text not null,
    ended_at text,
    cost_ms integer
);
create index instances_status on instances (status, created_at);

create table node_runs (
    id integer primary key,
    instance_id integer not null references instances (id),
    node_id text not null,
    attempt integer not null,
    -- not_started | running | waiting | completed | failed | skipped | cancelled | timed_out
    status text not null,
    input text,
    output text,
    error text,
    started_at text not null,
    ended_at text,
    cost_ms integer
);
create index node_runs_instance on node_runs (instance_id, id);

create table events (
    instance_id integer not null references instances (id),
    seq integer not null,
    node_id text,
    kind text not null,
    data text not null,
    at text not null,
    primary key (instance_id, seq)
);

-- The ready queue: one row per node activation waiting to run. A worker leases a row, runs the
-- node, and deletes the row in the transaction that records the result, so a completed node is
-- never run again; a row whose lease expired (its worker died) is taken over.
create table work_items (
    id integer primary key,
    instance_id integer not null references instances (id),
    node_id text not null,
    -- the node this activation comes from (null for the start node)
    from_node text,
    -- 0 when the edge that led here was not taken: the node is skipped and the skip passes on,
    -- so a join downstream still hears from every branch
    live integer not null,
    -- which attempt of the node this activation is (retries queue attempt + 1)
    attempt integer not null default 1,
    due_at text not null,
    lease_owner text,
    lease_until text
);
create index work_items_due on work_items (due_at);
create index work_items_instance on work_items (instance_id);

-- Arrivals at joins (nodes with several incoming edges) not yet complete.
create table join_arrivals (
    instance_id integer not null references instances (id),
    node_id text not null,
    from_node text not null,
    live integer not null,
    primary key (instance_id, node_id, from_node)
);
