-- One row describing this installation. Written once, on the first start.
create table installation (
    id integer primary key check (id = 1),
    -- when the database was first migrated
    installed_at timestamptz not null default now()
);

insert into installation (id) values (1);
