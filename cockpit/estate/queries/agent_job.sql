-- Run in msdb. One Agent job by name (parameter): its id, and its latest run as
-- dbo.sysjobactivity keeps it (running while start_execution_date is set and
-- stop_execution_date is NULL, for the latest session of the Agent).
SELECT
    j.job_id AS job_id,
    a.start_execution_date AS start_execution_date,
    a.stop_execution_date AS stop_execution_date
FROM dbo.sysjobs AS j
LEFT JOIN dbo.sysjobactivity AS a ON a.job_id = j.job_id
WHERE j.name = ?
ORDER BY a.session_id DESC
