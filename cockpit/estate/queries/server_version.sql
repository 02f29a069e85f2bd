-- The major version and edition of the instance (SERVERPROPERTY returns sql_variant: cast).
SELECT
    CAST(SERVERPROPERTY('ProductMajorVersion') AS int) AS major,
    CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)) AS version,
    CAST(SERVERPROPERTY('Edition') AS nvarchar(128)) AS edition
