-- Workers (robots) and the jobs they run. A queue is a group of robots; a deployment binds a
-- package version to a queue with arguments and policies; a job is one run of a deployment,
-- claimed by one robot of its queue at a time under a lease.
create table queues (
    id text primary key,
    name text not null unique,
    description text not null default '',
    -- JSON list of strings
    tags text not null default '[]',
    created_by text not null,
    created_at text not null,
    updated_at text not null
);

create table robots (
    id text primary key,
    name text not null unique,
    description text not null default '',
    queue_id text references queues (id),
    -- SHA-256 of the robot's token (shown once, when it is created)
    token_hash text not null unique,
    -- ready | busy | disconnected
    status text not null,
    sdk_version text not null default '',
    last_heartbeat_at text,
    created_at text not null
);
create index robots_queue on robots (queue_id);

create table deployments (
    id text primary key,
    name text not null unique,
    description text not null default '',
    package_name text not null,
    package_version text not null,
    queue_id text not null references queues (id),
    -- JSON object of argument values
    arguments text not null default '{}',
    priority integer not null,
    max_retries integer not null,
    -- SkipWhenNoResource | AnyTime
    trigger_policy text not null,
    created_by text not null,
    created_at text not null,
    updated_at text not null
);

create table jobs (
    id text primary key,
    deployment_id text not null references deployments (id),
    queue_id text not null references queues (id),
    -- the job node waiting for it, through its callback (null for a job started on its own)
    instance_id bigint,
    node_id text,
    callback_hash text,
    arguments text not null,
    priority integer not null,
    max_retries integer not null,
    retried_count integer not null default 0,
    -- Queued | Running | Succeeded | Failed | Cancelled
    state text not null,
    robot_id text,
    -- the robot that lost it: the re-queued job goes to another
    lost_by text,
    requeued integer not null default 0,
    lease_until text,
    message text not null default '',
    output text,
    started_at text,
    finished_at text,
    created_at text not null
);
create index jobs_claim on jobs (queue_id, state, priority, created_at);
create index jobs_robot on jobs (robot_id, state);
create index jobs_instance on jobs (instance_id);
