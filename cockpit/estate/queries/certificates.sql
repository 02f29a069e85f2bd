-- The certificates in master (where TDE keys look for theirs) and their thumbprints.
SELECT c.name AS certificate_name, c.thumbprint AS thumbprint
FROM master.sys.certificates AS c
