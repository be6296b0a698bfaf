"""Migrations and the way back: the dump before migrate, the switch-back after a migration, and
rollbacks to releases that do not know migrations applied in the database.

Runs after test_releases_gate.py (pytest collects a directory's files in name order) and starts
from whatever release is live then (L, which knows api.0001 only). The fixtures build on each
other in this order: release M2b adds api.0002 and fails the gate (dump, migration applied,
L back) -> release M1 with the same migration (nothing to migrate, no dump) -> rollback to L
(refused) -> rollback to L with unapply (0002 reversed, L live) -> release M3 with 0002 and an
irreversible 0003 -> rollback with unapply (refused) -> rollback with force (L live on the newer
schema). About 3 minutes: seven runs of the role.
"""

import re
import textwrap

import pytest
from conftest import (
    journal,
    live_release,
    main_pid,
    pre_migrate_dumps,
    role_logic,
    served_release,
)

testinfra_hosts = ["ansible://all"]

# The role's own logic: Debian 13 only (conftest).
pytestmark = role_logic

MIGRATION_0002 = textwrap.dedent(
    """\
    from django.db import migrations, models


    class Migration(migrations.Migration):
        dependencies = (("api", "0001_initial"),)

        operations = (
            migrations.AddField(
                model_name="note",
                name="label",
                field=models.CharField(blank=True, max_length=50, null=True),
            ),
        )
    """
)

MIGRATION_0003 = textwrap.dedent(
    """\
    from django.db import migrations


    class Migration(migrations.Migration):
        dependencies = (("api", "0002_note_label"),)

        # No reverse_code: this migration cannot be unapplied.
        operations = (migrations.RunPython(migrations.RunPython.noop),)
    """
)


def output(result):
    return result.stdout + result.stderr


def add_label_field(src):
    models = src / "api" / "models.py"
    models.write_text(
        models.read_text().replace(
            "    body = models.TextField(blank=True)\n",
            "    body = models.TextField(blank=True)\n"
            "    label = models.CharField(max_length=50, null=True, blank=True)\n",
        )
    )
    (src / "api" / "migrations" / "0002_note_label.py").write_text(MIGRATION_0002)


def psql(host, role_vars, sql):
    result = host.run(
        "runuser -u postgres -- psql -tA -d %s -c %s", role_vars["molecule_db_name"], sql
    )
    assert result.rc == 0, result.stderr
    return result.stdout.split()


def applied_api_migrations(host, role_vars):
    return psql(host, role_vars, "SELECT name FROM django_migrations WHERE app = 'api' ORDER BY id")


@pytest.fixture(scope="module")
def release_l(host, app, role_vars):
    release = live_release(host, app)
    assert applied_api_migrations(host, role_vars) == ["0001_initial"]
    return release


@pytest.fixture(scope="module")
def migrated_then_refused(host, app, role_vars, run_role, sample_app_copy, release_l):
    """Release M2b: migration api.0002, and a WSGI entry point that points at a dead database."""

    def edit(src):
        add_label_field(src)
        wsgi = src / "config" / "wsgi.py"
        wsgi.write_text(
            wsgi.read_text().replace(
                "application = get_wsgi_application()",
                'os.environ["DATABASE_URL"] = "postgres://nobody:nothing@127.0.0.1:9/none"\n'
                "application = get_wsgi_application()",
            )
        )

    source = sample_app_copy("migrated-refused", edit)
    dumps_before = pre_migrate_dumps(host, role_vars)
    releases_before = set(host.file(app["releases"]).listdir())
    result = run_role(
        host.backend.host, {"django_app_source_dir": str(source), "django_app_health_timeout": 10}
    )
    (release,) = set(host.file(app["releases"]).listdir()) - releases_before
    return {
        "result": result,
        "release": release,
        "new_dumps": pre_migrate_dumps(host, role_vars) - dumps_before,
    }


@pytest.fixture(scope="module")
def dump_path(role_vars, migrated_then_refused):
    (name,) = migrated_then_refused["new_dumps"]
    database = role_vars["molecule_db_name"]
    return f"{role_vars['django_app_pre_migrate_dump_dir']}/{database}/pre-migrate/{name}"


@pytest.fixture(scope="module")
def migrated_deploy(host, app, role_vars, run_role, sample_app_copy, migrated_then_refused):
    """Release M1: the same migration, already applied by M2b."""
    source = sample_app_copy("migrated", add_label_field)
    dumps_before = pre_migrate_dumps(host, role_vars)
    result = run_role(host.backend.host, {"django_app_source_dir": str(source)})
    return {
        "result": result,
        "release": live_release(host, app),
        "new_dumps": pre_migrate_dumps(host, role_vars) - dumps_before,
    }


@pytest.fixture(scope="module")
def rollback_refused(host, app, run_role, migrated_deploy):
    pid_before = main_pid(host, app)
    result = run_role(host.backend.host, {}, tasks_from="rollback")
    return {"result": result, "pid_before": pid_before}


@pytest.fixture(scope="module")
def rollback_unapplied(host, app, run_role, rollback_refused):
    return run_role(host.backend.host, {"django_app_rollback_unapply": True}, tasks_from="rollback")


@pytest.fixture(scope="module")
def irreversible_deploy(host, app, run_role, sample_app_copy, rollback_unapplied):
    """Release M3: api.0002 and api.0003, which cannot be reversed."""

    def edit(src):
        add_label_field(src)
        (src / "api" / "migrations" / "0003_irreversible.py").write_text(MIGRATION_0003)

    source = sample_app_copy("irreversible", edit)
    result = run_role(host.backend.host, {"django_app_source_dir": str(source)})
    return {"result": result, "release": live_release(host, app)}


@pytest.fixture(scope="module")
def rollback_irreversible(host, app, run_role, irreversible_deploy):
    pid_before = main_pid(host, app)
    result = run_role(
        host.backend.host, {"django_app_rollback_unapply": True}, tasks_from="rollback"
    )
    return {"result": result, "pid_before": pid_before}


@pytest.fixture(scope="module")
def rollback_forced(host, app, run_role, rollback_irreversible):
    return run_role(host.backend.host, {"django_app_rollback_force": True}, tasks_from="rollback")


def assert_notes_api_answers(api, demo_user):
    token = api.token(demo_user["username"], demo_user["password"])
    status, notes = api.json("/api/notes/", token=token)
    assert status == 200, notes
    status, note = api.json(
        "/api/notes/", method="POST", data={"title": "schema", "body": "ahead"}, token=token
    )
    assert status == 201, note


# M2b: migrated, then refused by the gate -------------------------------------------------
def test_migration_before_a_refused_release_takes_one_dump(migrated_then_refused):
    result = migrated_then_refused["result"]
    assert len(migrated_then_refused["new_dumps"]) == 1, output(result)[-4000:]


def test_pre_migration_dump_is_named_after_the_release(role_vars, migrated_then_refused):
    (name,) = migrated_then_refused["new_dumps"]
    database = role_vars["molecule_db_name"]
    release = migrated_then_refused["release"]
    assert re.fullmatch(rf"{database}_\d{{8}}T\d{{6}}Z_{release}\.pgc", name)


def test_pre_migration_dump_is_a_complete_custom_format_dump(host, dump_path):
    dump = host.file(dump_path)
    assert (dump.user, dump.mode) == ("postgres", 0o600)
    listing = host.run(f"runuser -u postgres -- pg_restore --list {dump_path}")
    assert listing.rc == 0, listing.stderr
    assert "TABLE public api_note" in listing.stdout
    assert not host.file(f"{dump_path}.partial").exists


def test_pre_migration_dump_path_is_in_the_play_output(role_vars, migrated_then_refused, dump_path):
    text = output(migrated_then_refused["result"])
    assert f"Pre-migration dump of {role_vars['molecule_db_name']} on " in text, text[-4000:]
    assert dump_path in text


def test_refused_release_after_migrating_says_the_schema_moved_ahead(
    migrated_then_refused, dump_path
):
    result = migrated_then_refused["result"]
    assert result.returncode != 0
    text = output(result)
    message = text[text.index("did not answer /readyz") :]
    assert "The database schema moved ahead" in message, message[:4000]
    assert "api.0002_note_label" in message
    assert dump_path in message


def test_release_that_was_live_is_back_on_the_migrated_schema(
    host, app, api, demo_user, role_vars, migrated_then_refused, release_l
):
    assert live_release(host, app) == release_l
    assert served_release(host, app) == release_l, journal(host, app["service"])
    assert applied_api_migrations(host, role_vars) == ["0001_initial", "0002_note_label"]
    assert_notes_api_answers(api, demo_user)


# M1: the same migration, nothing to migrate ------------------------------------------------
def test_release_with_an_applied_migration_deploys_without_a_dump(migrated_deploy):
    result = migrated_deploy["result"]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert migrated_deploy["new_dumps"] == set()


# Rollback to L, which does not know api.0002 ------------------------------------------------
def test_rollback_to_a_release_without_applied_migrations_is_refused(rollback_refused):
    result = rollback_refused["result"]
    assert result.returncode != 0
    assert "does not know" in output(result), output(result)[-4000:]
    assert "api.0002_note_label" in output(result)


def test_refused_rollback_changes_nothing(host, app, role_vars, rollback_refused, migrated_deploy):
    assert live_release(host, app) == migrated_deploy["release"]
    assert main_pid(host, app) == rollback_refused["pid_before"]
    assert applied_api_migrations(host, role_vars) == ["0001_initial", "0002_note_label"]


def test_rollback_with_unapply_reverses_the_migration(host, role_vars, rollback_unapplied):
    assert rollback_unapplied.returncode == 0, rollback_unapplied.stdout[-4000:]
    assert applied_api_migrations(host, role_vars) == ["0001_initial"]
    columns = psql(
        host,
        role_vars,
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'api_note'",
    )
    assert "label" not in columns


def test_rollback_with_unapply_switches_to_the_release(
    host, app, api, demo_user, rollback_unapplied, release_l
):
    assert live_release(host, app) == release_l
    assert served_release(host, app) == release_l, journal(host, app["service"])
    assert_notes_api_answers(api, demo_user)


# M3: an irreversible migration -------------------------------------------------------------
def test_release_with_an_irreversible_migration_deploys(host, role_vars, irreversible_deploy):
    result = irreversible_deploy["result"]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert applied_api_migrations(host, role_vars)[-1] == "0003_irreversible"


def test_rollback_with_unapply_refuses_an_irreversible_migration(rollback_irreversible):
    result = rollback_irreversible["result"]
    assert result.returncode != 0
    text = output(result)
    assert "irreversible operations: api.0003_irreversible" in text, text[-4000:]


def test_refused_unapply_changes_nothing(
    host, app, role_vars, rollback_irreversible, irreversible_deploy
):
    assert live_release(host, app) == irreversible_deploy["release"]
    assert main_pid(host, app) == rollback_irreversible["pid_before"]
    assert applied_api_migrations(host, role_vars)[1:] == ["0002_note_label", "0003_irreversible"]


def test_forced_rollback_goes_back_on_the_newer_schema(
    host, app, api, demo_user, role_vars, rollback_forced, release_l
):
    assert rollback_forced.returncode == 0, rollback_forced.stdout[-4000:]
    assert live_release(host, app) == release_l
    assert served_release(host, app) == release_l, journal(host, app["service"])
    assert applied_api_migrations(host, role_vars)[1:] == ["0002_note_label", "0003_irreversible"]
    assert_notes_api_answers(api, demo_user)
