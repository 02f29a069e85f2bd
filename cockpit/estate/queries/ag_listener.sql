-- The AG listener, its port and each of its addresses with its state (one per subnet).
SELECT
    l.dns_name AS dns_name,
    l.port AS port,
    a.ip_address AS ip_address,
    a.state_desc AS state_desc
FROM sys.availability_group_listeners AS l
JOIN sys.availability_groups AS g ON g.group_id = l.group_id
LEFT JOIN sys.availability_group_listener_ip_addresses AS a ON a.listener_id = l.listener_id
WHERE g.name = ?
