-- Where the instance puts a new database files by default, and its collation.
SELECT
    CAST(SERVERPROPERTY('InstanceDefaultDataPath') AS nvarchar(260)) AS data_path,
    CAST(SERVERPROPERTY('InstanceDefaultLogPath') AS nvarchar(260)) AS log_path,
    CAST(SERVERPROPERTY('Collation') AS nvarchar(128)) AS collation_name
