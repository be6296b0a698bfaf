"""Real state of a host converged with the postgresql role."""

import json
import re
import time

import pytest

testinfra_hosts = ["ansible://all"]

BACKUP_UNIT = "postgresql-backup"
SEED_CHECKSUM = (
    "SELECT count(*) || ' ' || md5(string_agg(orders::text, E'\\n' ORDER BY id)) FROM orders"
)


def journal(host, unit):
    return host.run(f"journalctl -u {unit} -n 50 --no-pager").stdout


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


@pytest.fixture(scope="module")
def backup_dumps(host, role_vars):
    """Run the backup service keep + 1 times; returns the dumps of `legacy`, oldest first."""
    for _ in range(role_vars["postgresql_backup_keep"] + 1):
        result = host.run(f"systemctl start {BACKUP_UNIT}.service")
        assert result.rc == 0, journal(host, BACKUP_UNIT)
        time.sleep(1.1)  # dump names have a one-second resolution
    listing = host.check_output(
        "find %s -name '*.pgc' -printf '%%p\\n'", f"{role_vars['postgresql_backup_dir']}/legacy"
    )
    return sorted(listing.splitlines())


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


def test_backup_keeps_only_the_newest_dumps(backup_dumps, role_vars):
    assert len(backup_dumps) == role_vars["postgresql_backup_keep"]


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
        tags="postgresql_configure",
    )
    yield {"result": result, "password": rotated, "started_before": before}
    restored = run_role(host.backend.host, {}, tags="postgresql_configure")
    assert restored.returncode == 0, restored.stdout + restored.stderr


def test_rerun_with_new_inputs_changes_only_them(rerun):
    result = rerun["result"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert changed_tasks(result) == {
        "Create roles",
        "Write the settings drop-in",
        "Remove the backup of the previous settings drop-in",
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


def test_major_version_change_is_refused_and_changes_nothing(host, run_role, cluster):
    other = cluster["version"] + 1
    before = host_state(host, cluster)
    result = run_role(host.backend.host, {"postgresql_version": other})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"({cluster['version']}/{cluster['name']})" in output
    assert "pg_upgradecluster" in output
    assert not host.file(f"/etc/postgresql/{other}").exists
    assert host_state(host, cluster) == before


@pytest.mark.parametrize(
    ("extra_vars", "messages"),
    [
        (
            {"postgresql_databases": [{"name": "my db", "owner": "app"}]},
            ["postgresql_databases", "my db"],
        ),
        (
            {"postgresql_users": [{"name": "nopass"}]},
            ["Validation of arguments failed", "postgresql_users", "password"],
        ),
        (
            {"postgresql_port": "fivefourthreetwo"},
            ["Validation of arguments failed", "postgresql_port"],
        ),
        (
            {"postgresql_app_cidrs": ["10.0.0.0/24", "everywhere"]},
            ["postgresql_app_cidrs", "everywhere"],
        ),
    ],
    ids=["database-name-with-space", "missing-password", "port-not-a-number", "bad-cidr"],
)
def test_invalid_input_fails_before_any_change(host, run_role, cluster, extra_vars, messages):
    before = host_state(host, cluster)
    result = run_role(host.backend.host, extra_vars)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for message in messages:
        assert message in output
    assert host_state(host, cluster) == before


def test_host_has_no_failed_units(host):
    failed = json.loads(host.check_output("systemctl list-units --failed --output=json"))
    assert failed == []
