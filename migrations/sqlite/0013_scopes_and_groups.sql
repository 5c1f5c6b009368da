-- A definition's department: only people in that department, the departments above it or those
-- below it (and administrators) see it and its instances. Null: everybody its grants allow.
alter table definitions add column department_id text references departments (id);
create index definitions_department on definitions (department_id);

-- Groups as objects of their own: a name people are put in and approvals are offered to.
create table people_groups (
    name text primary key,
    display_name text not null,
    description text not null default '',
    created_at text not null
);
insert into people_groups (name, display_name, created_at)
select distinct group_name, group_name, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') from user_groups;
