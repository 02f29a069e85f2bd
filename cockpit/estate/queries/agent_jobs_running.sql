-- Run in msdb. The Agent jobs running now whose name matches a LIKE pattern (parameter):
-- started and not yet stopped in dbo.sysjobactivity.
SELECT
    j.name AS job_name,
    a.start_execution_date AS start_execution_date
FROM dbo.sysjobs AS j
JOIN dbo.sysjobactivity AS a ON a.job_id = j.job_id
WHERE a.start_execution_date IS NOT NULL
    AND a.stop_execution_date IS NULL
    AND j.name LIKE ?
