-- People and access: users (argon2id hashes), groups, opaque tokens stored hashed, and the roles
-- that may use or manage each definition.

create table users (
    id integer primary key,
    -- compared case-insensitively: stored lower-cased
    username text not null unique,
    display_name text not null,
    password_hash text not null,
    -- JSON list of roles: designer, operator, approver, admin
    roles text not null,
    disabled integer not null default 0,
    created_at text not null,
    updated_at text not null
);

create table user_groups (
    group_name text not null,
    user_id integer not null references users (id),
    primary key (group_name, user_id)
);
create index user_groups_user on user_groups (user_id);

-- Access and refresh tokens. Only a SHA-256 of each token is kept. Refresh tokens are single-use:
-- exchanging one marks it spent and issues the next of its family; presenting a spent one again
-- revokes the whole family.
create table tokens (
    hash text primary key,
    -- access | refresh | session
    kind text not null,
    user_id integer not null references users (id),
    family text not null,
    expires_at text not null,
    spent_at text,
    revoked_at text,
    created_at text not null
);
create index tokens_user on tokens (user_id);
create index tokens_family on tokens (family);

-- Which roles may use (start) or manage (edit, publish) a definition: USE | MGMT.
create table definition_grants (
    definition_key text not null,
    role text not null,
    permission text not null,
    primary key (definition_key, role, permission)
);

-- A caller's idempotency key for a start: the same key from the same caller starts once.
alter table instances add column idempotency_key text;
create unique index instances_idempotency on instances (operator, idempotency_key);
