-- The users of the current database that log in through an instance login (SQL or
-- Windows): each maps to the login with the same SID, or is orphaned.
SELECT dp.name AS user_name, dp.sid AS sid
FROM sys.database_principals AS dp
WHERE dp.type_desc IN (N'SQL_USER', N'WINDOWS_USER', N'WINDOWS_GROUP')
  AND dp.authentication_type_desc IN (N'INSTANCE', N'WINDOWS')
