"""Real state of a host converged with the common role."""

import json
import re

import pytest
from kit_testinfra import assert_refused, run_refused

testinfra_hosts = ["ansible://all"]


def expected_packages(role_vars):
    return sorted(
        {
            "unattended-upgrades",
            *role_vars["common_packages"],
            *role_vars["common_packages_extra"],
        }
    )


@pytest.mark.parametrize(
    "package",
    [
        "unattended-upgrades",
        "apt-listchanges",
        "acl",
        "locales",
        "curl",
        "python3-apt",
        "htop",
    ],
)
def test_base_package_is_installed(host, package):
    assert host.package(package).is_installed


def test_every_configured_package_is_installed(host, role_vars):
    missing = [p for p in expected_packages(role_vars) if not host.package(p).is_installed]
    assert missing == []


def test_apt_does_not_install_recommends_by_default(host):
    dump = host.check_output("apt-config dump APT::Install-Recommends")
    assert dump == 'APT::Install-Recommends "false";'


def test_locale_is_generated_and_default(host, role_vars):
    wanted = role_vars["common_locale"]
    normalised = wanted.replace("UTF-8", "utf8")
    assert normalised in host.check_output("locale -a").splitlines()
    assert f"LANG={wanted}" in host.file("/etc/default/locale").content_string.splitlines()


def test_locale_survives_the_boot_time_file_setup(host, role_vars):
    # What systemd-tmpfiles does at every boot (on Debian 13 it links /etc/default/locale
    # to /etc/locale.conf) must not lose the locale.
    host.run("systemd-tmpfiles --create --prefix=/etc/default/locale")
    content = host.file("/etc/default/locale").content_string
    assert f"LANG={role_vars['common_locale']}" in content.splitlines()


def test_login_shell_gets_the_locale(host, role_vars):
    # A fresh login shell (as cron or a new SSH session would get it) reads /etc/default/locale.
    out = host.check_output("env -i su - root -s /bin/bash -c 'locale 2>&1'")
    assert f"LANG={role_vars['common_locale']}" in out.splitlines()
    assert "Cannot set" not in out


def test_timezone_is_set(host, role_vars):
    tz = role_vars["common_timezone"]
    localtime = host.file("/etc/localtime")
    assert localtime.is_symlink
    assert localtime.linked_to == f"/usr/share/zoneinfo/{tz}"
    assert host.file("/etc/timezone").content_string == f"{tz}\n"
    # The C library uses it: local time with no TZ set matches time in the named zone.
    stamp = "date --date=@1700000000 '+%Z %z'"
    assert host.check_output(f"env -u TZ {stamp}") == host.check_output(f"TZ={tz} {stamp}")


def test_periodic_apt_runs_are_enabled(host):
    dump = host.check_output("apt-config dump APT::Periodic")
    assert 'APT::Periodic::Update-Package-Lists "1";' in dump
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dump


def test_unattended_upgrades_take_only_the_configured_origins(host, role_vars):
    dump = host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern")
    patterns = [line.split('"')[1] for line in dump.splitlines() if "::Origins-Pattern:: " in line]
    assert patterns == role_vars["common_unattended_upgrades_origins"]


def test_unattended_upgrades_dry_run_works(host):
    result = host.run("unattended-upgrades --dry-run --debug")
    assert result.rc == 0, result.stderr
    # It resolved the security origin of this release, so it would act on security updates.
    assert "Allowed origins are:" in result.stdout + result.stderr


@pytest.mark.parametrize("timer", ["apt-daily.timer", "apt-daily-upgrade.timer"])
def test_apt_timer_is_enabled_and_active(host, timer):
    unit = host.service(timer)
    assert unit.is_enabled
    assert unit.is_running, host.run(f"journalctl -u {timer} -n 50 --no-pager").stdout


def test_journal_is_persistent(host):
    machine_id = host.file("/etc/machine-id").content_string.strip()
    journal = host.file(f"/var/log/journal/{machine_id}/system.journal")
    assert journal.exists, host.run("journalctl -u systemd-journald -n 50 --no-pager").stdout


def test_journald_applies_the_size_cap(host, role_vars):
    cap = role_vars["common_journald_system_max_use"]
    host.run("journalctl --flush")
    config = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    assert f"SystemMaxUse={cap}" in config
    # journald reports the cap it actually applies when it opens the persistent journal.
    messages = host.check_output(
        "journalctl -b -u systemd-journald --no-pager -o cat | grep 'System Journal'"
    )
    # "… is 8M, max 500M, …" (systemd 257) or "… max 500.0M …" (systemd 252)
    number, unit = cap[:-1], cap[-1]
    assert re.search(rf"max {number}(\.0)?{unit},", messages.splitlines()[-1]), messages


def test_deploy_group_exists(host, role_vars):
    assert host.group(role_vars["common_deploy_group"]).exists


def test_deploy_group_sudo_rule_is_valid_and_private(host, role_vars):
    rule = host.file("/etc/sudoers.d/50-common-deploy")
    assert rule.exists
    assert rule.mode == 0o440
    assert rule.user == "root"
    assert host.run("visudo -c").rc == 0
    assert f"%{role_vars['common_deploy_group']} ALL=(ALL:ALL) ALL" in rule.content_string


def test_host_has_no_failed_units(host):
    failed = json.loads(host.check_output("systemctl list-units --failed --output=json"))
    assert failed == []


# Bad inputs: each fails before any change, with the variable named; all in one run of
# Ansible (kit_testinfra.run_refused), each case in its own play.
BAD_INPUTS = {
    "cache-time-type": (
        {"common_apt_cache_valid_time": "soon"},
        "Validation of arguments failed",
    ),
    "timezone-line-break": (
        {"common_timezone": "Etc/UTC\nEurope/Paris"},
        "common_timezone must not contain a line break",
    ),
    "timezone-unknown": (
        {"common_timezone": "Mars/Olympus_Mons"},
        "common_timezone 'Mars/Olympus_Mons' is not a time zone",
    ),
}


@pytest.fixture(scope="module")
def bad_inputs(host, run_role):
    before = host.file("/etc/timezone").content_string
    cases = {case: extra_vars for case, (extra_vars, _) in BAD_INPUTS.items()}
    return run_refused(run_role, host.backend.host, cases), before


def test_bad_inputs_leave_the_time_zone_alone(host, bad_inputs):
    assert host.file("/etc/timezone").content_string == bad_inputs[1]


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_fails_with_a_clear_message(bad_inputs, case):
    extra_vars, message = BAD_INPUTS[case]
    assert_refused(bad_inputs[0], case, message, next(iter(extra_vars)))
