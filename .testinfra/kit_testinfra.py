"""The Testinfra helpers every scenario of the kit shares (STYLE "Tests, again").

A scenario's tests/conftest.py puts this folder on sys.path (the nearest `.testinfra/` above
it) and imports what it needs. A role copied into another repository takes this folder along,
like `.config/molecule/config.yml`: both are the documented extras of a role scenario.

- `run_role_fixture(role_dir)`: a session fixture that applies the role again from the
  controller with other inputs (or one of its task files, or with --tags), and with
  `cases={id: vars}` applies it once per case in one ansible-playbook run, keeping each
  case's failure (negative input tests: one start of Ansible instead of one per case).
- `run_playbook(...)`: ansible-playbook with the kit's settings (no colour, Mitogen unless
  KIT_TEST_STRATEGY=linear), for a playbook of the kit (test_deploy.py) or of the fixture.
- `journal(host, unit)`, `wait_until(condition, timeout)`, `recap_changed(output)`,
  `role_defaults(role_dir)`, `exposure(host, unit)` (systemd-analyze security's score).
- `published_port(container, port)`, `https_client(container, ca_file)`: the loopback port
  Docker published for a container's port, and an HTTPS client to it that trusts only the
  given CA (full-stack scenarios).
"""

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
# The kit's Mitogen strategy shim (.config/ansible/strategy beside this folder); a copy of a
# role without it runs Ansible's linear.
STRATEGY_PLUGINS = HERE.parent / ".config" / "ansible" / "strategy"


def role_defaults(role_dir):
    """A role's defaults/main.yml."""
    return yaml.safe_load((Path(role_dir) / "defaults" / "main.yml").read_text()) or {}


def journal(host, unit, lines=50):
    """The last lines of a unit's journal, for an assertion message."""
    return host.run(f"journalctl -u {unit} -n {lines} --no-pager").stdout


def exposure(host, unit):
    """systemd-analyze security's overall exposure level of a unit (0 safest, 10 exposed); the
    analysis is the assertion message when the score is not found."""
    out = host.check_output(f"systemd-analyze security --no-pager {unit}")
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
    assert match, out
    return float(match.group(1))


def wait_until(condition, timeout, interval=0.2, errors=()):
    """Call condition() until it returns something true, at most `timeout` seconds; returns
    its last value, so that the caller asserts it with its own message:
    `assert wait_until(lambda: ..., 30), journal(host, unit)`. An exception of a type in
    `errors` (a service still starting) counts as a false value."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except errors:
            value = None
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def recap_changed(output):
    """The number of changed tasks in the PLAY RECAP of an ansible-playbook run."""
    counts = re.findall(r"changed=(\d+)", output.rpartition("PLAY RECAP")[2])
    assert counts, "no PLAY RECAP in the output:\n" + output[-2000:]
    return sum(int(count) for count in counts)


def published_port(container, port):
    """The loopback port Docker published for the container's port ("127.0.0.1:49153", one
    line per address family)."""
    out = subprocess.run(
        ["docker", "port", container, f"{port}/tcp"], capture_output=True, text=True, check=True
    ).stdout
    return int(out.splitlines()[0].rsplit(":", 1)[1])


def https_client(container, ca_file, server_name="localhost"):
    """An httpx client for https://localhost:<the published 443>, which the kit's certificate
    covers, trusting only ca_file (the CA the tls role fetched): never verify=False.
    server_name: another site of the host (several apps), asked for by name (SNI and Host)
    and verified against that name, at the same loopback port."""
    import ssl

    import httpx

    context = ssl.create_default_context(cafile=str(ca_file))
    port = published_port(container, 443)
    options = {}
    if server_name != "localhost":

        class SiteTransport(httpx.HTTPTransport):
            def handle_request(self, request):
                request.extensions["sni_hostname"] = server_name
                return super().handle_request(request)

        options = {
            "transport": SiteTransport(verify=context),
            "headers": {"Host": f"{server_name}:{port}"},
        }
    return httpx.Client(
        base_url=f"https://localhost:{port}",
        verify=context,
        http2=False,
        timeout=15.0,
        **options,
    )


def _strategy(strategy):
    strategy = strategy or os.environ.get("KIT_TEST_STRATEGY", "mitogen_linear")
    return strategy if STRATEGY_PLUGINS.is_dir() else "linear"


def run_playbook(
    playbook,
    inventory,
    *,
    limit=None,
    extra_vars=None,
    roles_path=None,
    env_extra=None,
    strategy=None,
    options=(),
    timeout=900,
):
    """ansible-playbook as the tests run it; returns the finished process (never raises)."""
    strategy = _strategy(strategy)
    env = {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_STRATEGY": strategy,
        **({"ANSIBLE_ROLES_PATH": str(roles_path)} if roles_path else {}),
        **({"ANSIBLE_STRATEGY_PLUGINS": str(STRATEGY_PLUGINS)} if strategy != "linear" else {}),
        **(env_extra or {}),
    }
    # The shared Molecule config names the `docker` connection, the one Mitogen takes over.
    command = [
        "ansible-playbook",
        "--inventory",
        str(inventory),
        *(["--limit", limit] if limit else []),
        *(["--extra-vars", json.dumps(extra_vars)] if extra_vars else []),
        *options,
        str(playbook),
    ]
    return subprocess.run(
        command, capture_output=True, text=True, env=env, check=False, timeout=timeout
    )


def _apply(role, tasks_from):
    return {
        "name": f"Apply {role}",
        # Under --tags the role's own tags pick its tasks.
        "tags": ["always"],
        "ansible.builtin.include_role": {"name": role, "tasks_from": tasks_from},
    }


def _case_play(case_id, case_vars, apply, results_dir):
    """A play that applies the role with one case's variables (play variables win over the
    inventory's) and keeps the failure it ends with in results_dir/case-<id>.json."""
    return {
        "name": f"Case {case_id}",
        "hosts": "all",
        "become": True,
        "vars": case_vars,
        "tasks": [
            {
                "name": f"Case {case_id}",
                "tags": ["always"],
                "block": [apply],
                "rescue": [
                    {
                        "name": "Keep the failure of the case",
                        "delegate_to": "localhost",
                        "become": False,
                        "changed_when": False,
                        "ansible.builtin.copy": {
                            "content": "{{ ansible_failed_result | to_json }}",
                            "dest": f"{results_dir}/case-{case_id}.json",
                            "mode": "0600",
                        },
                    }
                ],
            }
        ],
    }


def role_vars_fixture(role_dir):
    """A module fixture `role_vars`: the role's defaults overlaid with the host's inventory
    variables."""
    import pytest

    @pytest.fixture(scope="module")
    def role_vars(host):
        return {**role_defaults(role_dir), **host.ansible.get_variables()}

    return role_vars


def run_role_fixture(role_dir, *, json_output=False):
    """A session fixture `run_role` for the role in role_dir.

    run_role(host_name, extra_vars=None, tasks_from="main", inventory_file=None,
             env_extra=None, strategy=None, options=(), cases=None)
    returns the finished ansible-playbook process. With cases ({id: variables}) the result
    also has `.cases`: {id: the failed task's result, or None when the role went through}.
    json_output: one line per result (ANSIBLE_CALLBACK_RESULT_FORMAT=json), so that
    messages can be searched for."""
    role_dir = Path(role_dir)

    @pytest.fixture(scope="session")
    def run_role(tmp_path_factory):
        inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
        if not inventory:
            pytest.skip("needs a Molecule inventory (MOLECULE_INVENTORY_FILE)")

        def run(
            host_name,
            extra_vars=None,
            tasks_from="main",
            inventory_file=None,
            env_extra=None,
            strategy=None,
            options=(),
            cases=None,
        ):
            directory = tmp_path_factory.mktemp("play")
            apply = _apply(role_dir.name, tasks_from)
            if cases is None:
                plays = [
                    {
                        "name": "Apply the role with test inputs",
                        "hosts": "all",
                        "become": True,
                        "tasks": [apply],
                    }
                ]
            else:
                plays = [_case_play(i, v, apply, directory) for i, v in cases.items()]
            playbook = directory / "apply-role.yml"
            playbook.write_text(yaml.safe_dump(plays))
            result = run_playbook(
                playbook,
                inventory_file or inventory,
                limit=host_name,
                extra_vars=extra_vars,
                roles_path=role_dir.parent,
                env_extra={
                    **({"ANSIBLE_CALLBACK_RESULT_FORMAT": "json"} if json_output else {}),
                    **(env_extra or {}),
                },
                strategy=strategy,
                options=options,
            )
            if cases is not None:
                result.cases = {
                    case_id: (
                        json.loads(path.read_text())
                        if (path := directory / f"case-{case_id}.json").exists()
                        else None
                    )
                    for case_id in cases
                }
            return result

        return run

    return run_role


def case_failure(result, case_id):
    """The text of the failed task's result of one case of run_role(cases=...): every string
    in it (msg, argument_errors, each loop item's msg), one per line."""
    failed = result.cases[case_id]
    assert failed is not None, (
        f"case {case_id} went through the whole role: it was not refused\n{result.stdout[-3000:]}"
    )

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    return "\n".join(strings(failed))


def run_refused(run_role, host_name, cases, **kwargs):
    """Apply the role once per bad-input case in one run (run_role(cases=...)) and check the
    run as a whole: it went to its end (each case's failure rescued) and changed nothing."""
    result = run_role(host_name, cases=cases, **kwargs)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert recap_changed(result.stdout) == 0, output[-3000:]
    return result


def wait_on_host(host, condition, seconds):
    """Poll a shell condition on the host itself, every 0.1 s (one round trip for the whole
    wait); True when it held within `seconds`."""
    loop = f"for _ in $(seq {int(seconds * 10)}); do {condition} && exit 0; sleep 0.1; done"
    return host.run(f"{loop}; exit 1").rc == 0


def assert_refused(result, case, message, variable=None):
    """One case of run_refused failed with `message` and names `variable` (the case's
    first variable unless given; "" names none)."""
    failure = case_failure(result, case)
    assert message in failure, failure
    if variable:
        assert variable in failure, failure
