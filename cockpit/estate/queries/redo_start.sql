-- Where the next roll forward of a database left RESTORING must start, per file (NULL
-- unless RESTORING).
SELECT d.state_desc AS state, f.redo_start_lsn AS redo_start_lsn
FROM sys.databases AS d
JOIN sys.master_files AS f ON f.database_id = d.database_id
WHERE d.name = ?
