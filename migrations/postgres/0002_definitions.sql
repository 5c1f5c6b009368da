-- Workflow definitions: one row per key, holding its draft; published versions are frozen
-- copies in definition_versions.
create table definitions (
    key text primary key,
    -- name of the draft, or of the latest version when there is no draft; for lists and search
    name text not null,
    -- 'active' or 'archived' (archived definitions cannot start instances)
    status text not null default 'active' check (status in ('active', 'archived')),
    -- the draft document (JSON), possibly not valid yet; null once published and not edited since
    draft jsonb,
    draft_updated_at timestamptz,
    -- highest published version, null before the first publish
    latest_version integer,
    created_by text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create table definition_versions (
    -- snowflake id: what instances reference
    id bigint primary key,
    key text not null references definitions (key),
    version integer not null,
    -- the frozen, valid document
    document jsonb not null,
    published_by text not null,
    published_at timestamptz not null,
    unique (key, version)
);
