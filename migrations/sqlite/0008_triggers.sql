-- The triggers of each definition's latest published version: cron schedules with the next time
-- they fire (advanced by whichever process fires it, so a tick starts one instance even with
-- several processes), and webhooks with the SHA-256 of their secret token (none until one is
-- issued).
create table triggers (
    definition_key text not null,
    name text not null,
    -- cron | webhook
    kind text not null,
    schedule text,
    input text,
    next_fire_at text,
    token_hash text unique,
    updated_at text not null,
    primary key (definition_key, name)
);
create index triggers_due on triggers (next_fire_at);
