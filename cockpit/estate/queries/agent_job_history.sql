-- Run in msdb. What the last run of one Agent job left in dbo.sysjobhistory (parameter: the
-- job_id): a row per completed step, then the outcome of the job as step_id 0. run_status 0
-- failed, 1 succeeded, 2 retry, 3 canceled, 4 in progress.
SELECT
    h.step_id AS step_id,
    h.step_name AS step_name,
    h.run_status AS run_status,
    h.message AS message
FROM dbo.sysjobhistory AS h
WHERE h.job_id = ?
ORDER BY h.instance_id
