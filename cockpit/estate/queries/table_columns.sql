-- The columns of every user table of the current database, in order, with their type:
-- the data check leaves the types CHECKSUM cannot take out of it. base_type is the system
-- type an alias type is built on (NULL for a CLR type). Run after USE [database].
SELECT
    sc.name AS schema_name,
    t.name AS table_name,
    c.name AS column_name,
    ty.name AS type_name,
    base.name AS base_type
FROM sys.columns AS c
JOIN sys.tables AS t ON t.object_id = c.object_id
JOIN sys.schemas AS sc ON sc.schema_id = t.schema_id
JOIN sys.types AS ty ON ty.user_type_id = c.user_type_id
LEFT JOIN sys.types AS base ON base.user_type_id = c.system_type_id
WHERE t.is_ms_shipped = 0
ORDER BY sc.name, t.name, c.column_id
