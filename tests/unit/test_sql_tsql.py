"""The T-SQL the cockpit sends, word for word, and names that try to break out of it.

Every statement is pinned (golden), then read back by the simulated SQL Server's grammar:
a hostile name must come back as the same single name, never as a second statement.
"""

from __future__ import annotations

import pytest

from cockpit.estate import tsql
from cockpit.estate.tsql import TableName
from cockpit.sim import backup_grammar
from cockpit.sim import tsql_grammar as grammar
from cockpit.sim.sql_errors import SimSqlError

URL = "s3://127.0.0.1:9000/oms-cutover-backups/oms/OMS.bak"
HOSTILE = ["a]b", "x;DROP", "o'brien", "]]", "[OMS]", "x] ; DROP DATABASE [master"]


# --- golden ----------------------------------------------------------------------------------


def test_quoting_doubles_the_closing_bracket_and_the_quote() -> None:
    assert tsql.quote_name("OMS") == "[OMS]"
    assert tsql.quote_name("a]b") == "[a]]b]"
    assert tsql.quote_name("x;DROP") == "[x;DROP]"
    assert tsql.quote_name("o'brien") == "[o'brien]"
    assert tsql.quote_string("o'brien") == "'o''brien'"
    assert tsql.quote_string("a]b;") == "'a]b;'"


def test_read_only_then_back() -> None:
    assert tsql.set_read_only("OMS") == [
        "ALTER DATABASE [OMS] SET RESTRICTED_USER WITH ROLLBACK IMMEDIATE",
        "ALTER DATABASE [OMS] SET READ_ONLY WITH ROLLBACK IMMEDIATE",
    ]
    assert tsql.set_read_write("a]b") == [
        "ALTER DATABASE [a]]b] SET READ_WRITE WITH ROLLBACK IMMEDIATE",
        "ALTER DATABASE [a]]b] SET MULTI_USER",
    ]


def test_backup_to_one_url_names_the_buckets_region() -> None:
    assert tsql.backup_to_url("OMS", [URL], "ap-southeast-2") == (
        "BACKUP DATABASE [OMS] TO URL = 's3://127.0.0.1:9000/oms-cutover-backups/oms/OMS.bak' "
        "WITH FORMAT, COMPRESSION, CHECKSUM, MAXTRANSFERSIZE = 20971520, "
        "BACKUP_OPTIONS = '{\"s3\": {\"region\": \"ap-southeast-2\"}}', STATS = 5")


def test_backup_striped_over_urls_with_a_quote_in_the_key() -> None:
    keys = tsql.stripe_keys("oms/o'brien.bak", 2)
    urls = [tsql.s3_url("s3.ap-southeast-2.amazonaws.com", "b-1", k) for k in keys]
    assert tsql.backup_to_url("x;DROP", urls) == (
        "BACKUP DATABASE [x;DROP] TO "
        "URL = 's3://s3.ap-southeast-2.amazonaws.com/b-1/oms/o''brien-1of2.bak', "
        "URL = 's3://s3.ap-southeast-2.amazonaws.com/b-1/oms/o''brien-2of2.bak' "
        "WITH FORMAT, COMPRESSION, CHECKSUM, MAXTRANSFERSIZE = 20971520, STATS = 5")


def test_backup_to_disk_for_older_sources() -> None:
    assert tsql.backup_to_disk("OMS", r"\\backup01\sql\O'MS.bak") == (
        r"BACKUP DATABASE [OMS] TO DISK = '\\backup01\sql\O''MS.bak' "
        "WITH FORMAT, COMPRESSION, CHECKSUM, STATS = 5")


def test_restore_with_and_without_recovery() -> None:
    assert tsql.restore_from_url("OMS", [URL], recovery=True) == (
        f"RESTORE DATABASE [OMS] FROM URL = '{URL}' WITH RECOVERY, STATS = 5")
    assert tsql.restore_from_url("a]b", [URL, URL], recovery=False) == (
        f"RESTORE DATABASE [a]]b] FROM URL = '{URL}', URL = '{URL}' WITH NORECOVERY, STATS = 5")


def test_availability_group_statements() -> None:
    assert tsql.add_to_ag("oms-ag", "OMS") == "ALTER AVAILABILITY GROUP [oms-ag] ADD DATABASE [OMS]"
    assert tsql.join_ag("oms-ag", "o'brien") == \
        "ALTER DATABASE [o'brien] SET HADR AVAILABILITY GROUP = [oms-ag]"
    assert tsql.remove_from_ag("oms-ag", "a]b") == \
        "ALTER AVAILABILITY GROUP [oms-ag] REMOVE DATABASE [a]]b]"
    assert tsql.drop_database("x;DROP") == "DROP DATABASE [x;DROP]"


def test_data_check_queries() -> None:
    orders = TableName.parse("orders")
    assert orders == TableName("dbo", "orders")
    assert TableName.parse("sales.order_lines") == TableName("sales", "order_lines")
    assert tsql.count_rows("OMS", orders) == "SELECT COUNT_BIG(*) FROM [OMS].[dbo].[orders]"
    assert tsql.checksum_table("a]b", TableName("dbo", "x;DROP"), ["id", "n]ame"]) == \
        "SELECT CHECKSUM_AGG(CHECKSUM([id], [n]]ame])) FROM [a]]b].[dbo].[x;DROP]"
    assert tsql.use_database("o'brien") == "USE [o'brien]"


# --- stripes ---------------------------------------------------------------------------------


def test_one_url_holds_ten_thousand_parts_of_maxtransfersize() -> None:
    per_url = 10_000 * 20 * 1024 * 1024
    assert tsql.stripes_needed(0) == 1
    assert tsql.stripes_needed(per_url) == 1
    assert tsql.stripes_needed(per_url + 1) == 2
    assert tsql.stripes_needed(per_url * 64) == 64
    with pytest.raises(tsql.BackupTooLarge, match="at most 64"):
        tsql.stripes_needed(per_url * 64 + 1)


def test_stripe_keys() -> None:
    assert tsql.stripe_keys("oms/OMS.bak", 1) == ["oms/OMS.bak"]
    assert tsql.stripe_keys("oms/OMS.bak", 3) == [
        "oms/OMS-1of3.bak", "oms/OMS-2of3.bak", "oms/OMS-3of3.bak"]
    assert tsql.stripe_keys("v1.2/OMS", 2) == ["v1.2/OMS-1of2", "v1.2/OMS-2of2"]


def test_a_url_longer_than_sql_server_takes_is_refused() -> None:
    with pytest.raises(ValueError, match="at most 259"):
        tsql.s3_url("s3.ap-southeast-2.amazonaws.com", "bucket", "k" * 240)


# --- what the simulated server reads back -------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_name_reads_back_as_one_name(name: str) -> None:
    assert grammar.parse(tsql.drop_database(name)) == grammar.DropDatabase(name)
    assert grammar.parse(tsql.set_read_only(name)[1]) == grammar.SetOption(
        name, "READ_ONLY", True)
    assert grammar.parse(tsql.add_to_ag(name, name)) == grammar.AgDatabase(name, "ADD", name)
    assert grammar.parse(tsql.join_ag(name, name)) == grammar.JoinAg(name, name)
    assert grammar.parse(tsql.count_rows(name, TableName(name, name))) == \
        grammar.TableQuery("count", name, name, name)


@pytest.mark.parametrize("key", ["oms/o'brien.bak", "oms/a]b;DROP.bak", "oms/''.bak"])
def test_a_hostile_key_reads_back_as_one_url(key: str) -> None:
    url = tsql.s3_url("127.0.0.1:9000", "bucket", key)
    backup = backup_grammar.parse(tsql.backup_to_url("a]b", [url, url], "eu-west-1"))
    assert isinstance(backup, backup_grammar.Backup)
    assert (backup.database, [d.path for d in backup.devices]) == ("a]b", [url, url])
    assert backup.options.values["BACKUP_OPTIONS"] == '{"s3": {"region": "eu-west-1"}}'
    restore = backup_grammar.parse(tsql.restore_from_url("a]b", [url], recovery=False))
    assert isinstance(restore, backup_grammar.Restore)
    assert (restore.database, [d.path for d in restore.devices]) == ("a]b", [url])
    assert restore.options.has("NORECOVERY")


@pytest.mark.parametrize("statement", [
    "DROP DATABASE [OMS]; DROP DATABASE [master]",
    "DROP DATABASE [a]b]",
    "SHUTDOWN WITH NOWAIT",
    "BACKUP DATABASE [OMS] TO URL = 's3://h/b/k' WITH FORMAT",
    "ALTER DATABASE [OMS] SET OFFLINE",
    "EXEC xp_cmdshell 'whoami'",
])
def test_anything_the_generator_does_not_write_is_incorrect_syntax(statement: str) -> None:
    with pytest.raises(SimSqlError) as refused:
        grammar.parse(statement)
    assert refused.value.number == 102
    assert "Incorrect syntax near" in str(refused.value)


def test_selects_pass_through_comments_and_all() -> None:
    query = "-- the AG\nSELECT 1 AS one"
    assert grammar.parse(query) == grammar.Select(query)
