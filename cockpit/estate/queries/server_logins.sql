-- The logins of the instance and their SIDs: what a database user maps to.
SELECT sp.name AS login_name, sp.sid AS sid
FROM sys.server_principals AS sp
WHERE sp.type_desc IN (N'SQL_LOGIN', N'WINDOWS_LOGIN', N'WINDOWS_GROUP')
