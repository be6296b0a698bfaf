"""The gunicorn role alone: its units serving the scenario's small WSGI app (prepare.yml).

The disruptive checks come last, in this order: a restart under load, a reload, bad inputs.
"""

import errno
import os
import re
import shutil
import textwrap
import time

import pytest
from conftest import journal, main_pid, worker_pids
from kit_testinfra import assert_refused, run_refused, wait_on_host

testinfra_hosts = ["ansible://all"]

REQUESTS = 200
LOOP = textwrap.dedent(
    """\
    #!/bin/bash
    # $2 requests through the socket $1, one after the other; one status code per line.
    rm -f /root/loop.codes /root/loop.done
    for _ in $(seq "$2"); do
        curl -s -o /dev/null -w '%{http_code}\\n' --max-time 10 \\
            --unix-socket "$1" http://localhost/ >> /root/loop.codes
        sleep 0.01
    done
    touch /root/loop.done
    """
)


def lines_of(host, path):
    return int(host.check_output(f"cat {path} 2>/dev/null | wc -l"))


# Units ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["socket", "service"])
def test_unit_is_enabled_and_active(host, units, kind):
    unit = host.service(units[kind])
    assert unit.is_enabled
    assert unit.is_running, journal(host, units[kind])


def test_socket_unit_listens_on_the_unix_path_and_the_tcp_addresses(host, units, role_vars):
    shown = host.check_output(f"systemctl show -p Listen --value {units['socket']}")
    listening = re.findall(r"(\S+) \(Stream\)", shown)
    assert listening == [role_vars["gunicorn_socket_path"], *role_vars["gunicorn_listen_tcp"]]


def test_service_is_triggered_by_its_socket(host, units):
    shown = host.check_output(f"systemctl show -p TriggeredBy --value {units['service']}")
    assert units["socket"] in shown.split()


# The socket -----------------------------------------------------------------------------
def test_socket_has_the_configured_owner_group_and_mode(host, role_vars):
    sock = host.file(role_vars["gunicorn_socket_path"])
    assert sock.is_socket
    assert (sock.user, sock.group, sock.mode) == (
        role_vars["gunicorn_socket_user"],
        role_vars["gunicorn_socket_group"],
        int(role_vars["gunicorn_socket_mode"], 8),
    )


def test_request_through_the_unix_socket_is_answered_by_a_worker(host, http, units):
    status, body, result = http.get("/")
    assert status == 200, result.stderr + journal(host, units["service"])
    assert body["body"] == "hello from gunicorn"
    assert body["pid"] in worker_pids(host, units["service"])


def test_web_server_user_can_connect_to_the_socket(http, role_vars):
    status, _, result = http.get("/", as_user=role_vars["gunicorn_socket_user"])
    assert status == 200, result.stderr


@pytest.mark.parametrize("user", ["nobody", "the service user"])
def test_other_users_cannot_connect_to_the_socket(http, role_vars, user):
    as_user = role_vars["gunicorn_user"] if user == "the service user" else user
    status, _, result = http.get("/", as_user=as_user)
    assert status == 0
    assert result.rc == 7, result.stderr  # curl: could not connect


def test_tcp_listener_answers(host, http, units, role_vars):
    answers = {
        address: http.get("/", tcp=address)[0] for address in role_vars["gunicorn_listen_tcp"]
    }
    assert answers, "the scenario sets no gunicorn_listen_tcp"
    assert answers == dict.fromkeys(answers, 200), journal(host, units["service"])


def test_tcp_listener_drops_a_peer_not_allowed(host, http, units, role_vars):
    """gunicorn_tcp_allow is loopback only: the host's own network address is another peer,
    whose packets systemd drops at the socket (no answer, not even a refusal)."""
    assert role_vars["gunicorn_tcp_allow"], "the scenario sets no gunicorn_tcp_allow"
    every = next(a for a in role_vars["gunicorn_listen_tcp"] if a.startswith("0.0.0.0:"))
    port = every.split(":")[1]
    address = next(a for a in host.interface("eth0").addresses if "." in a)
    status, _, result = http.get("/", tcp=f"{address}:{port}", max_time=3)
    assert status == 0
    assert result.rc == 28, result.stderr  # curl: timed out, the SYN got no answer
    # The same listener answers an allowed peer.
    assert http.get("/", tcp=f"127.0.0.1:{port}")[0] == 200
    assert "IPAddressDeny=any" in host.check_output(f"systemctl cat {units['socket']}")


# The service ----------------------------------------------------------------------------
def test_service_runs_as_the_configured_user_and_group_not_root(host, units, role_vars):
    pids = [main_pid(host, units["service"]), *worker_pids(host, units["service"])]
    owners = host.check_output(f"ps -o user=,group= -p {','.join(map(str, pids))}").splitlines()
    assert [line.split() for line in owners] == [
        [role_vars["gunicorn_user"], role_vars["gunicorn_group"]]
    ] * len(pids)
    assert role_vars["gunicorn_user"] != "root"


def test_command_line_workers_win_over_the_config_file(host, units, role_vars):
    # The scenario's config file sets workers = 5; gunicorn_workers is passed as --workers.
    assert len(worker_pids(host, units["service"])) == role_vars["gunicorn_workers"]


def test_service_runs_from_the_release_behind_the_symlink(host, units, role_vars):
    # Read as the service user: root in the container lacks CAP_SYS_PTRACE for another user's cwd.
    pid = main_pid(host, units["service"])
    cwd = host.check_output(f"runuser -u {role_vars['gunicorn_user']} -- readlink /proc/{pid}/cwd")
    assert cwd == role_vars["molecule_release_dir"]


@pytest.mark.parametrize(
    "source", ["gunicorn_environment", "molecule_env_file_vars", "molecule_config_raw_env"]
)
def test_environment_reaches_the_app_unchanged(http, role_vars, source):
    # Environment= (gunicorn_environment), EnvironmentFile= (gunicorn_env_file) and the
    # config file's raw_env (gunicorn_config).
    status, env, _ = http.get("/env")
    assert status == 200
    expected = role_vars[source]
    assert {name: env.get(name) for name in expected} == expected


def test_extra_args_reach_gunicorn_unchanged(host, units, role_vars):
    pid = main_pid(host, units["service"])
    argv = host.check_output(f"tr '\\0' '\\n' < /proc/{pid}/cmdline").splitlines()
    extra = role_vars["gunicorn_extra_args"]
    assert any(argv[i : i + len(extra)] == extra for i in range(len(argv))), argv


def test_control_socket_is_in_the_private_runtime_directory(host, units):
    assert host.file(f"{units['runtime_dir']}/gunicorn.ctl").is_socket, journal(
        host, units["service"]
    )


@pytest.mark.parametrize(
    ("directory", "written", "error"),
    [
        ("a gunicorn_read_write_paths entry", True, None),
        ("the app's directory outside them", False, errno.EROFS),
    ],
)
def test_app_can_write_only_to_the_read_write_paths(http, role_vars, directory, written, error):
    path = {
        "a gunicorn_read_write_paths entry": role_vars["gunicorn_read_write_paths"][0],
        "the app's directory outside them": role_vars["molecule_read_only_dir"],
    }[directory]
    status, answer, _ = http.get(f"/write?dir={path}")
    assert status == 200
    assert (answer["written"], answer.get("errno")) == (written, error), answer


def test_service_exposure_is_at_most_2(host, units):
    out = host.check_output(f"systemd-analyze security --no-pager {units['service']}")
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
    assert match, out
    assert float(match.group(1)) <= 2.0, out


# A restart while requests run through the socket ----------------------------------------
@pytest.fixture(scope="module")
def restart_under_load(host, units, role_vars):
    """Restart the service while a bounded request loop runs on the host through the socket,
    with one slow request in flight."""
    sock = role_vars["gunicorn_socket_path"]
    host.run_test("cat > /root/loop.sh <<'EOF'\n" + LOOP + "EOF")
    pid_before = main_pid(host, units["service"])
    host.run_test(
        f"setsid nohup timeout 120 bash /root/loop.sh {sock} {REQUESTS} "
        ">/dev/null 2>&1 </dev/null &"
    )
    assert wait_on_host(host, "[ $(cat /root/loop.codes 2>/dev/null | wc -l) -ge 20 ]", 30), (
        "the request loop did not start"
    )
    host.run_test(
        "rm -f /root/slow.code; setsid nohup sh -c 'curl -s -o /dev/null -w %{http_code} "
        f"--max-time 20 --unix-socket {sock} http://localhost/slow > /root/slow.code' "
        ">/dev/null 2>&1 </dev/null &"
    )
    host.run_test("sleep 0.2")
    done_before = lines_of(host, "/root/loop.codes")
    restart = host.run(f"systemctl restart {units['service']}")
    done_after = lines_of(host, "/root/loop.codes")
    assert wait_on_host(host, "[ -e /root/loop.done ]", 120), "the request loop did not finish"
    assert wait_on_host(host, "[ -s /root/slow.code ]", 20), "the slow request did not finish"
    return {
        "restart": restart,
        "done_before": done_before,
        "done_after": done_after,
        "codes": host.file("/root/loop.codes").content_string.split(),
        "slow_code": host.file("/root/slow.code").content_string.strip(),
        "pid_before": pid_before,
        "pid_after": main_pid(host, units["service"]),
    }


def test_restart_starts_a_new_master(host, units, restart_under_load):
    assert restart_under_load["restart"].rc == 0, journal(host, units["service"])
    assert restart_under_load["pid_after"] not in (0, restart_under_load["pid_before"])


def test_restart_happened_while_the_requests_ran(restart_under_load):
    assert 0 < restart_under_load["done_before"] <= restart_under_load["done_after"] < REQUESTS


def test_restart_loses_no_request(host, units, restart_under_load):
    codes = restart_under_load["codes"]
    failed = [code for code in codes if code != "200"]
    assert len(codes) == REQUESTS
    assert failed == [], f"{len(failed)} of {len(codes)} failed\n" + journal(host, units["service"])


def test_request_in_flight_during_the_restart_completes(restart_under_load):
    assert restart_under_load["slow_code"] == "200"


# A reload (HUP) -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reload(host, units, role_vars, restart_under_load):
    service = units["service"]
    master, workers = main_pid(host, service), worker_pids(host, service)
    result = host.run(f"systemctl reload {service}")
    # HUP: the master starts new workers, then stops the old ones gracefully.
    count = role_vars["gunicorn_workers"]
    deadline = time.monotonic() + 20
    replaced = False
    while not replaced and time.monotonic() < deadline:
        time.sleep(0.2)
        after = worker_pids(host, service)
        replaced = len(after) == count and after.isdisjoint(workers)
    return {
        "result": result,
        "replaced": replaced,
        "master_before": master,
        "master_after": main_pid(host, service),
        "workers_before": workers,
        "workers_after": worker_pids(host, service),
    }


def test_reload_keeps_the_master(host, units, reload):
    assert reload["result"].rc == 0, journal(host, units["service"])
    assert reload["master_after"] == reload["master_before"]


def test_reload_replaces_every_worker(host, units, reload, role_vars):
    assert reload["replaced"], journal(host, units["service"])
    assert reload["workers_after"].isdisjoint(reload["workers_before"])
    assert len(reload["workers_after"]) == role_vars["gunicorn_workers"]


def test_new_workers_answer_after_the_reload(http, reload):
    status, body, _ = http.get("/")
    assert status == 200
    assert body["pid"] in reload["workers_after"]


# Bad inputs: refused before any change --------------------------------------------------
@pytest.fixture(scope="module")
def unit_files(host, units):
    def digests():
        return [host.file(path).sha256sum for path in units["files"]]

    return digests


# Bad inputs: each fails before any change, with the variable named; all in one run of
# Ansible (kit_testinfra.run_refused), each case in its own play.
BAD_INPUTS = {
    "workers-type": ({"gunicorn_workers": "many"}, "Validation of arguments failed"),
    "enabled-type": ({"gunicorn_service_enabled": "maybe"}, "Validation of arguments failed"),
    # A line break in a value would add a unit line of its own: a command run as root,
    # outside the sandbox, before the service starts.
    "environment-line-break": (
        {"gunicorn_environment": {"KIT_X": "1\nExecStartPre=+/bin/touch /root/owned"}},
        "gunicorn_environment must not contain a line break",
    ),
    "argument-line-break": (
        {"gunicorn_extra_args": ["--log-level", "info\nUser=root"]},
        "gunicorn_extra_args must not",
    ),
    "user-space": (
        {"gunicorn_user": "kit wsgi"},
        "gunicorn_user and gunicorn_group user and group names",
    ),
    "group-line-break": (
        {"gunicorn_group": "root\nUser=root"},
        "gunicorn_group must not contain a line break",
    ),
    "group-path": (
        {"gunicorn_group": "../root"},
        "gunicorn_user and gunicorn_group user and group names",
    ),
    "socket-mode": ({"gunicorn_socket_mode": "660"}, "gunicorn_socket_mode an octal mode"),
}


@pytest.fixture(scope="module")
def bad_inputs(host, run_role, unit_files):
    before = unit_files()
    cases = {case: extra_vars for case, (extra_vars, _) in BAD_INPUTS.items()}
    result = run_refused(run_role, host.backend.host, cases)
    return result, before


def test_bad_inputs_change_no_unit_file(host, bad_inputs, unit_files):
    assert unit_files() == bad_inputs[1]
    assert not host.file("/root/owned").exists


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_fails_before_any_change_with_the_variable_named(bad_inputs, case):
    extra_vars, message = BAD_INPUTS[case]
    assert_refused(bad_inputs[0], case, message, next(iter(extra_vars)))


def test_missing_app_name_fails_before_any_change_with_the_variable_named(
    host, run_role, unit_files, tmp_path
):
    # The Molecule inventory without its group_vars: gunicorn_app_name is not set at all.
    # The role's other defaults derive from it, so Ansible stops while it resolves them for
    # the argument validation ("... is undefined"), before "missing required arguments".
    inventory = tmp_path / "inventory.yml"
    shutil.copy(os.environ["MOLECULE_INVENTORY_FILE"], inventory)
    before = unit_files()
    result = run_role(host.backend.host, {}, inventory_file=inventory)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "validate_argument_spec" in output
    assert "'gunicorn_app_name' is undefined" in output
    assert unit_files() == before
