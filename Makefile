# meshops.istio_integrity: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
COLLECTIONS := $(CURDIR)/.collections
LINK := $(COLLECTIONS)/ansible_collections/meshops/istio_integrity
SANITY_ROOT := $(CURDIR)/build/sanity/ansible_collections/meshops/istio_integrity

export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PYTHONPATH := $(COLLECTIONS)
export ANSIBLE_PYTHON_INTERPRETER := $(BIN)/python
export ANSIBLE_LOCALHOST_WARNING := False
export ANSIBLE_INVENTORY_UNPARSED_WARNING := False

.PHONY: test demo bench unit sanity lint integration molecule stray-check controlplane cluster-up cluster-down \
        venv collection clean requirements operator operator-up operator-down operator-logs

test: unit sanity lint integration molecule stray-check ## set up everything and run every test suite
	@echo "make test: all suites passed"

demo: venv collection controlplane operator ## local control plane, sample mesh with planted faults, report, repair plan, the MeshService operator
	$(BIN)/python tools/demo.py

bench: venv collection controlplane operator ## engine on 1k/10k/30k-Service meshes; 500 meshservices vs a kubernetes.core loop; reconcile of 200 MeshServices; the operator on 100
	$(BIN)/python bench/bench_engine.py
	$(BIN)/python bench/bench_meshservice.py
	$(BIN)/python bench/bench_reconcile.py
	$(BIN)/python bench/bench_operator.py

venv: $(VENV)/.installed
$(VENV)/.installed: requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@

collection: ## the collection as ansible_collections/meshops/istio_integrity (a link to this tree)
	mkdir -p $(dir $(LINK))
	ln -sfn ../../.. $(LINK)

controlplane: venv ## build (or reuse) etcd, kube-apiserver and kube-controller-manager
	bash tools/controlplane/build.sh >/dev/null

unit: venv collection
	$(BIN)/pytest tests/unit -q

# ansible-test pins its own linters: they live in a venv of their own, not in .venv beside ansible-lint.
SANITY_VENV := $(CURDIR)/build/sanity-venv
$(SANITY_VENV)/.installed: requirements/dev.txt
	rm -rf $(SANITY_VENV) && $(PYTHON) -m venv $(SANITY_VENV)
	$(SANITY_VENV)/bin/pip install --quiet --upgrade pip
	$(SANITY_VENV)/bin/pip install --quiet $$(grep -E '^(ansible-core|PyYAML|Jinja2|kubernetes)==' requirements/dev.txt)
	touch $@

sanity: $(SANITY_VENV)/.installed ## ansible-test sanity on a copy of the tracked tree, no ignore files
	command -v shellcheck >/dev/null || { apt-get update -qq && apt-get install -y -qq shellcheck; }
	pip_version=$$($(SANITY_VENV)/bin/python -c "import re, ansible_test._internal.python_requirements as r, inspect; \
	  print(re.search(r\"pip='([^']+)'\", inspect.getsource(r.get_venv_packages)).group(1))") && \
	  mkdir -p ~/.ansible/test/cache && cp tools/sanity_get_pip.py ~/.ansible/test/cache/get_pip_$${pip_version//./_}.py
	rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)
	git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} $(SANITY_ROOT)/
	cd $(SANITY_ROOT) && git init -q && git add -A && \
	  $(SANITY_VENV)/bin/ansible-test sanity --requirements --python 3.11 --color no

lint: venv collection
	$(BIN)/ansible-lint --profile production

integration: venv collection controlplane operator ## Debian's prometheus (canary playbooks), openssh-server (a remote host), chromium (HTML report)
	command -v prometheus >/dev/null && test -x /usr/sbin/sshd && test -x /usr/bin/chromium || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus openssh-server chromium \
	  >/dev/null; }
	$(BIN)/pytest tests/integration -q -p no:randomly

molecule: venv collection controlplane ## delegated scenarios in extensions/molecule against the local control plane
	$(BIN)/molecule test --all

stray-check: venv
	$(BIN)/python tools/controlplane/localcluster.py stray

cluster-up: venv controlplane ## start the control plane in the background; kubeconfig in .cluster/kubeconfig
	$(BIN)/python tools/controlplane/localcluster.py up --state .cluster

cluster-down: venv
	$(BIN)/python tools/controlplane/localcluster.py down --state .cluster

operator: venv ## build (or reuse) the pinned upstream Ansible Operator
	bash tools/operator/build.sh >/dev/null

operator-up: venv collection controlplane operator ## the Ansible Operator against the local control plane (starts it if needed)
	test -f .cluster/state.json || $(BIN)/python tools/controlplane/localcluster.py up --state .cluster
	$(BIN)/python tools/operator/localoperator.py up --state .cluster

operator-down: venv ## stop the operator (the control plane stays: make cluster-down)
	$(BIN)/python tools/operator/localoperator.py down --state .cluster

operator-logs: venv ## the operator's log
	$(BIN)/python tools/operator/localoperator.py logs --state .cluster

requirements: ## re-resolve requirements/dev.txt from requirements/dev.in
	rm -rf build/req-venv && $(PYTHON) -m venv build/req-venv
	build/req-venv/bin/pip install --quiet --upgrade pip && build/req-venv/bin/pip install --quiet -r requirements/dev.in
	{ echo "# Generated from requirements/dev.in with 'pip freeze' in a fresh Python 3.11 venv; update with 'make requirements'."; \
	  build/req-venv/bin/pip freeze | grep -v '^pip=='; } > requirements/dev.txt

clean:
	rm -rf build .collections tests/output
