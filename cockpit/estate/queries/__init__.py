"""The adapter's read queries, one `.sql` file each, loaded with importlib.resources.

Written in the T-SQL that SQLite also runs (no TOP, ISNULL, GETDATE, DB_NAME, N'' or
CROSS APPLY; names through a join with `sys.databases`; `?` parameters), so the very same
text is what the pyodbc tests and the simulated SQL Server execute; `@@SPID`, which SQLite
lacks, the simulated server answers with the session's id before SQLite sees the text.
Their comments hold no apostrophe: the SQLite ODBC driver counts `?` markers with a parser
that takes a quote in a comment for the start of a string, and then miscounts the
parameters.
"""
