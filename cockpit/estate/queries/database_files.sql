-- Each file of each database: its logical name, ROWS or LOG, and where it lives.
SELECT
    d.name AS database_name,
    f.name AS logical_name,
    f.type_desc AS type_desc,
    f.physical_name AS physical_name
FROM sys.master_files AS f
JOIN sys.databases AS d ON d.database_id = f.database_id
