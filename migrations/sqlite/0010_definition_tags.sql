-- The draft's tags, for the definitions list and its search: ",tag1,tag2," (each tag between
-- commas, so `like '%,ops,%'` finds one), '' for none.
alter table definitions add column tags text not null default '';
