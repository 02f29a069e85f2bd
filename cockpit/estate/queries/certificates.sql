-- The certificates in master (run there) and their thumbprints.
SELECT c.name AS certificate_name, c.thumbprint AS thumbprint
FROM sys.certificates AS c
