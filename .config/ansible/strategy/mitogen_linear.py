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

__all__ = ["StrategyModule"]
