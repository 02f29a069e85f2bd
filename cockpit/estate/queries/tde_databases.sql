-- The databases encrypted with TDE (encryption_state 3) and the thumbprint of the
-- certificate in master that protects the key of each: a backup of one restores only where
-- that certificate is.
SELECT d.name AS database_name, k.encryptor_thumbprint AS thumbprint
FROM sys.dm_database_encryption_keys AS k
JOIN sys.databases AS d ON d.database_id = k.database_id
WHERE k.encryption_state = 3
