-- The Agent jobs with a step in one database (parameter: its name), whether
-- each is enabled, and when it runs next (next_run_date yyyymmdd and next_run_time HHMMSS,
-- integers in the server local time, 0 when the schedule has no next run).
SELECT DISTINCT
    j.name AS job_name,
    j.enabled AS enabled,
    s.next_run_date AS next_run_date,
    s.next_run_time AS next_run_time
FROM msdb.dbo.sysjobs AS j
JOIN msdb.dbo.sysjobsteps AS st ON st.job_id = j.job_id
LEFT JOIN msdb.dbo.sysjobschedules AS s ON s.job_id = j.job_id
WHERE st.database_name = ?
