# The kit's default strategy: Mitogen's linear strategy (the same task order as Ansible's
# own `linear`), which keeps one Python interpreter per managed host for the whole run
# instead of starting one per task. ansible.cfg names it; `ANSIBLE_STRATEGY=linear` runs
# without it.
#
# Mitogen takes over the ssh and docker connections only. Tasks on the controller itself
# (`connection: local`, `delegate_to: localhost`: Molecule's create/destroy playbooks, the
# release build) keep Ansible's local connection: with ansible-core 2.19, Mitogen's `async`
# tasks never report back, and Molecule's driver playbooks wait on async jobs. The kit's
# roles use no `async` (`make lint` checks).
#
# Mitogen comes from requirements/dev.txt (`make bootstrap`). Where it is missing, or refuses
# this Ansible release, the run goes on with Ansible's linear strategy and says so.
from ansible.errors import AnsibleError
from ansible.utils.display import Display

try:
    import ansible_mitogen.strategy
    from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule
except (ImportError, AnsibleError) as error:
    from ansible.plugins.strategy.linear import StrategyModule

    Display().warning(
        f"Mitogen is not usable here ({error}); running with Ansible's linear strategy, which "
        "is slower. `make bootstrap` installs Mitogen into .venv."
    )
else:
    ansible_mitogen.strategy.REDIRECTED_CONNECTION_PLUGINS = tuple(
        name for name in ansible_mitogen.strategy.REDIRECTED_CONNECTION_PLUGINS if name != "local"
    )

    # With ansible-core 2.19, Mitogen reads connection options (ansible_host, ansible_user,
    # ...) as the inventory wrote them: `ansible_host: "{{ ... }}"` reached the connection
    # unrendered. Render them with the task's templar, as Ansible's own connections see them.
    import ansible_mitogen.transport_config

    _connection_option = ansible_mitogen.transport_config.PlayContextSpec._connection_option

    def _templated_connection_option(self, name, fallback_attr=None):
        value = _connection_option(self, name, fallback_attr)
        templar = getattr(self._connection, "templar", None)
        if templar is not None and isinstance(value, str) and templar.is_template(value):
            value = templar.template(value)
        return value

    ansible_mitogen.transport_config.PlayContextSpec._connection_option = (
        _templated_connection_option
    )

__all__ = ["StrategyModule"]
