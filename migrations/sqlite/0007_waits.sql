-- Nodes that wait on the outside: human tasks (approval nodes), callbacks, subprocesses.
-- While a node waits, its next activation sits in the queue unleasable (held, with `awaiting`
-- naming what it waits for), so the instance does not count as finished; the answer releases
-- it, in the same transaction that records the answer, exactly once.
alter table work_items add column awaiting text;

-- A subprocess's parent instance and the parent's waiting activation it releases when it ends.
alter table instances add column parent_id integer;
alter table instances add column parent_item integer;
create index instances_parent on instances (parent_id);

create table human_tasks (
    id integer primary key,
    instance_id integer not null references instances (id),
    node_id text not null,
    node_run_id integer not null,
    -- the node's waiting activation, released on completion or expiry
    item_id integer not null,
    definition_key text not null,
    title text not null,
    content text not null,
    -- JSON lists of usernames and group names
    assignees text not null,
    candidate_groups text not null,
    -- JSON: the form fields and the outcomes offered
    form text not null,
    outcomes text not null,
    -- open | claimed | completed | cancelled | expired
    status text not null,
    claimed_by text,
    claimed_at text,
    outcome text,
    data text,
    completed_by text,
    completed_at text,
    due_at text,
    created_at text not null
);
create index human_tasks_instance on human_tasks (instance_id);
create index human_tasks_claimed on human_tasks (claimed_by, status, id);
create index human_tasks_due on human_tasks (due_at) where due_at is not null;

-- Who may see a task: one row per assignee ('u:name') and candidate group ('g:name'), with the
-- task's status copied in, so an inbox page is one index range per principal.
create table task_candidates (
    task_id integer not null references human_tasks (id),
    principal text not null,
    status text not null,
    primary key (task_id, principal)
);
create index task_candidates_inbox on task_candidates (principal, status, task_id);

-- A callback node's wait. Only a SHA-256 of its token is kept.
create table callbacks (
    id integer primary key,
    token_hash text not null unique,
    instance_id integer not null references instances (id),
    node_id text not null,
    node_run_id integer not null,
    item_id integer not null,
    -- waiting | succeeded | failed | timed_out | cancelled
    status text not null,
    output text,
    due_at text,
    created_at text not null,
    finished_at text
);
create index callbacks_instance on callbacks (instance_id);
create index callbacks_due on callbacks (due_at) where due_at is not null;
