"""Real state of a host converged with the firewall role: its own nftables table, ports open
or closed as the inputs say (tried from the controller), another tool's table untouched, and a
rule set nft rejects never replacing the live one."""

import json
import socket
import subprocess

import pytest
from kit_testinfra import assert_refused, recap_changed, run_refused

testinfra_hosts = ["ansible://all"]

TABLE = "kit_firewall"


def address(host):
    """The container's address on its Docker network, where the controller reaches it."""
    out = subprocess.run(
        [
            "docker",
            "inspect",
            "--format",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
            host.backend.host,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()[0]


def connects(host, port, timeout=3):
    try:
        with socket.create_connection((address(host), port), timeout=timeout):
            return True
    except OSError:
        return False


def live_table(host):
    return host.check_output(f"nft list table inet {TABLE}")


def test_the_unit_loaded_the_table_and_starts_at_boot(host):
    unit = host.service("kit-firewall.service")
    assert unit.is_enabled
    assert (
        unit.is_running
        or host.run("systemctl is-active kit-firewall.service").stdout.strip() == "active"
    )
    table = json.loads(host.check_output(f"nft --json list table inet {TABLE}"))["nftables"]
    chains = [item["chain"] for item in table if "chain" in item]
    assert [(c["name"], c["hook"], c["policy"]) for c in chains] == [("input", "input", "drop")]


def test_an_open_port_answers_the_controller(host):
    assert connects(host, 8000)


@pytest.mark.parametrize(
    ("port", "why"),
    [(8001, "open to TEST-NET-1 only"), (8002, "not listed"), (8443, "open to udp only")],
)
def test_a_port_the_inputs_do_not_open_to_us_is_closed(host, port, why):
    # A listener runs on 8001 and 8002 (prepare.yml): the firewall drops the controller.
    if port != 8443:
        assert host.socket(f"tcp://0.0.0.0:{port}").is_listening
    assert not connects(host, port), f"port {port} ({why}) took a connection from the controller"


def test_another_tools_table_is_untouched(host):
    other = host.run("nft list table ip other_tool")
    assert other.rc == 0, other.stderr
    assert "hook forward priority filter; policy accept;" in other.stdout
    rules = host.file(f"/etc/kit-firewall/{TABLE}.nft").content_string.splitlines()
    assert not [line for line in rules if line.strip().startswith("flush")]


def test_the_rule_file_is_root_only(host):
    rules = host.file(f"/etc/kit-firewall/{TABLE}.nft")
    assert (rules.user, rules.group, rules.mode) == ("root", "root", 0o640)


def test_a_rule_set_nft_rejects_is_refused_and_the_old_rules_stay(host, run_role):
    before_file = host.file(f"/etc/kit-firewall/{TABLE}.nft").sha256sum
    before_live = live_table(host)

    result = run_role(host.backend.host, {"firewall_extra_rules": ["tcp dport 9999 acept"]})

    text = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, text[-3000:]
    assert "nft rejected the new rules, so they were not applied" in text, text[-3000:]
    assert "acept" in text, text[-3000:]
    assert recap_changed(result.stdout) == 0, text[-3000:]
    assert host.file(f"/etc/kit-firewall/{TABLE}.nft").sha256sum == before_file
    assert live_table(host) == before_live
    assert connects(host, 8000)


CASES = {
    "port": ({"firewall_allow": [{"port": 70000}]}, "Invalid input: firewall_allow entry"),
    "proto": ({"firewall_allow": [{"port": 80, "proto": "sctp"}]}, "proto: tcp or udp"),
    "cidr": ({"firewall_ssh_from": ["not-an-address"]}, "firewall_ssh_from IPv4 or IPv6"),
    "table": ({"firewall_table": "kit firewall"}, "firewall_table must be letters"),
    "line-break": ({"firewall_extra_rules": ["accept\nflush ruleset"]}, "must not contain a line"),
}


@pytest.fixture(scope="module")
def bad_inputs(host, run_role):
    before = live_table(host)
    cases = {case: extra_vars for case, (extra_vars, _) in CASES.items()}
    return run_refused(run_role, host.backend.host, cases), before


def test_bad_inputs_change_nothing(host, bad_inputs):
    assert live_table(host) == bad_inputs[1]


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_with_the_variable_named(bad_inputs, case):
    extra_vars, message = CASES[case]
    assert_refused(bad_inputs[0], case, message, next(iter(extra_vars)))
