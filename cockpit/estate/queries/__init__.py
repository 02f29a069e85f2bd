"""The adapter's read queries, one `.sql` file each, loaded with importlib.resources.

Written as the T-SQL a DBA runs on SQL Server: `TOP (n)`, three-part names where a query
reads another database (`msdb.dbo.backupset`, `master.sys.certificates`), `N'...'` for
nvarchar columns, SERVERPROPERTY, `?` parameters. The simulated SQL Server reads them with
sqlglot's T-SQL dialect and runs the SQLite it writes from them (`sim/tsql_select.py`);
the pyodbc tests send that same transpiled text through the SQLite ODBC driver, whose SQLite
has none of the functions the sim registers: the queries those tests run read columns,
not DB_NAME() or SERVERPROPERTY.
"""
