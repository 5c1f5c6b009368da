-- Failed sign-ins, per account (`user:<name>`) and per address (`addr:<ip>`), so every server
-- process sharing the database throttles the same guesses. Times are milliseconds since 1970.
create table login_failures (
    key text not null,
    at_ms bigint not null
);
create index login_failures_key on login_failures (key, at_ms);
create index login_failures_at on login_failures (at_ms);
