-- Activations that continue a node run already begun (a timer that started waiting resumes it),
-- activations with an input set by an operator (retry with edited input), skips requested by an
-- operator (the node does not run; the flow goes on from it), activations held for an operator
-- (a node that failed with on_error: pause waits for a re-run or a skip), and the instance
-- deadline (a work item on the reserved node id '$deadline', due when the instance times out).
alter table work_items add column resume_run integer;
alter table work_items add column input text;
alter table work_items add column held integer not null default 0;
alter table work_items add column skip integer not null default 0;

-- foreach: body activations name the foreach node's run and the iteration they belong to.
alter table work_items add column loop_run integer;
alter table work_items add column loop_index integer;
alter table node_runs add column loop_index integer;

-- The iterations of a running foreach (removed when it finishes): each has its own context
-- (item, index, and what its nodes write) and the output of its last completed node.
create table loop_iterations (
    -- the foreach node's run
    run_id integer not null,
    idx integer not null,
    instance_id integer not null references instances (id),
    -- pending | running | completed
    status text not null,
    context text not null,
    output text,
    primary key (run_id, idx)
);
create index loop_iterations_instance on loop_iterations (instance_id);
