-- Each replica of the AG with its seeding mode (AUTOMATIC or MANUAL).
SELECT r.replica_server_name AS replica_name, r.seeding_mode_desc AS seeding_mode
FROM sys.availability_replicas AS r
JOIN sys.availability_groups AS g ON g.group_id = r.group_id
WHERE g.name = ?
