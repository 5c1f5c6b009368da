-- Activations that continue a node run already begun (a timer that started waiting resumes it),
-- activations with an input set by an operator (retry with edited input), skips requested by an
-- operator (the node does not run; the flow goes on from it), and the instance
-- deadline (a work item on the reserved node id '$deadline', due when the instance times out).
alter table work_items add column resume_run integer;
alter table work_items add column input text;
alter table work_items add column skip integer not null default 0;
