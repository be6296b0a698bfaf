"""Real state of a host converged with the postgresql role."""

import hashlib
import json
import re
import shlex
import time

import pytest
from kit_testinfra import case_failure, journal, run_refused, wait_on_host, wait_until

testinfra_hosts = ["ansible://all"]

BACKUP_UNIT = "postgresql-backup"
# Where the tests put dumps of their own (the postgres user's home).
SCRATCH = "/var/lib/postgresql"
SEED_CHECKSUM = (
    "SELECT count(*) || ' ' || md5(string_agg(orders::text, E'\\n' ORDER BY id)) FROM orders"
)


def changed_tasks(result):
    """Names of the tasks and handlers an ansible-playbook run reported as changed."""
    changed, current = set(), None
    for line in result.stdout.splitlines():
        match = re.match(r"^(?:TASK|RUNNING HANDLER) \[(?:postgresql : )?(.+?)\]", line)
        if match:
            current = match.group(1)
        elif line.startswith("changed:"):
            changed.add(current)
    return changed


# Packages and service -------------------------------------------------------------------


@pytest.mark.parametrize("package", ["postgresql-{version}", "python3-psycopg2", "acl"])
def test_package_is_installed(host, cluster, package):
    assert host.package(package.format(version=cluster["version"])).is_installed


def test_cluster_is_active(host, cluster):
    assert host.service(cluster["service"]).is_running, journal(host, cluster["service"])


def test_postgresql_starts_at_boot(host):
    assert host.service("postgresql.service").is_enabled


def test_server_runs_the_expected_major_version(superuser_sql, cluster):
    assert superuser_sql("SHOW server_version_num")[:2] == str(cluster["version"])


def test_server_listens_only_on_the_configured_addresses_and_port(host, role_vars, cluster):
    allowed = set()
    for address in role_vars["postgresql_listen_addresses"]:
        for line in host.check_output("getent ahosts %s", address).splitlines():
            ip = line.split()[0]
            allowed.add(f"[{ip}]" if ":" in ip else ip)
    listening = host.check_output("ss -Hltn")
    sockets = [line.split()[3].rsplit(":", 1) for line in listening.splitlines()]
    addresses = {address for address, port in sockets if int(port) == cluster["port"]}
    assert "127.0.0.1" in addresses, listening
    assert addresses <= allowed, listening
    # Debian's default port is free again: the server moved to the configured one.
    if cluster["port"] != 5432:
        assert all(int(port) != 5432 for _, port in sockets), listening


# Settings -------------------------------------------------------------------------------


def test_passwords_are_stored_as_scram(superuser_sql, app_user):
    assert superuser_sql("SHOW password_encryption") == "scram-sha-256"
    verifier = superuser_sql(
        "SELECT rolpassword FROM pg_authid WHERE rolname = :'name'", name=app_user["name"]
    )
    assert verifier.startswith("SCRAM-SHA-256$")


@pytest.mark.parametrize(
    ("setting", "expected_mb"),
    [
        ("shared_buffers", lambda mem: mem // 4),
        ("effective_cache_size", lambda mem: mem * 3 // 4),
    ],
)
def test_memory_setting_follows_host_memory(superuser_sql, facts, setting, expected_mb):
    value, unit = superuser_sql(
        "SELECT setting, unit FROM pg_settings WHERE name = :'name'", name=setting
    ).split("|")
    assert unit == "8kB"
    assert int(value) * 8 // 1024 == expected_mb(facts["ansible_memtotal_mb"])


def test_max_connections_fits_the_app_workers(superuser_sql, facts, role_vars):
    workers = role_vars.get("postgresql_app_workers", 2 * facts["ansible_processor_vcpus"] + 1)
    expected = role_vars.get(
        "postgresql_max_connections", workers * role_vars["postgresql_app_hosts"] + 20
    )
    assert int(superuser_sql("SHOW max_connections")) == expected


@pytest.mark.parametrize(("name", "value"), [("random_page_cost", "1.1")])
def test_settings_input_overrides_defaults(superuser_sql, role_vars, name, value):
    assert str(role_vars["postgresql_settings"][name]) == value
    assert superuser_sql(f"SHOW {name}") == value


def test_no_setting_waits_for_a_restart(superuser_sql):
    # Converge changed restart-only settings (shared_buffers, max_connections) from Debian's
    # values: the role restarted the server, so their new values are live (tests above).
    assert (
        superuser_sql("SELECT string_agg(name, ',') FROM pg_settings WHERE pending_restart") == ""
    )


def test_failed_logins_reach_the_journal(host, cluster, tcp_psql, app_user):
    tcp_psql(app_user["name"], "not-the-password")
    ident = f"postgresql-{cluster['version']}-{cluster['name']}"
    wanted = f'password authentication failed for user "{app_user["name"]}"'
    for _ in range(10):
        logs = host.run("journalctl -t %s --since=-5min --no-pager -o cat", ident).stdout
        if wanted in logs:
            break
        time.sleep(0.5)
    assert wanted in logs, logs


# Client authentication -----------------------------------------------------------------


def test_app_role_connects_over_tls_with_its_password(tcp_psql, app_user):
    result = tcp_psql(
        app_user["name"],
        app_user["password"],
        "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == f"{app_user['name']}|t"


def test_app_role_can_create_a_table_in_its_database(tcp_psql, app_user):
    result = tcp_psql(
        app_user["name"],
        app_user["password"],
        "CREATE TABLE tcp_probe (id int); DROP TABLE tcp_probe",
    )
    assert result.rc == 0, result.stderr


def test_wrong_password_is_rejected(tcp_psql, app_user):
    result = tcp_psql(app_user["name"], app_user["password"] + "-wrong")
    assert result.rc != 0
    assert "password authentication failed" in result.stderr


def test_connection_without_tls_is_rejected(tcp_psql, app_user):
    result = tcp_psql(app_user["name"], app_user["password"], sslmode="disable")
    assert result.rc != 0
    assert "pg_hba.conf rejects connection" in result.stderr


def test_postgres_superuser_cannot_log_in_over_tcp(tcp_psql):
    result = tcp_psql("postgres", "anything", database="postgres")
    assert result.rc != 0
    assert "pg_hba.conf rejects connection" in result.stderr


def test_role_without_pg_hba_line_is_rejected(tcp_psql, role_vars):
    user = next(u for u in role_vars["postgresql_users"] if not u.get("hba", True))
    result = tcp_psql(user["name"], user["password"])
    assert result.rc != 0
    assert "pg_hba.conf rejects connection" in result.stderr


def test_pg_hba_has_no_trust_line_and_no_error(host, cluster, superuser_sql):
    rules = host.file(f"{cluster['conf_dir']}/pg_hba.conf")
    assert rules.user == "postgres"
    assert rules.mode == 0o640
    lines = [ln.split() for ln in rules.content_string.splitlines() if ln and ln[0] != "#"]
    assert all("trust" not in line for line in lines)
    assert lines[-1][-1] == "reject"
    assert superuser_sql("SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL") == "0"


# Roles and databases ---------------------------------------------------------------------


def test_app_role_has_no_admin_attributes(superuser_sql, app_user):
    attrs = superuser_sql(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
        "FROM pg_roles WHERE rolname = :'name'",
        name=app_user["name"],
    )
    assert attrs == "f|f|f|f|f"


@pytest.mark.parametrize("database", ["app", "legacy"])
def test_database_has_owner_encoding_and_locale(superuser_sql, role_vars, database):
    owner = next(d["owner"] for d in role_vars["postgresql_databases"] if d["name"] == database)
    row = superuser_sql(
        "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate "
        "FROM pg_database WHERE datname = :'name'",
        name=database,
    )
    assert row == f"{owner}|UTF8|C.UTF-8"


def test_other_roles_cannot_connect_to_app_database(superuser_sql):
    assert superuser_sql("SELECT has_database_privilege('reporting', 'app', 'CONNECT')") == "f"


# Backups -----------------------------------------------------------------------------------


def wait_for_sql(superuser_sql, sql, expected, seconds=30, **params):
    """Poll a query until it returns the expected value; True when it did in time."""
    return wait_until(lambda: superuser_sql(sql, **params) == expected, seconds)


def last_run_journal(host, wait_for=None, unit=BACKUP_UNIT):
    """The journal of the unit's latest run only; first waits (10 s at most) for a line
    matching the extended regular expression wait_for, when given."""
    invocation = host.check_output(f"systemctl show -p InvocationID --value {unit}.service")
    read = (
        f"journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID={invocation} + "
        f"INVOCATION_ID={invocation}"
    )
    if wait_for:
        wait_on_host(host, f"{read} | grep -Eq {shlex.quote(wait_for)}", 10)
    return host.run(read).stdout


def legacy_dumps(host, role_vars, pattern="legacy_*.pgc"):
    """Files in the legacy dump directory itself (not its subdirectories), by name."""
    directory = f"{role_vars['postgresql_backup_dir']}/legacy"
    if not host.file(directory).is_directory:
        return []
    listing = host.check_output(
        "find %s -maxdepth 1 -type f -name %s -printf '%%p\\n'", directory, pattern
    )
    return sorted(listing.splitlines())


def start_backup(host, role_vars):
    """Start the backup service once its dump names (one-second resolution) are new again."""
    stamp = "date -u +legacy_%Y%m%dT%H%M%SZ.pgc"
    newest = (legacy_dumps(host, role_vars) or ["none"])[-1].rsplit("/", 1)[-1]
    assert wait_on_host(host, f'[ "$({stamp})" != {newest} ]', 5)
    return host.run(f"systemctl start {BACKUP_UNIT}.service")


@pytest.fixture(scope="module")
def backup_history(host, role_vars):
    """Run the backup service keep + 2 times; the legacy dumps each run wrote, and those left."""
    written = []
    for _ in range(role_vars["postgresql_backup_keep"] + 2):
        before = set(legacy_dumps(host, role_vars))
        result = start_backup(host, role_vars)
        assert result.rc == 0, last_run_journal(host)
        new = set(legacy_dumps(host, role_vars)) - before
        assert len(new) == 1, last_run_journal(host)
        written += new
    return {"written": written, "kept": legacy_dumps(host, role_vars)}


@pytest.fixture(scope="module")
def backup_dumps(backup_history):
    return backup_history["kept"]


def test_backup_timer_is_enabled_and_active(host):
    timer = host.service(f"{BACKUP_UNIT}.timer")
    assert timer.is_enabled
    assert timer.is_running, journal(host, f"{BACKUP_UNIT}.timer")


def test_backup_directory_is_private_to_postgres(host, role_vars):
    directory = host.file(role_vars["postgresql_backup_dir"])
    assert directory.is_directory
    assert (directory.user, directory.mode) == ("postgres", 0o700)


def test_backup_service_writes_a_custom_format_dump(host, backup_dumps):
    dump = host.file(backup_dumps[-1])
    assert (dump.user, dump.mode) == ("postgres", 0o600)
    listing = host.check_output("pg_restore --list %s", backup_dumps[-1])
    assert "TABLE public orders" in listing
    assert "Dumped legacy" in journal(host, BACKUP_UNIT)


def test_backup_keeps_the_newest_dumps_across_runs(backup_history, role_vars):
    keep = role_vars["postgresql_backup_keep"]
    assert backup_history["kept"] == sorted(backup_history["written"])[-keep:]


def test_restored_dump_matches_the_seeded_table(host, run_role, backup_dumps, superuser_sql):
    result = run_role(
        host.backend.host,
        {
            "postgresql_restore_file": backup_dumps[-1],
            "postgresql_restore_database": "legacy_restored",
            "postgresql_restore_owner": "app",
            "postgresql_restore_replace": True,
        },
        tasks_from="restore",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    original = superuser_sql(SEED_CHECKSUM, database="legacy")
    assert original.startswith("5000 ")
    assert superuser_sql(SEED_CHECKSUM, database="legacy_restored") == original
    owner = "SELECT tableowner FROM pg_tables WHERE tablename = 'orders'"
    assert superuser_sql(owner, database="legacy_restored") == "app"


def test_restore_refuses_a_missing_dump(host, run_role, superuser_sql):
    result = run_role(
        host.backend.host,
        {
            "postgresql_restore_file": "/var/backups/postgresql/legacy/absent.pgc",
            "postgresql_restore_database": "never_created",
        },
        tasks_from="restore",
    )
    assert result.returncode != 0
    assert "absent.pgc does not exist" in result.stdout + result.stderr
    assert superuser_sql("SELECT count(*) FROM pg_database WHERE datname = 'never_created'") == "0"


def test_restore_refuses_to_overwrite_an_existing_database(
    host, run_role, backup_dumps, superuser_sql
):
    before = superuser_sql(SEED_CHECKSUM, database="legacy")
    result = run_role(
        host.backend.host,
        {"postgresql_restore_file": backup_dumps[-1], "postgresql_restore_database": "legacy"},
        tasks_from="restore",
    )
    assert result.returncode != 0
    assert "Database legacy exists; nothing was changed" in result.stdout + result.stderr
    assert superuser_sql(SEED_CHECKSUM, database="legacy") == before


def test_restore_refuses_service_hosts_outside_the_inventory(host, run_role, superuser_sql):
    result = run_role(
        host.backend.host,
        {
            "postgresql_restore_file": "/var/backups/postgresql/legacy/any.pgc",
            "postgresql_restore_database": "never_created",
            "postgresql_restore_stop_services": ["app.service"],
            "postgresql_restore_service_hosts": ["app-server-that-is-not-there"],
        },
        tasks_from="restore",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "postgresql_restore_service_hosts" in output
    assert "app-server-that-is-not-there" in output
    assert superuser_sql("SELECT count(*) FROM pg_database WHERE datname = 'never_created'") == "0"


# Restore in place of the live database ------------------------------------------------------

CLIENT_UNIT = "legacy-client.service"
CLIENT_CONNECTED = (
    "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'legacy-client' "
    "AND datname = 'legacy' AND state = 'active'"
)


def temporary_databases(superuser_sql, name):
    return superuser_sql(
        "SELECT string_agg(datname, ',') FROM pg_database WHERE datname LIKE :'pattern'",
        pattern=f"{name}\\_restore\\_%",
    )


@pytest.fixture(scope="module")
def legacy_client(host, superuser_sql):
    """legacy-client.service (installed by prepare) holds a connection to legacy, like an app."""
    host.run_expect([0], f"systemctl start {CLIENT_UNIT}")
    assert wait_for_sql(superuser_sql, CLIENT_CONNECTED, "t"), journal(host, CLIENT_UNIT)
    yield
    host.run(f"systemctl stop {CLIENT_UNIT}")


@pytest.fixture(scope="module")
def replaced_legacy(host, run_role, role_vars, superuser_sql, legacy_client):
    """Restore the newest dump in place of the live legacy database (replace), while
    legacy-client is connected to it and a table was added after the dump."""
    dump = legacy_dumps(host, role_vars)[-1]
    superuser_sql(
        "CREATE TABLE written_after_the_dump (id int); "
        "INSERT INTO written_after_the_dump VALUES (1)",
        database="legacy",
    )
    acl = "SELECT datacl FROM pg_database WHERE datname = :'name'"
    before = {
        "orders": superuser_sql(SEED_CHECKSUM, database="legacy"),
        "oid": superuser_sql("SELECT oid FROM pg_database WHERE datname = 'legacy'"),
        "acl": superuser_sql(acl, name="legacy"),
        "client_pid": host.check_output(f"systemctl show -p MainPID --value {CLIENT_UNIT}"),
    }
    cursor = host.check_output(f"journalctl -u {CLIENT_UNIT} -n 0 --show-cursor -o cat")
    result = run_role(
        host.backend.host,
        {
            "postgresql_restore_file": dump,
            "postgresql_restore_database": "legacy",
            "postgresql_restore_replace": True,
            "postgresql_restore_stop_services": [CLIENT_UNIT],
        },
        tasks_from="restore",
    )
    kept = superuser_sql(
        "SELECT string_agg(datname, ',') FROM pg_database "
        "WHERE datname LIKE 'legacy\\_replaced\\_%'"
    )
    client_log = host.run(
        "journalctl -u %s --after-cursor=%s --no-pager -o cat",
        CLIENT_UNIT,
        cursor.removeprefix("-- cursor: "),
    ).stdout
    yield {"result": result, "before": before, "kept": kept, "acl": acl, "client_log": client_log}
    if kept:
        superuser_sql(f'DROP DATABASE IF EXISTS "{kept}" WITH (FORCE)')


def test_restore_with_replace_swaps_the_restored_dump_in(replaced_legacy, superuser_sql):
    result = replaced_legacy["result"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert superuser_sql(SEED_CHECKSUM, database="legacy") == replaced_legacy["before"]["orders"]
    assert superuser_sql("SELECT to_regclass('written_after_the_dump')", database="legacy") == ""
    assert (
        superuser_sql("SELECT oid FROM pg_database WHERE datname = 'legacy'")
        != (replaced_legacy["before"]["oid"])
    )


def test_replaced_database_is_kept_under_a_dated_name_with_its_data(replaced_legacy, superuser_sql):
    kept = replaced_legacy["kept"]
    output = replaced_legacy["result"].stdout
    assert re.fullmatch(r"legacy_replaced_\d{8}T\d{6}Z", kept or ""), output
    assert (
        superuser_sql("SELECT oid FROM pg_database WHERE datname = :'name'", name=kept)
        == (replaced_legacy["before"]["oid"])
    )
    assert superuser_sql("SELECT count(*) FROM written_after_the_dump", database=kept) == "1"
    assert superuser_sql(SEED_CHECKSUM, database=kept) == replaced_legacy["before"]["orders"]


def test_restore_output_says_how_to_drop_the_replaced_database(replaced_legacy):
    # The callback wraps long messages: compare with the whitespace collapsed.
    output = " ".join(replaced_legacy["result"].stdout.split())
    assert f'DROP DATABASE "{replaced_legacy["kept"]}"' in output, output


def test_restore_with_replace_stops_the_listed_services_instead_of_cutting_them_off(
    replaced_legacy,
):
    log = replaced_legacy["client_log"]
    assert "Stopped" in log, log
    assert "Failed with result" not in log, log


def test_restore_with_replace_restarts_the_listed_services_on_the_new_database(
    host, superuser_sql, replaced_legacy
):
    assert host.service(CLIENT_UNIT).is_running, journal(host, CLIENT_UNIT)
    pid = host.check_output(f"systemctl show -p MainPID --value {CLIENT_UNIT}")
    assert pid != replaced_legacy["before"]["client_pid"], journal(host, CLIENT_UNIT)
    assert wait_for_sql(superuser_sql, CLIENT_CONNECTED, "t"), journal(host, CLIENT_UNIT)


def test_swapped_in_database_keeps_the_access_rules(replaced_legacy, superuser_sql):
    assert superuser_sql(replaced_legacy["acl"], name="legacy") == replaced_legacy["before"]["acl"]
    assert superuser_sql("SELECT has_database_privilege('reporting', 'legacy', 'CONNECT')") == "f"


def test_restore_with_replace_leaves_no_temporary_database(replaced_legacy, superuser_sql):
    assert temporary_databases(superuser_sql, "legacy") == ""


def damage_dump(host, dump, damage):
    """A copy of a real dump, cut in half or with 4 KiB zeroed in the middle."""
    bad = f"{SCRATCH}/legacy-{damage}.pgc"
    size = int(host.check_output("stat -c %%s %s", dump))
    if damage == "truncated":
        host.run_expect([0], f"head -c {size // 2} {dump} > {bad}")
    else:
        host.run_expect([0], f"cp {dump} {bad}")
        seek = size // 2 // 4096
        host.run_expect([0], f"dd if=/dev/zero of={bad} bs=4096 count=1 seek={seek} conv=notrunc")
    host.run_expect([0], f"chown postgres: {bad}")
    return bad


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_restore_of_a_damaged_dump_fails_and_the_original_keeps_serving(
    host, run_role, role_vars, superuser_sql, tcp_psql, app_user, damage
):
    bad = damage_dump(host, legacy_dumps(host, role_vars)[-1], damage)
    before = superuser_sql(SEED_CHECKSUM, database="legacy")
    oid = superuser_sql("SELECT oid FROM pg_database WHERE datname = 'legacy'")
    result = run_role(
        host.backend.host,
        {
            "postgresql_restore_file": bad,
            "postgresql_restore_database": "legacy",
            "postgresql_restore_replace": True,
        },
        tasks_from="restore",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "legacy still serves, unchanged" in output
    assert "pg_restore" in output
    assert superuser_sql("SELECT oid FROM pg_database WHERE datname = 'legacy'") == oid
    assert superuser_sql(SEED_CHECKSUM, database="legacy") == before
    served = tcp_psql(app_user["name"], app_user["password"], SEED_CHECKSUM, database="legacy")
    assert (served.rc, served.stdout.strip()) == (0, before), served.stderr
    assert temporary_databases(superuser_sql, "legacy") == ""


# Backup failure modes -------------------------------------------------------------------------

LOCK_UNIT = "kit-test-lock-orders"


@pytest.fixture
def blocked_backup(host, role_vars, cluster, superuser_sql, backup_dumps):
    """A backup run whose pg_dump of legacy waits on a lock (another session holds orders
    ACCESS EXCLUSIVE), with every legacy dump already there backdated past the age limit."""
    old = legacy_dumps(host, role_vars)
    days = role_vars["postgresql_backup_max_age_days"] + 3
    host.run_expect([0], f"touch -d '{days} days ago' {' '.join(old)}")
    host.run_expect(
        [0],
        f"systemd-run --collect --unit={LOCK_UNIT} --uid=postgres --setenv=PGAPPNAME={LOCK_UNIT} "
        f"psql -X -p {cluster['port']} -d legacy "
        "-c 'BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)'",
    )
    locked = (
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = :'lock' "
        "AND query LIKE '%pg_sleep%' AND wait_event = 'PgSleep'"
    )
    assert wait_for_sql(superuser_sql, locked, "1", lock=LOCK_UNIT), journal(host, LOCK_UNIT)
    host.run_expect([0], f"systemctl start --no-block {BACKUP_UNIT}.service")
    waiting = (
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' "
        "AND datname = 'legacy' AND wait_event_type = 'Lock'"
    )
    assert wait_for_sql(superuser_sql, waiting, "1"), last_run_journal(host)
    yield {"old": old}
    superuser_sql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name IN (:'lock', 'pg_dump')",
        lock=LOCK_UNIT,
    )
    host.run(f"systemctl stop {LOCK_UNIT}")
    host.run(f"systemctl reset-failed {BACKUP_UNIT}.service")


def test_killed_pg_dump_fails_the_run_and_removes_no_dump(host, role_vars, blocked_backup):
    host.run_expect([0], "kill -9 $(pgrep -x pg_dump)")
    assert wait_on_host(host, f"systemctl is-failed -q {BACKUP_UNIT}.service", 30)
    log = last_run_journal(host, wait_for="pg_dump of legacy failed")
    assert "pg_dump of legacy failed" in log
    # Nothing was pruned after the failed dump, not even dumps past the age limit.
    assert legacy_dumps(host, role_vars) == blocked_backup["old"], log
    assert legacy_dumps(host, role_vars, "*.partial") == [], log


def test_next_run_removes_what_a_killed_run_left_and_keeps_a_good_dump(
    host, role_vars, superuser_sql, blocked_backup
):
    host.run_expect([0], f"systemctl kill --signal=SIGKILL {BACKUP_UNIT}.service")
    assert wait_on_host(host, f"systemctl is-failed -q {BACKUP_UNIT}.service", 30)
    partial = legacy_dumps(host, role_vars, "*.partial")
    assert len(partial) == 1, "the killed run left no partial dump to clean up"
    assert legacy_dumps(host, role_vars) == blocked_backup["old"]
    superuser_sql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = :'lock'",
        lock=LOCK_UNIT,
    )
    result = start_backup(host, role_vars)
    log = last_run_journal(host)
    assert result.rc == 0, log
    assert legacy_dumps(host, role_vars, "*.partial") == [], log
    newest = legacy_dumps(host, role_vars)[-1]
    assert newest not in blocked_backup["old"], log
    assert "TABLE public orders" in host.check_output("pg_restore --list %s", newest)


def test_backup_prunes_dumps_past_the_age_limit_after_a_new_dump(host, role_vars, backup_dumps):
    old = legacy_dumps(host, role_vars)
    days = role_vars["postgresql_backup_max_age_days"]
    host.run_expect([0], f"touch -d '{days + 1} days ago' {' '.join(old)}")
    result = start_backup(host, role_vars)
    log = last_run_journal(host, wait_for=f"older than {days} days")
    assert result.rc == 0, log
    left = legacy_dumps(host, role_vars)
    assert len(left) == 1, log
    assert left[0] not in old, log
    assert f"older than {days} days" in log


def test_backup_retention_ignores_subdirectories(host, role_vars, backup_dumps):
    kept = f"{role_vars['postgresql_backup_dir']}/legacy/pre-migrate/legacy_20200101T000000Z.pgc"
    host.run_expect([0], f"install -D -o postgres -g postgres -m 0600 /dev/null {kept}")
    host.run_expect([0], f"touch -d '400 days ago' {kept}")
    for _ in range(role_vars["postgresql_backup_keep"] + 1):
        result = start_backup(host, role_vars)
        assert result.rc == 0, last_run_journal(host)
    assert host.file(kept).exists
    host.run_expect([0], f"rm -r {kept.rsplit('/', 1)[0]}")


@pytest.fixture
def full_backup_disk(host, role_vars):
    """A 1 MiB tmpfs mounted on the backup directory."""
    directory = role_vars["postgresql_backup_dir"]
    host.run_expect(
        [0],
        f"mount -t tmpfs -o size=1m,uid=postgres,gid=postgres,mode=0700 kit-test-full {directory}",
    )
    yield directory
    host.run(f"umount {directory}")
    host.run(f"systemctl reset-failed {BACKUP_UNIT}.service")


def test_backup_refuses_a_dump_that_does_not_fit_and_says_why(host, full_backup_disk):
    result = host.run(f"systemctl start {BACKUP_UNIT}.service")
    needs = r"legacy.* needs [0-9]+ MiB.* has [0-9]+ MiB"
    log = last_run_journal(host, wait_for=needs)
    assert result.rc != 0, log
    assert re.search(needs, log), log
    assert host.check_output("find %s -type f", full_backup_disk) == "", log


# Off-host copy ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fetched_backup(host, run_role, tmp_path_factory, backup_dumps):
    """Run tasks_from backup_now with postgresql_backup_fetch_dir on the controller."""
    dest = tmp_path_factory.mktemp("fetched")
    result = run_role(
        host.backend.host, {"postgresql_backup_fetch_dir": str(dest)}, tasks_from="backup_now"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    copies = sorted(dest.glob("*/legacy/legacy_*.pgc"))
    assert copies, result.stdout
    return {"copy": copies[-1], "result": result}


def test_fetched_dump_has_the_checksum_of_the_dump_on_the_host(host, role_vars, fetched_backup):
    copy = fetched_backup["copy"]
    on_host = f"{role_vars['postgresql_backup_dir']}/legacy/{copy.name}"
    sha256 = hashlib.sha256(copy.read_bytes()).hexdigest()
    assert host.check_output("sha256sum %s", on_host).split()[0] == sha256
    sidecar = copy.with_name(copy.name + ".sha256").read_text()
    assert sidecar.split() == [sha256, copy.name]


def test_fetched_dump_restores_to_the_same_rows(host, run_role, superuser_sql, fetched_backup):
    pushed = f"{SCRATCH}/legacy-from-controller.pgc"
    host.ansible(
        "copy",
        f"src={fetched_backup['copy']} dest={pushed} owner=postgres group=postgres mode=0600",
        become=True,
        check=False,
    )
    result = run_role(
        host.backend.host,
        {
            "postgresql_restore_file": pushed,
            "postgresql_restore_database": "legacy_from_controller",
            "postgresql_restore_replace": True,
        },
        tasks_from="restore",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert superuser_sql(SEED_CHECKSUM, database="legacy_from_controller") == superuser_sql(
        SEED_CHECKSUM, database="legacy"
    )


# Runs of the role with other inputs -----------------------------------------------------


@pytest.fixture(scope="module")
def rerun(host, run_role, role_vars, superuser_sql, app_user):
    """Run the role's configuration with a new app password and a new reload-only setting,
    then put the scenario's inputs back. Yields what the tests compare."""
    rotated = app_user["password"] + "-rotated"
    users = [
        {**u, "password": rotated} if u["name"] == app_user["name"] else u
        for u in role_vars["postgresql_users"]
    ]
    settings = {**role_vars["postgresql_settings"], "log_min_duration_statement": "750ms"}
    started = "SELECT pg_postmaster_start_time()"
    before = superuser_sql(started)
    result = run_role(
        host.backend.host,
        {"postgresql_users": users, "postgresql_settings": settings},
        options=["--tags", "postgresql_configure"],
    )
    yield {"result": result, "password": rotated, "started_before": before}
    restored = run_role(host.backend.host, {}, options=["--tags", "postgresql_configure"])
    assert restored.returncode == 0, restored.stdout + restored.stderr


def test_rerun_with_new_inputs_changes_only_them(rerun):
    result = rerun["result"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert changed_tasks(result) == {
        "Create roles",
        "Write 50-ansible.conf",
        "Remove the backup of the previous 50-ansible.conf",
        "Reload PostgreSQL",
    }


def test_password_change_is_applied(rerun, tcp_psql, app_user):
    assert tcp_psql(app_user["name"], rerun["password"]).rc == 0
    assert tcp_psql(app_user["name"], app_user["password"]).rc != 0


def test_reload_only_setting_is_applied_without_restart(rerun, superuser_sql):
    assert superuser_sql("SHOW log_min_duration_statement") == "750ms"
    assert superuser_sql("SELECT pg_postmaster_start_time()") == rerun["started_before"]


def host_state(host, cluster):
    return {
        "packages": host.check_output("dpkg-query -W -f '${Package} ${Version}\\n'"),
        "auto_conf": host.file(
            f"/var/lib/postgresql/{cluster['version']}/{cluster['name']}/postgresql.auto.conf"
        ).content_string,
        "pg_hba": host.file(f"{cluster['conf_dir']}/pg_hba.conf").content_string,
        "clusters": host.check_output("pg_lsclusters --no-header"),
    }


HBA_LINE = {
    "type": "host",
    "database": "all",
    "user": "all",
    "address": "10.9.0.0/24",
    "method": "scram-sha-256",
}
INJECTED_TRUST = "scram-sha-256\nhost all all 0.0.0.0/0 trust"


# Bad inputs: each fails before any change, with the variable named; all in one run of
# Ansible (kit_testinfra.run_refused), a play each.
BAD_INPUTS = {
    "database-name-with-space": (
        {"postgresql_databases": [{"name": "my db", "owner": "app"}]},
        ["postgresql_databases", "my db"],
    ),
    "missing-password": (
        {"postgresql_users": [{"name": "nopass"}]},
        ["Validation of arguments failed", "postgresql_users", "password"],
    ),
    "port-not-a-number": (
        {"postgresql_port": "fivefourthreetwo"},
        ["Validation of arguments failed", "postgresql_port"],
    ),
    "bad-cidr": (
        {"postgresql_app_cidrs": ["10.0.0.0/24", "everywhere"]},
        ["postgresql_app_cidrs", "everywhere"],
    ),
    "negative-backup-age": (
        {"postgresql_backup_max_age_days": -1},
        ["postgresql_backup_max_age_days", "got -1"],
    ),
    # A line break would add a pg_hba.conf line of its own, past the no-trust check. (In
    # `method`, the argument spec's choices refuse it first.)
    "hba-method-with-a-trust-line": (
        {"postgresql_hba_entries": [HBA_LINE | {"method": INJECTED_TRUST}]},
        ["Validation of arguments failed", "value of method must be one of"],
    ),
    "hba-user-with-a-trust-line": (
        {"postgresql_hba_entries": [HBA_LINE | {"user": f"all {INJECTED_TRUST}"}]},
        ["postgresql_hba_entries must not contain a line break"],
    ),
    "hba-address-with-a-trust-line": (
        {"postgresql_hba_entries": [HBA_LINE | {"address": f"10.9.0.0/24 {INJECTED_TRUST}"}]},
        ["postgresql_hba_entries must not contain a line break"],
    ),
    "setting-with-another-setting": (
        {"postgresql_settings": {"work_mem": "'8MB'\nlisten_addresses = '*'"}},
        ["postgresql_settings must not contain a line break"],
    ),
    # The example vault's password: public.
    "placeholder-password": (
        {"postgresql_users": [{"name": "app", "password": "example-db-password-replace-me"}]},
        ["postgresql_users (password of app) still holds a placeholder", "make vault"],
    ),
}


@pytest.fixture(scope="module")
def bad_inputs(host, run_role, cluster):
    """The bad inputs above, and a major version other than the cluster's (refused: the
    role never upgrades a cluster; pg_upgradecluster does)."""
    other = cluster["version"] + 1
    cases = {case: extra_vars for case, (extra_vars, _) in BAD_INPUTS.items()}
    cases["other-major-version"] = {"postgresql_version": other}
    before = host_state(host, cluster)
    return run_refused(run_role, host.backend.host, cases), before, other


def test_bad_inputs_change_nothing(host, cluster, bad_inputs):
    _, before, other = bad_inputs
    assert host_state(host, cluster) == before
    assert not host.file(f"/etc/postgresql/{other}").exists


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_invalid_input_fails_before_any_change(bad_inputs, case):
    failure = case_failure(bad_inputs[0], case)
    for message in BAD_INPUTS[case][1]:
        assert message in failure


def test_major_version_change_is_refused_with_the_way_to_upgrade(bad_inputs, cluster):
    failure = case_failure(bad_inputs[0], "other-major-version")
    assert f"({cluster['version']}/{cluster['name']})" in failure
    assert "pg_upgradecluster" in failure


def test_host_has_no_failed_units(host):
    failed = json.loads(host.check_output("systemctl list-units --failed --output=json"))
    assert failed == []


# Values only the server can refuse (they pass the role's own checks): the new file is
# checked by the server before any reload, then put back; the run fails naming the input.
REJECTED_BY_THE_SERVER = {
    "settings": (
        {"postgresql_settings": {"work_mem": "'a lot'"}},
        "conf.d/50-ansible.conf",
        "postgresql_settings",
        0o644,
    ),
    "pg_hba": (
        {
            "postgresql_hba_entries": [
                {**HBA_LINE, "address": "10.9.0.0/99"},
            ]
        },
        "pg_hba.conf",
        "postgresql_hba_entries",
        0o640,
    ),
}


@pytest.fixture(scope="module", params=REJECTED_BY_THE_SERVER)
def rejected_by_the_server(request, host, run_role, cluster, superuser_sql):
    extra_vars, name, variable, mode = REJECTED_BY_THE_SERVER[request.param]
    path = f"{cluster['conf_dir']}/{name}"
    started = "SELECT pg_postmaster_start_time()"
    before = host.file(path).content_string, superuser_sql(started)
    result = run_role(host.backend.host, extra_vars, options=["--tags", "postgresql_configure"])
    after = host.file(path).content_string, superuser_sql(started)
    return result, before, after, path, variable, mode, host.file(path)


def test_a_file_the_server_rejects_never_stays(rejected_by_the_server, superuser_sql):
    result, before, after, path, variable, mode, file = rejected_by_the_server
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output
    assert f"The new {path} was rejected and the previous one put back" in output
    assert f"(check {variable}" in output
    # The previous file, byte for byte, with its mode; the same server process, still up.
    assert after == before
    assert (file.user, file.mode) == ("postgres", mode)
    assert (
        superuser_sql("SELECT count(*) FROM pg_catalog.pg_file_settings WHERE error IS NOT NULL")
        == "0"
    )
    assert (
        superuser_sql("SELECT count(*) FROM pg_catalog.pg_hba_file_rules WHERE error IS NOT NULL")
        == "0"
    )
