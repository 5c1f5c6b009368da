-- Packages: versioned uploads of what robots run. A version's file is kept once per content, by
-- its SHA-256, in package_blobs (in the database, so every server process sharing it serves the
-- same files). Deployments name a package version; a deployment may be bound to some robots of
-- its queue. Queues, packages and deployments may belong to a department (robots belong to their
-- queue's).
create table packages (
    id text primary key,
    name text not null unique,
    description text not null default '',
    -- JSON list of strings
    tags text not null default '[]',
    -- changes with every change of the package or its versions (PATCH needs the current one)
    etag text not null,
    department_id text references departments (id),
    total_downloads integer not null default 0,
    created_by text not null,
    modified_by text not null,
    created_at text not null,
    updated_at text not null
);

create table package_blobs (
    sha256 text primary key,
    content blob not null,
    size integer not null,
    created_at text not null
);

create table package_versions (
    id text primary key,
    package_id text not null references packages (id),
    version text not null,
    description text not null default '',
    -- JSON list of {name, type, direction, default_value}
    arguments text not null default '[]',
    sha256 text not null references package_blobs (sha256),
    size integer not null,
    total_downloads integer not null default 0,
    created_by text not null,
    created_at text not null,
    unique (package_id, version)
);
create index package_versions_blob on package_versions (sha256);

-- The preloaded upload: a channel is opened, the file put to it, then the upload is completed.
create table package_uploads (
    id text primary key,
    -- SHA-256 of the secret in the channel's address
    secret_hash text not null,
    -- the file, once it is put
    sha256 text references package_blobs (sha256),
    department_id text references departments (id),
    created_by text not null,
    created_at text not null
);

create table deployment_robots (
    deployment_id text not null references deployments (id) on delete cascade,
    robot_id text not null references robots (id) on delete cascade,
    primary key (deployment_id, robot_id)
);
create index deployment_robots_robot on deployment_robots (robot_id);

alter table queues add column department_id text references departments (id);
alter table deployments add column department_id text references departments (id);
