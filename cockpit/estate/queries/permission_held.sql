-- Whether the login connected holds one server permission (1 or 0).
SELECT HAS_PERMS_BY_NAME(NULL, NULL, ?) AS granted
