-- Rows per user table of the current database, from the partition stats (heap or
-- clustered index only, so no row is counted twice). Run after USE [database].
SELECT
    sc.name AS schema_name,
    t.name AS table_name,
    SUM(p.row_count) AS row_count
FROM sys.tables AS t
JOIN sys.schemas AS sc ON sc.schema_id = t.schema_id
JOIN sys.dm_db_partition_stats AS p ON p.object_id = t.object_id
WHERE p.index_id IN (0, 1) AND t.is_ms_shipped = 0
GROUP BY sc.name, t.name
ORDER BY sc.name, t.name
