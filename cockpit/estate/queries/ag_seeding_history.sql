-- Each automatic seeding the primary ran, oldest first, with how it ended.
SELECT
    r.replica_server_name AS replica_name,
    s.start_time AS start_time,
    s.current_state AS current_state,
    s.failure_state_desc AS failure_state_desc,
    s.error_code AS error_code
FROM sys.dm_hadr_automatic_seeding AS s
JOIN sys.availability_groups AS g ON g.group_id = s.ag_id
JOIN sys.availability_replicas AS r ON r.replica_id = s.ag_remote_replica_id
WHERE g.name = ?
ORDER BY s.start_time
