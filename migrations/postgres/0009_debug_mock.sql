-- Debug mode (a failing node pauses the instance for an operator instead of failing it) and dry
-- runs (nodes that reach outside are not run; their mocked outputs are used).
alter table instances add column debug boolean not null default false;
alter table instances add column mock boolean not null default false;
