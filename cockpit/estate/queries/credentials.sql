-- The instance credentials: for S3, each is named by the URL (or its prefix) it opens.
SELECT c.name AS credential_name, c.credential_identity AS credential_identity
FROM sys.credentials AS c
