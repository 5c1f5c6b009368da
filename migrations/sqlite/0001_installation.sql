-- One row describing this installation. Written once, on the first start.
create table installation (
    id integer primary key check (id = 1),
    -- when the database was first migrated, RFC 3339 UTC
    installed_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

insert into installation (id) values (1);
