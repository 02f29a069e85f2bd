-- The state, access and size (8 KB pages over all files) of one database.
-- Parameter: the name of the database.
SELECT
    d.name AS database_name,
    d.state_desc AS state,
    d.is_read_only,
    d.user_access_desc AS user_access,
    d.recovery_model_desc AS recovery_model,
    SUM(f.size) AS size_pages
FROM sys.databases AS d
LEFT JOIN sys.master_files AS f ON f.database_id = d.database_id
WHERE d.name = ?
GROUP BY d.name, d.state_desc, d.is_read_only, d.user_access_desc, d.recovery_model_desc
