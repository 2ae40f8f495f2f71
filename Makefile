# fournines.runbooks: the two commands that matter are `make demo` and `make test`.
# Everything else is a step they call; each step is idempotent.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)
LAB_PROFILE ?= fast
export LAB_PROFILE
COLLECTION_COPY := .build/ansible_collections/fournines/runbooks

.PHONY: lock help deps venv lab lab-binaries lab-down lab-status demo test lint sanity unit integration molecule build clean \
        package ee-context changelog

help:
	@echo "make demo   start the part of the lab the main job needs ($(DEMO_COMPONENTS)) and run"
	@echo "            playbooks/upgrade-cluster.yml against it"
	@echo "make test   lint, sanity, unit, integration (lab) and Molecule tests"
	@echo "make lab | lab-down | lab-status | venv | deps | build"

## Debian packages the lab needs (apt-get; needs root or sudo).
deps:
	lab/install-deps

## One virtual environment from the pinned lock file.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements/lock.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/lock.txt
	touch $@

lab: deps venv
	lab/up

## The lab's Kubernetes binaries (lab/build/build-k8s: a no-op once they are in ~/.cache/fournines-lab).
lab-binaries:
	lab/build/build-k8s >/dev/null

lab-down:
	lab/down

lab-status:
	lab/status

## The main job (playbooks/upgrade-cluster.yml) needs only the lab's Kubernetes, the Linode simulator
## and the edge (what inventories/lab/group_vars/lke_clusters.yml reads); `make lab` starts the rest
## (Postgres, DNS, TLS) for the other runbooks and the tests. Only their apt packages are installed
## (lab/install-deps with components: the base section of lab/apt-packages.txt). The venv (mostly downloads) and the
## cold Go build of the control plane (CPU) run side by side.
DEMO_COMPONENTS := k8s linode_sim edge

demo:
	lab/install-deps $(DEMO_COMPONENTS)
	$(MAKE) --no-print-directory -j2 venv lab-binaries
	lab/up $(DEMO_COMPONENTS)
	$(BIN)/ansible-playbook playbooks/upgrade-cluster.yml
	@echo "Report: $$(ls -td reports/*/ | head -1)"

test: deps venv lint sanity unit package integration molecule

lint: venv
	$(BIN)/ansible-lint --profile production

## ansible-test wants the collection under ansible_collections/<ns>/<name>: test exactly what
## would be published (the built tarball, without lab/, tests/, benchmarks/ ...).
sanity: build
	rm -rf .build && mkdir -p $(COLLECTION_COPY)
	tar -xzf fournines-runbooks-*.tar.gz -C $(COLLECTION_COPY)
	# Dependencies (kubernetes.core's doc fragments, community.*) come from the ansible package.
	for ns in $$($(PY) -c 'import ansible,os;print(os.path.dirname(os.path.dirname(ansible.__file__)))')/ansible_collections/*/; do \
	  n=$$(basename $$ns); [ "$$n" = fournines ] || ln -sfn $$ns .build/ansible_collections/$$n; done
	pipv=$$($(PY) -c 'import re,ansible_test._internal.python_requirements as m; print(re.search(r"pip=.([0-9.]+).", open(m.__file__).read()).group(1))') && \
	  cache=$$HOME/.ansible/test/cache/get_pip_$${pipv//./_}.py && mkdir -p $$(dirname $$cache) && \
	  { [ -f $$cache ] || cp tests/sanity/get_pip_offline.py $$cache; }
	cd $(COLLECTION_COPY) && git init -q && git add -A && \
	  $(abspath $(BIN))/ansible-test sanity --python 3.11 --color no --requirements

unit: venv
	$(BIN)/pytest -q tests/unit

## INTEGRATION_WORKERS=N (N > 1) runs the lab areas side by side with pytest-xdist, one worker per
## group of tests/integration/conftest.py (XDIST_GROUPS: cluster, postgres, certificates, node);
## tests that change the same lab part stay on one worker, in order. 1 = one process, in file order.
## 2 (the default): two workers share the groups; the cluster group is the longest, so more workers
## would add CPU contention on 2 cores without shortening the run.
INTEGRATION_WORKERS ?= 2
INTEGRATION_XDIST := $(if $(filter-out 0 1,$(INTEGRATION_WORKERS)),-n $(INTEGRATION_WORKERS) --dist loadgroup,)
integration: deps venv
	lab/up
	$(BIN)/pytest -q --durations=20 $(INTEGRATION_XDIST) tests/integration || { rc=$$?; [ $$rc -eq 5 ] && echo "integration: no tests collected yet" || exit $$rc; }

molecule: deps venv
	@if ls molecule/*/molecule.yml >/dev/null 2>&1; then lab/up && cd . && for s in molecule/*/; do \
	  $(BIN)/molecule test -s $$(basename $$s) || exit 1; done; else echo "molecule: no scenarios yet"; fi

build: venv
	rm -f fournines-runbooks-*.tar.gz
	$(BIN)/ansible-galaxy collection build --force .

## Packaging: the collection builds, installs offline into a clean path and runs from there;
## `ansible-builder create` makes a complete EE build context; CHANGELOG.rst generates.
package: venv
	$(BIN)/pytest -q tests/packaging

## The execution environment's build context (no image: build it with podman/docker from here).
ee-context: build
	rm -rf .build/ee
	$(BIN)/ansible-builder create --file execution-environment.yml --context .build/ee --output-filename Containerfile
	@echo "EE build context: .build/ee (podman build -t fournines/runbooks-ee .build/ee)"

## CHANGELOG.rst from changelogs/fragments without consuming them: antsibull-changelog lints the
## fragments, then releases the galaxy.yml version in a scratch copy. At release time run
## `antsibull-changelog release` in the checkout instead (it moves the fragments into changelog.yaml).
CHANGELOG_OUT ?= CHANGELOG.rst
changelog: venv
	$(BIN)/antsibull-changelog lint
	rm -rf .build/changelog && mkdir -p .build/changelog/ansible_collections/fournines
	mkdir .build/changelog/ansible_collections/fournines/runbooks
	tar -c --exclude=./.git --exclude=./.venv --exclude=./.lab --exclude=./.build --exclude=./.collections \
	  --exclude=./.ansible --exclude=./reports --exclude=./lab --exclude=./tests --exclude='*.tar.gz' . \
	  | tar -x -C .build/changelog/ansible_collections/fournines/runbooks
	cd .build/changelog/ansible_collections/fournines/runbooks && \
	  ANSIBLE_COLLECTIONS_PATH=$(abspath .build/changelog) $(abspath $(BIN))/antsibull-changelog release \
	    --ansible-doc-bin $(abspath $(BIN))/ansible-doc
	cp .build/changelog/ansible_collections/fournines/runbooks/CHANGELOG.rst $(CHANGELOG_OUT)
	rm -rf .build/changelog
	@echo "changelog: $(CHANGELOG_OUT)"

clean: lab-down
	rm -rf .build .pytest_cache fournines-runbooks-*.tar.gz

## Regenerate the lock file after changing requirements/runtime.txt or dev.txt.
lock:
	rm -rf .build/lockvenv && python3 -m venv .build/lockvenv
	.build/lockvenv/bin/pip install -q --upgrade pip && .build/lockvenv/bin/pip install -q -r requirements/dev.txt
	{ echo '# Generated by `make lock` from runtime.txt + dev.txt; `make venv` installs exactly this.'; \
	  .build/lockvenv/bin/pip freeze --exclude-editable; } > requirements/lock.txt
	rm -rf .build/lockvenv
