-- The session running a step of one Agent job: the Agent names it in program_name as
-- SQLAgent - TSQL JobStep (Job 0x<job_id as binary(16)> : Step <n>). Parameter: the
-- LIKE pattern with the binary id of the job.
SELECT
    s.session_id AS session_id,
    s.program_name AS program_name
FROM sys.dm_exec_sessions AS s
WHERE s.program_name LIKE ?
