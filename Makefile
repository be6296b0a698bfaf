# Django deploy kit: the one place to run things. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON       ?= python3
VENV         ?= .venv
BIN          := $(VENV)/bin
DISTROS      ?= 13 12
APP_VENV     ?= .venv-app
export KIT_IMAGE ?= kit-debian
# The venv's tools (ansible, molecule, ...) come first for every target.
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Scenarios `make test` runs, as ROLE_OR_DIR:SCENARIO; roles/<role>/molecule/<scenario>
# and molecule/<scenario> (top level) are found by themselves.
SCENARIOS    ?= $(shell .config/scripts/list-scenarios.sh)

say = @printf '\n\033[1m==> %s\033[0m\n' "$(1)"
# pip, quietly; some machines' pip.conf names local indexes that do not exist, which only adds noise.
# A lock lists every package: --no-deps keeps pip from resolving again (pip 23 looks up a
# dependency asked for with extras, such as pytest-cov's coverage[toml], on the index instead
# of taking the locked pin, and fails once a newer release is out); `pip check` then proves
# the set complete.
pip_install = $(1)/bin/pip install --quiet --disable-pip-version-check --no-deps $(2) 2>&1 \
	| { grep -v 'is ignored: it is neither a file nor a directory' || true; } \
	&& $(1)/bin/pip check --disable-pip-version-check >/dev/null

# pip-compile from the hash-checked .venv-lock (make lock).
compile = PIP_CONFIG_FILE=/dev/null $(CURDIR)/.venv-lock/bin/pip-compile --quiet --generate-hashes \
	--strip-extras --no-emit-index-url --no-emit-find-links $(1)

.PHONY: help bootstrap apt docker apt-cache venv images lint test test-app test-tools scenario bench \
        demo demo-down clean clean-images lock vault check-project docs collection

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

bootstrap: apt docker apt-cache venv images ## Install everything the tests and the demo need (idempotent)

apt: ## Install the Debian packages the tool chain needs, when missing
	$(call say,Checking Debian packages)
	@.config/scripts/ensure-apt.sh

docker: ## Start the Docker engine when it does not answer
	$(call say,Checking the Docker engine)
	@.config/scripts/ensure-docker.sh

apt-cache: ## Start the package caches the test containers share (apt-cacher-ng; pip's cache in /var/cache/kit/pip)
	$(call say,Checking the package cache)
	@.config/scripts/ensure-apt-cache.sh

venv: $(VENV)/.installed ## Create .venv (Ansible, Molecule, linters) from requirements/dev.txt
$(VENV)/.installed: requirements/dev.txt
	$(call say,Creating $(VENV) from requirements/dev.txt)
	@$(PYTHON) -m venv $(VENV)
	@$(call pip_install,$(VENV),--require-hashes -r requirements/dev.txt)
	@touch $@

images: ## Build the local Debian base images when their recipe changed
	$(call say,Checking base images ($(DISTROS)))
	@.config/scripts/ensure-images.sh $(DISTROS)

$(APP_VENV)/.installed: sample_app/requirements/dev.lock
	$(call say,Creating $(APP_VENV) for sample_app from sample_app/requirements/dev.lock)
	@$(PYTHON) -m venv $(APP_VENV)
	@$(call pip_install,$(APP_VENV),--require-hashes -r $<)
	@touch $@

vault: venv ## Make INVENTORY's own vault of random secrets (e.g. make vault INVENTORY=inventory/production)
	@.config/scripts/new-vault.sh "$(INVENTORY)" $(VAULT_PASSWORD_FILE)

check-project: venv ## Before any server: what a deploy of INVENTORY's project would detect and refuse (make check-project INVENTORY=inventory/production)
	@test -n "$(INVENTORY)" || { echo "make check-project needs INVENTORY=inventory/<env>: the inventory whose project to check" >&2; exit 2; }
	@ansible-playbook -i "$(INVENTORY)" playbooks/check-project.yml $(ARGS)

docs: venv ## Rewrite the role READMEs' variable tables from meta/argument_specs.yml (aar-doc)
	$(call say,Role READMEs from meta/argument_specs.yml)
	@.config/scripts/role-docs.sh

collection: venv ## Build the roles as the Ansible collection django_deploy_kit.stack into dist/ (galaxy.yml)
	$(call say,ansible-galaxy collection build)
	@.config/scripts/collection.sh

lint: venv ## Lint: yamllint, ansible-lint (production profile), ruff, role README tables
	$(call say,yamllint)
	@$(BIN)/yamllint --strict .
	$(call say,ansible-lint)
	@$(BIN)/ansible-lint
	$(call say,ruff)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	$(call say,Role READMEs' variable tables match meta/argument_specs.yml (make docs rewrites them))
	@.config/scripts/role-docs.sh --check
	$(call say,Inventories: one contract; no variable set twice; no symlinks)
	@$(BIN)/python .config/scripts/check-inventories.py
	$(call say,Every test host as .config/molecule/config.yml defines it)
	@$(BIN)/python .config/scripts/systemd-host.py --check
	$(call say,No async tasks (with ansible-core 2.19 Mitogen's async jobs never report back))
	@if grep -rnE '^[[:space:]]*async:' roles playbooks molecule; then \
	    echo "ERROR: async tasks hang under the kit's Mitogen strategy (see ansible.cfg)"; exit 1; fi

test: bootstrap $(APP_VENV)/.installed ## Run every check: lint, app tests, every Molecule scenario on every distro
	@DISTROS="$(DISTROS)" .config/scripts/run-tests.sh $(SCENARIOS)

test-app: $(APP_VENV)/.installed ## Run sample_app's tests (pytest-django, coverage >= 90%; DATABASE_URL=postgres://... for PostgreSQL)
	$(call say,sample_app tests)
	@cd sample_app && $(abspath $(APP_VENV))/bin/pytest

test-tools: venv ## Run the tests of the roles' controller-side tools (roles/*/tests: concurrent release builds, ...)
	$(call say,Controller tool tests)
	@$(BIN)/pytest -p no:cacheprovider -q roles/*/tests

scenario: bootstrap ## Run one scenario: make scenario S=roles/common:default [D=12] [CMD=converge] [KIT_INSTANCE=name]
	@test -n "$(S)" || { echo "usage: make scenario S=roles/common:default [D=12] [CMD=test|converge|verify|login|destroy]"; exit 2; }
	@cd $(firstword $(subst :, ,$(S))) && export MOLECULE_DISTRO=$(or $(D),13) \
	    KIT_INSTANCE=$${KIT_INSTANCE:-$$(basename $$(pwd) | tr _ -)-$(word 2,$(subst :, ,$(S)))} && \
	    export MOLECULE_EPHEMERAL_DIRECTORY=$(CURDIR)/.cache/molecule/$$KIT_INSTANCE-$$MOLECULE_DISTRO && \
	    molecule $(or $(CMD),test) -s $(word 2,$(subst :, ,$(S)))

bench: bootstrap ## Benchmarks: deploy speed, serving (nginx vs Gunicorn vs runserver), zero-downtime -> bench/results/
	@bench/run.sh

demo: apt docker apt-cache venv ## Build the demo server in a local container and deploy the kit on it
	$(call say,Checking the demo's base image (Debian $${KIT_DEMO_DISTRO:-13}))
	@.config/scripts/ensure-images.sh $${KIT_DEMO_DISTRO:-13}
	@.config/scripts/demo.sh up

demo-down: ## Remove the demo container (PURGE=1 also removes .demo/)
	@.config/scripts/demo.sh down $(if $(PURGE),--purge)

clean: ## Remove the venv, caches and Molecule instances (images stay)
	$(call say,Cleaning)
	@-[ -x $(BIN)/molecule ] && for s in $(SCENARIOS); do \
	    (cd $${s%%:*} && $(CURDIR)/$(BIN)/molecule destroy -s $${s##*:} >/dev/null 2>&1 || true); done
	rm -rf $(VENV) $(APP_VENV) .venv-bench .cache .pytest_cache .ruff_cache bench/.work

clean-images: ## Remove the local base images
	-docker image ls --format '{{.Repository}}:{{.Tag}}' $(KIT_IMAGE) | xargs -r docker rmi

lock: ## Re-lock every requirements file from its .in (with hashes): the kit's, the locking tool's, sample_app's
	$(call say,Locking requirements/*.txt and sample_app/requirements/*.lock from their .in files)
	@# The locking tool is itself installed hash-checked, from requirements/lock.txt.
	@$(PYTHON) -m venv .venv-lock
	@$(call pip_install,.venv-lock,--require-hashes -r requirements/lock.txt)
	@$(call compile,--allow-unsafe -o requirements/dev.txt requirements/dev.in)
	@$(call compile,--allow-unsafe -o requirements/lock.txt requirements/lock.in)
	@cd sample_app && $(call compile,-o requirements/base.lock requirements/base.in)
	@cd sample_app && $(call compile,-o requirements/dev.lock requirements/dev.in)
	@cd roles/django_app/files && $(call compile,-o uv-requirements.txt uv-requirements.in)
