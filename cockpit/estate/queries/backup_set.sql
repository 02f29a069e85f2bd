-- The newest backup of a database written to one device, as msdb recorded it.
-- Parameters: the name of the database, then the device (physical_device_name).
SELECT TOP (1)
    b.backup_set_id AS backup_set_id,
    b.type AS backup_type,
    b.first_lsn AS first_lsn,
    b.last_lsn AS last_lsn,
    b.checkpoint_lsn AS checkpoint_lsn,
    b.database_backup_lsn AS database_backup_lsn,
    b.differential_base_lsn AS differential_base_lsn,
    b.is_copy_only AS is_copy_only,
    b.has_backup_checksums AS has_backup_checksums,
    b.is_force_offline AS is_force_offline,
    b.backup_finish_date AS backup_finish_date,
    b.backup_size AS backup_size,
    f.physical_device_name AS device
FROM msdb.dbo.backupset AS b
JOIN msdb.dbo.backupmediafamily AS f ON f.media_set_id = b.media_set_id
WHERE b.database_name = ? AND f.physical_device_name = ?
ORDER BY b.backup_set_id DESC
