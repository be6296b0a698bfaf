"""PostgreSQL under its systemd sandbox: a low exposure score, and still every job it has
(restart through systemd and pg_ctlcluster, JIT, its log; backup and restore are proven by
test_postgresql.py on the same sandboxed server)."""

import re
import time

from kit_testinfra import wait_until

testinfra_hosts = ["ansible://all"]


def accepts_connections(host, cluster):
    return host.run(f"pg_isready -q -p {cluster['port']}").rc == 0


def main_pid(host, cluster):
    return int(host.check_output(f"systemctl show -p MainPID --value {cluster['service']}"))


def test_cluster_exposure_is_at_most_5(host, cluster):
    out = host.check_output(f"systemd-analyze security --no-pager {cluster['service']}")
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
    assert match, out
    assert float(match.group(1)) <= 5.0, out


def test_sandbox_is_in_force(host, cluster):
    assert host.file("/etc/systemd/system/postgresql@.service.d/kit-sandbox.conf").exists
    show = host.check_output(
        f"systemctl show -p ProtectSystem -p NoNewPrivileges {cluster['service']}"
    )
    assert "ProtectSystem=strict" in show
    assert "NoNewPrivileges=yes" in show


def test_restart_under_the_sandbox_through_systemd_and_pg_ctlcluster(host, cluster, superuser_sql):
    for command in (
        f"systemctl restart {cluster['service']}",
        f"pg_ctlcluster {cluster['version']} {cluster['name']} restart",
    ):
        pid = main_pid(host, cluster)
        host.run_test(command)
        assert wait_until(lambda: accepts_connections(host, cluster), 30), (
            f"the cluster accepted no connection within 30 s of {command}"
        )
        assert main_pid(host, cluster) != pid, command
        assert superuser_sql("SELECT 1") == "1"
    assert "online" in host.check_output(f"pg_lsclusters {cluster['version']} {cluster['name']}")


def test_jit_works_under_the_sandbox(superuser_sql):
    # JIT (on by default) needs writable and executable memory: no MemoryDenyWriteExecute,
    # under which this query fails with "failed to look up symbol".
    assert superuser_sql("SELECT pg_jit_available()") == "t"
    out = superuser_sql(
        "SET jit = on; SET jit_above_cost = 0; SET jit_inline_above_cost = 0;"
        " SET jit_optimize_above_cost = 0;"
        " EXPLAIN (ANALYZE, FORMAT JSON) SELECT sum(g) FROM generate_series(1, 1000) g"
    )
    assert '"JIT"' in out, out


def test_the_server_log_reaches_the_journal_under_the_sandbox(host, cluster, superuser_sql):
    # The role logs through syslog (/dev/log) to journald, tagged with the cluster.
    tag = f"postgresql-{cluster['version']}-{cluster['name']}"
    marker = f"kit-sandbox-log-probe-{time.time_ns()}"
    # (psql does not expand variables in a dollar-quoted body; the marker is plain text.)
    superuser_sql(f"DO $$ BEGIN RAISE LOG '{marker}'; END $$")
    assert wait_until(
        lambda: marker in host.run(f"journalctl -t {tag} -n 200 --no-pager -o cat").stdout, 30
    ), "the marker did not reach the journal within 30 s"
