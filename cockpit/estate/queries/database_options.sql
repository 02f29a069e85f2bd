-- Each database with its recovery model and collation (sys.databases).
SELECT
    d.name AS database_name,
    d.recovery_model_desc AS recovery_model,
    d.collation_name AS collation_name
FROM sys.databases AS d
