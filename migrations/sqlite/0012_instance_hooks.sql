-- Requests to send when an instance ends (a Rill Flow submit's `callback` URL): delivered by
-- the runtime once the instance is completed, failed or cancelled, retried with backoff.
create table instance_hooks (
    id integer primary key,
    instance_id integer not null,
    url text not null,
    -- which surface shapes the request body ('' for Baton's own)
    format text not null,
    -- pending | delivered | failed
    state text not null,
    attempts integer not null default 0,
    -- due time while pending; a claim moves it forward so no other process sends it meanwhile
    next_at text not null,
    last_error text,
    created_at text not null,
    delivered_at text
);
create index instance_hooks_due on instance_hooks (state, next_at);
create index instance_hooks_instance on instance_hooks (instance_id);
