-- The linked servers (the local server is in sys.servers too, with is_linked = 0).
SELECT
    s.name AS server_name,
    s.product AS product,
    s.provider AS provider,
    s.data_source AS data_source
FROM sys.servers AS s
WHERE s.is_linked = 1
