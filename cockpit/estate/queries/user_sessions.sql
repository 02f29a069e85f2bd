-- User sessions on one database, grouped so that other writers stand out (ETL, reports,
-- jobs, linked servers). Parameter: the name of the database.
SELECT
    s.host_name,
    s.program_name,
    s.login_name,
    COUNT(*) AS sessions
FROM sys.dm_exec_sessions AS s
JOIN sys.databases AS d ON d.database_id = s.database_id
WHERE s.is_user_process = 1 AND d.name = ?
GROUP BY s.host_name, s.program_name, s.login_name
ORDER BY sessions DESC, s.host_name, s.program_name
