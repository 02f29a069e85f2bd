-- Backups and restores running now, with their progress (estimated_completion_time in ms).
SELECT
    r.session_id,
    r.command,
    d.name AS database_name,
    r.percent_complete,
    r.estimated_completion_time AS estimated_completion_ms,
    r.start_time
FROM sys.dm_exec_requests AS r
LEFT JOIN sys.databases AS d ON d.database_id = r.database_id
WHERE r.command LIKE N'BACKUP%' OR r.command LIKE N'RESTORE%'
ORDER BY r.start_time, r.session_id
