-- Debug mode (a failing node pauses the instance for an operator instead of failing it) and dry
-- runs (nodes that reach outside are not run; their mocked outputs are used).
alter table instances add column debug integer not null default 0;
alter table instances add column mock integer not null default 0;
