-- The availability group as its primary sees it: every replica, and every database on it.
-- Parameter: the name of the AG. Queue sizes are in KB.
SELECT
    ag.name AS ag_name,
    ar.replica_server_name AS replica,
    ar.availability_mode_desc AS availability_mode,
    rs.role_desc AS role,
    rs.connected_state_desc AS connected_state,
    rs.synchronization_health_desc AS replica_health,
    d.name AS database_name,
    drs.synchronization_state_desc AS sync_state,
    drs.synchronization_health_desc AS sync_health,
    drs.log_send_queue_size AS log_send_queue_kb,
    drs.redo_queue_size AS redo_queue_kb
FROM sys.availability_groups AS ag
JOIN sys.availability_replicas AS ar ON ar.group_id = ag.group_id
LEFT JOIN sys.dm_hadr_availability_replica_states AS rs ON rs.replica_id = ar.replica_id
LEFT JOIN sys.dm_hadr_database_replica_states AS drs ON drs.replica_id = ar.replica_id
LEFT JOIN sys.databases AS d ON d.database_id = drs.database_id
WHERE ag.name = ?
ORDER BY ar.replica_server_name, d.name
