-- The logins of the instance and their SIDs: what a database user maps to.
SELECT sp.name AS login_name, sp.sid AS sid
FROM sys.server_principals AS sp
WHERE sp.type_desc IN ('SQL_LOGIN', 'WINDOWS_LOGIN', 'WINDOWS_GROUP')
