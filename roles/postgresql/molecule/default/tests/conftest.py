"""Shared fixtures for the postgresql role's Testinfra tests.

Runs under Molecule's testinfra verifier, or alone:
    pytest --hosts=ansible://all --ansible-inventory=<molecule inventory> tests/
(the tests that run the role again need MOLECULE_INVENTORY_FILE).
"""

import sys
from pathlib import Path

import pytest

# The kit's shared Testinfra helpers: the nearest .testinfra/ above this folder.
sys.path.insert(
    0, str(next(d / ".testinfra" for d in Path(__file__).parents if (d / ".testinfra").is_dir()))
)
from kit_testinfra import journal, recap_changed, role_defaults, run_role_fixture  # noqa: F401

ROLE_DIR = Path(__file__).resolve().parents[3]
# What Debian ships, written here rather than read from the role's vars/: a wrong default in
# the role fails the tests instead of moving their expectation along with it.
DEBIAN_POSTGRESQL = {"12": 15, "13": 17}


@pytest.fixture(scope="module")
def role_vars(host):
    """The role's defaults and Debian's PostgreSQL, overlaid with the host's inventory variables."""
    major = host.system_info.release.split(".")[0]
    merged = {**role_defaults(ROLE_DIR), **host.ansible.get_variables()}
    merged.setdefault("postgresql_version", DEBIAN_POSTGRESQL[major])
    return merged


@pytest.fixture(scope="module")
def facts(host):
    return host.ansible("setup", check=False)["ansible_facts"]


@pytest.fixture(scope="module")
def cluster(role_vars):
    """Paths and names of the managed cluster."""
    version = role_vars["postgresql_version"]
    name = role_vars["postgresql_cluster_name"]
    return {
        "version": version,
        "name": name,
        "port": role_vars["postgresql_port"],
        "service": f"postgresql@{version}-{name}.service",
        "conf_dir": f"/etc/postgresql/{version}/{name}",
        "cert": f"/etc/postgresql/{version}/{name}/server.crt",
    }


@pytest.fixture(scope="module")
def app_user(role_vars):
    return next(u for u in role_vars["postgresql_users"] if u.get("hba", True))


@pytest.fixture(scope="module")
def superuser_sql(host, cluster):
    """Run SQL as postgres over the local socket (peer); returns unaligned, tuples-only output.

    Values go in as psql variables (`:'name'` in the SQL), never into the SQL text.
    """

    def run(sql, database="postgres", **params):
        variables = " ".join(f"-v {name}=%s" for name in params)
        return host.check_output(
            f"printf '%%s' %s | runuser -u postgres -- psql -X -v ON_ERROR_STOP=1 -At -p %s "
            f"-d %s {variables} -f -",
            sql,
            str(cluster["port"]),
            database,
            *params.values(),
        )

    return run


@pytest.fixture(scope="module")
def tcp_psql(host, cluster):
    """Connect over TCP to 127.0.0.1 with a password, as a real client would; returns the result."""

    def run(user, password, sql="SELECT current_user", database="app", sslmode="verify-full"):
        conninfo = (
            f"host=127.0.0.1 port={cluster['port']} dbname={database} user={user} "
            f"sslmode={sslmode} sslrootcert={cluster['cert']} connect_timeout=5"
        )
        return host.run(
            "PGPASSWORD=%s psql -X -v ON_ERROR_STOP=1 -At %s -c %s", password, conninfo, sql
        )

    return run


run_role = run_role_fixture(ROLE_DIR)
