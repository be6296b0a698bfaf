"""Deploys after the first: a changed release with traffic, a broken release, a rollback, pruning.

The fixtures build on each other in this order (one host, one history of releases):
converge's release A -> changed release B (under load) -> broken release C (refused)
-> rollback to A -> prune. Each test checks one outcome of one of these steps.
"""

import textwrap

import pytest
from conftest import journal, live_release, served_release

testinfra_hosts = ["ansible://all"]

LOOP = textwrap.dedent(
    """\
    #!/bin/bash
    # Requests through the socket, one after the other, until told to stop (at most 10 minutes).
    rm -f /root/loop.codes /root/loop.done /root/loop.stop
    end=$((SECONDS + 600))
    while [ ! -e /root/loop.stop ] && [ $SECONDS -lt $end ]; do
        curl -s -o /dev/null -w '%{http_code}\\n' --max-time 30 \\
            --unix-socket "$1" http://localhost/readyz >> /root/loop.codes
        sleep 0.05
    done
    touch /root/loop.done
    """
)


def wait_for_file(host, path, seconds=60):
    host.run(f"for i in $(seq {seconds * 2}); do [ -e {path} ] && break; sleep 0.5; done")
    return host.file(path).exists


@pytest.fixture(scope="module")
def release_a(host, app):
    return live_release(host, app)


@pytest.fixture(scope="module")
def note_before(api, demo_user):
    token = api.token(demo_user["username"], demo_user["password"])
    status, note = api.json(
        "/api/notes/", method="POST", data={"title": "before", "body": "redeploy"}, token=token
    )
    assert status == 201, note
    return note


@pytest.fixture(scope="module")
def changed_deploy(host, app, run_role, sample_app_copy, release_a, note_before):
    """Deploy a changed sample_app while a request loop runs through the socket."""

    def edit(src):
        init = src / "config" / "__init__.py"
        init.write_text(init.read_text() + '\nRELEASE_NOTE = "molecule: changed release"\n')

    source = sample_app_copy("changed", edit)
    host.run_test("cat > /root/loop.sh <<'EOF'\n" + LOOP + "EOF")
    pid_before = host.check_output(f"systemctl show -p MainPID --value {app['service']}")
    host.run_test(f"setsid nohup bash /root/loop.sh {app['socket']} >/dev/null 2>&1 </dev/null &")
    assert wait_for_file(host, "/root/loop.codes", 10), "the request loop did not start"
    result = run_role(host.backend.host, {"django_app_source_dir": str(source)})
    host.run("sleep 2 && touch /root/loop.stop")
    assert wait_for_file(host, "/root/loop.done"), "the request loop did not stop"
    codes = host.file("/root/loop.codes").content_string.split()
    return {
        "result": result,
        "codes": codes,
        "pid_before": pid_before,
        "pid_after": host.check_output(f"systemctl show -p MainPID --value {app['service']}"),
        "release": live_release(host, app),
    }


@pytest.fixture(scope="module")
def broken_deploy(host, app, run_role, sample_app_copy, changed_deploy):
    """Deploy a release whose /readyz fails: its WSGI entry point points at a dead database."""

    def edit(src):
        wsgi = src / "config" / "wsgi.py"
        wsgi.write_text(
            wsgi.read_text().replace(
                "application = get_wsgi_application()",
                'os.environ["DATABASE_URL"] = "postgres://nobody:nothing@127.0.0.1:9/none"\n'
                "application = get_wsgi_application()",
            )
        )

    source = sample_app_copy("broken", edit)
    result = run_role(
        host.backend.host,
        {"django_app_source_dir": str(source), "django_app_health_timeout": 10},
    )
    return {"result": result}


@pytest.fixture(scope="module")
def rollback(host, app, run_role, broken_deploy):
    return run_role(host.backend.host, {}, tasks_from="rollback")


@pytest.fixture(scope="module")
def prune(host, app, run_role, rollback):
    before = set(host.file(app["releases"]).listdir())
    result = run_role(host.backend.host, {"django_app_keep_releases": 1})
    return {"before": before, "result": result, "after": set(host.file(app["releases"]).listdir())}


# Changed release, deployed under load ------------------------------------------------------
def test_changed_release_deploys(changed_deploy):
    result = changed_deploy["result"]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr


def test_changed_release_is_a_new_release(changed_deploy, release_a):
    assert changed_deploy["release"] != release_a


def test_changed_release_is_served(host, app, changed_deploy):
    assert served_release(host, app) == changed_deploy["release"], journal(host, app["service"])


def test_service_restarted_while_requests_ran(changed_deploy):
    assert changed_deploy["pid_after"] != changed_deploy["pid_before"]


def test_no_request_failed_during_the_redeploy(changed_deploy):
    codes = changed_deploy["codes"]
    assert len(codes) >= 50, "too few requests to prove anything"
    failed = [code for code in codes if code != "200"]
    assert failed == [], f"{len(failed)} of {len(codes)} requests failed"


def test_previous_points_at_the_replaced_release(host, app, changed_deploy, release_a):
    assert host.file(app["previous"]).linked_to == f"{app['releases']}/{release_a}"


def test_notes_written_before_the_redeploy_remain(api, demo_user, changed_deploy, note_before):
    token = api.token(demo_user["username"], demo_user["password"])
    status, note = api.json(f"/api/notes/{note_before['id']}/", token=token)
    assert status == 200, note
    assert note["title"] == note_before["title"]


# Broken release: refused by the health gate ------------------------------------------------
def test_broken_release_fails_the_play(broken_deploy):
    result = broken_deploy["result"]
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "did not answer /readyz with 200" in output
    assert "which is ready" in output


def test_broken_release_failure_shows_the_journal(broken_deploy):
    result = broken_deploy["result"]
    assert "readiness check failed: database unreachable" in result.stdout + result.stderr


def test_current_points_back_after_the_broken_release(host, app, broken_deploy, changed_deploy):
    assert live_release(host, app) == changed_deploy["release"]
    assert served_release(host, app) == changed_deploy["release"]


def test_previous_is_kept_after_the_broken_release(host, app, broken_deploy, release_a):
    assert host.file(app["previous"]).linked_to == f"{app['releases']}/{release_a}"


def test_api_answers_after_the_broken_release(api, demo_user, broken_deploy):
    status, _ = api.json("/readyz")
    assert status == 200
    token = api.token(demo_user["username"], demo_user["password"])
    status, me = api.json("/api/me/", token=token)
    assert status == 200, me


# Rollback ----------------------------------------------------------------------------------
def test_rollback_succeeds(rollback):
    assert rollback.returncode == 0, rollback.stdout[-4000:] + rollback.stderr


def test_rollback_switches_to_the_previous_release(host, app, rollback, release_a):
    assert live_release(host, app) == release_a
    assert served_release(host, app) == release_a


def test_rollback_keeps_the_release_it_left_as_previous(host, app, rollback, changed_deploy):
    assert host.file(app["previous"]).linked_to == f"{app['releases']}/{changed_deploy['release']}"


def test_rolled_back_release_is_ready(api, rollback):
    status, answer = api.json("/readyz")
    assert status == 200, answer


# Pruning -----------------------------------------------------------------------------------
def test_redeploy_of_the_live_release_prunes_old_releases(prune, release_a, changed_deploy):
    assert prune["result"].returncode == 0, prune["result"].stdout[-4000:]
    assert len(prune["before"]) == 3
    # keep 1: the newest, plus the live and the previous release, which are never removed
    assert prune["after"] == {release_a, changed_deploy["release"]}
