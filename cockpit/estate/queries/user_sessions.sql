-- User sessions on one database, grouped so that other writers stand out (ETL, reports,
-- jobs, linked servers), each group with the address it connects from: whom to chase.
-- The session running this query is left out (@@SPID): a DSN that opens in the database
-- would otherwise count the cockpit itself. Parameter: the name of the database.
SELECT
    s.host_name,
    s.program_name,
    s.login_name,
    c.client_net_address,
    COUNT(*) AS sessions
FROM sys.dm_exec_sessions AS s
JOIN sys.databases AS d ON d.database_id = s.database_id
LEFT JOIN sys.dm_exec_connections AS c
    ON c.session_id = s.session_id AND c.parent_connection_id IS NULL
WHERE s.is_user_process = 1 AND s.session_id <> @@SPID AND d.name = ?
GROUP BY s.host_name, s.program_name, s.login_name, c.client_net_address
ORDER BY sessions DESC, s.host_name, s.program_name
