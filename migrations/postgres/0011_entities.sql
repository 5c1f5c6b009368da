-- The entity catalog (a CMDB-like set of typed records) and execution preview sessions.

-- A kind of record, `package:name`; attributes are [{name, references?}] (JSON).
create table entity_types (
    id text primary key,
    display_name text not null,
    display_attribute text not null,
    attributes jsonb not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create table entity_records (
    guid text primary key,
    entity_type text not null references entity_types (id),
    display_name text not null,
    data jsonb not null,
    updated_at timestamptz not null
);
create index entity_records_by_type on entity_records (entity_type, display_name);

-- A record's reference attribute pointing at another record (kept from the record's data, so
-- walks in both directions are index lookups).
create table entity_links (
    from_guid text not null references entity_records (guid) on delete cascade,
    attribute text not null,
    to_guid text not null,
    primary key (from_guid, attribute, to_guid)
);
create index entity_links_to on entity_links (to_guid, attribute);

-- What a preview resolved: the entity tree and each node's bindings, until it expires.
create table preview_sessions (
    id text primary key,
    definition_key text not null,
    version integer not null,
    root_guid text not null,
    tree jsonb not null,
    bindings jsonb not null,
    created_by text not null,
    created_at timestamptz not null,
    expires_at timestamptz not null
);
