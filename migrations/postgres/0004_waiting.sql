-- Activations that continue a node run already begun (a timer that started waiting resumes it),
-- activations with an input set by an operator (retry with edited input), skips requested by an
-- operator (the node does not run; the flow goes on from it), and the instance
-- deadline (a work item on the reserved node id '$deadline', due when the instance times out).
alter table work_items add column resume_run bigint;
alter table work_items add column input jsonb;
alter table work_items add column skip boolean not null default false;
