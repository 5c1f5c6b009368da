-- Tenants: companies, each with a tree of departments, and who belongs to which department.
-- Ids are UUIDs (the Encoo console's shape).

create table companies (
    id text primary key,
    name text not null,
    description text not null default '',
    -- JSON list of strings, JSON object of strings
    tags text not null default '[]',
    properties text not null default '{}',
    created_by text not null,
    created_at text not null,
    updated_at text not null
);

create table departments (
    id text primary key,
    company_id text not null references companies (id),
    -- null for the company's root department
    parent_id text references departments (id),
    name text not null,
    description text not null default '',
    -- the names from the root down, joined by '/': "Acme/Finance/Payroll"
    path text not null,
    created_at text not null,
    updated_at text not null
);
create index departments_company on departments (company_id);
create unique index departments_sibling_names on departments (company_id, path);

create table department_members (
    department_id text not null references departments (id),
    user_id integer not null references users (id),
    primary key (department_id, user_id)
);
create index department_members_user on department_members (user_id);
