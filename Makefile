# The Knative Event Mesh function.
#
#   make run     serve the function on :8080 (a local API server with a demo
#                mesh when KUBECONFIG is not set)
#   make run-backstage  the same, with a Backstage backend running our
#                provider (backstage/), which push refreshes
#   make test    unit tests, then end-to-end tests against a real
#                kube-apiserver + etcd
#   make bench   the mesh build at 100, 1 000 and 10 000 triggers, and the
#                AsyncAPI document of the same mesh
#   make knative a real one-node cluster with Knative Serving (Traefik) and
#                Eventing, the function deployed by func deploy (root);
#                make test-knative tests it, make knative-down stops it
#
# The API server, etcd, the func CLI and Eventing's ApiServerSource adapter
# are built from Go modules on first use and cached outside the clone, in
# $(CACHE), one folder per pinned version: the first build takes minutes,
# later runs (and other clones) reuse it.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/knative-eventmesh-function

version = $(shell awk '$$1 == "$(1)" { print $$2; exit }' $(2))
# The versions of Knative, Traefik and Kubernetes: one file, which the Go
# harness reads too (tests/versions), and whose tests check that the
# go.mod files building them agree.
VERSIONS        := tests/versions/versions.txt
KUBE_VERSION    := $(call version,k8s.io/kubernetes,$(VERSIONS))
ETCD_VERSION    := $(call version,go.etcd.io/etcd/server/v3,tests/go.mod)
FUNC_VERSION    := $(call version,knative.dev/func,tests/tools/func/go.mod)
ADAPTER_VERSION := $(call version,knative.dev/eventing,$(VERSIONS))

GREMLINS_VERSION := v0.6.0

KUBE_BIN    := $(CACHE)/kube-$(KUBE_VERSION)-etcd-$(ETCD_VERSION)
GREMLINS    := $(CACHE)/gremlins-$(GREMLINS_VERSION)/gremlins
FUNC        := $(CACHE)/func-$(FUNC_VERSION)/func
ADAPTER     := $(CACHE)/eventing-$(ADAPTER_VERSION)/eventmesh-apiserver-adapter

# envtest finds kube-apiserver and etcd in KUBEBUILDER_ASSETS. Set in the
# environment (to setup-envtest's folder, say), it is used as it is, and
# only kube-controller-manager is built when that folder has none.
USER_ASSETS := $(and $(filter environment,$(origin KUBEBUILDER_ASSETS)),$(filter-out $(KUBE_BIN),$(KUBEBUILDER_ASSETS)))
ifneq ($(USER_ASSETS),)
CONTROL_PLANE := $(KUBEBUILDER_ASSETS)/kube-apiserver $(KUBEBUILDER_ASSETS)/etcd
ifeq ($(wildcard $(KUBEBUILDER_ASSETS)/kube-controller-manager),)
export EVENTMESH_CONTROLLER_MANAGER := $(KUBE_BIN)/kube-controller-manager
CONTROL_PLANE += $(EVENTMESH_CONTROLLER_MANAGER)
endif
$(KUBEBUILDER_ASSETS)/kube-apiserver $(KUBEBUILDER_ASSETS)/etcd:
	@echo "KUBEBUILDER_ASSETS=$(KUBEBUILDER_ASSETS) has no $(@F): point it at a folder with kube-apiserver and etcd, or unset it to have make build them"; exit 1
else
export KUBEBUILDER_ASSETS := $(KUBE_BIN)
CONTROL_PLANE := $(KUBE_BIN)/kube-apiserver $(KUBE_BIN)/etcd $(KUBE_BIN)/kube-controller-manager
endif
export EVENTMESH_FUNC := $(FUNC)
export EVENTMESH_ADAPTER := $(ADAPTER)
# npm's download cache, for the Backstage packages the tests install.
export EVENTMESH_NPM_CACHE := $(CACHE)/npm

# How long `make test` lets each fuzz target run; `make fuzz` runs longer.
# A count, not a duration: Go 1.26's fuzzing coordinator can fail a target
# with a bare "context deadline exceeded" when a duration runs out
# (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 5000x

.PHONY: help
help:
	@echo "make run    serve the function on :8080 (local API server + demo mesh unless KUBECONFIG is set)"
	@echo "make run-backstage  make run, plus a Backstage backend on :$(BACKSTAGE_PORT) that push refreshes"
	@echo "make test   all tests: unit, fuzz (short), end-to-end against a real API server"
	@echo "make bench  mesh build time, requests and memory at 100, 1000 and 10000 triggers"
	@echo "make fuzz   each fuzz target for FUZZTIME=$(FUZZTIME) (set FUZZTIME=2000000x for a long run)"
	@echo "make func-build  build the function with the real func CLI (host builder)"
	@echo "make knative  a real one-node Kubernetes with Knative Serving and Eventing, the function deployed by func deploy (root)"
	@echo "make test-knative  tests against that cluster: scale to zero and back, push, Backstage"
	@echo "make knative-down  stop it, and remove what make knative created"
	@echo "make mutate mutation testing of the packages that decide what callers see (slow: about an hour)"
	@echo "make load   200 concurrent requests with 10 tokens: p50/p99 and peak RSS"
	@echo "make soak   the load repeated for SOAK=$(SOAK)"

# The unit tests and fuzzing run while the binaries the end-to-end tests
# need are built (on a new machine, most of the time goes to those builds).
.PHONY: test
test:
	$(MAKE) --no-print-directory -j3 unit fuzz binaries func-cache
	$(MAKE) --no-print-directory e2e

.PHONY: unit
unit:
	go vet ./...
	go test -count=1 ./...

# Each fuzz target runs FUZZTIME on top of its committed seed corpus.
.PHONY: fuzz
fuzz:
	@set -e; for pkg in $$(go list ./...); do \
	  for target in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
	    go test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# Each package may take 30 minutes: on a new machine, under load, the
# longest, tests/catalog, took 7.6 minutes (npm ci of backstage/ included;
# it installs both of its packages, the catalog module and events-module/,
# and runs both's tests; a second npm ci, of the plugin-catalog-node 3.x
# set in tests/catalog/testdata/catalog-node-3, adds about 2 minutes),
# tests/deploy 3.5 (its func build finds its packages compiled by
# func-cache).
#
# A test binary that dies hard (a -timeout panic) leaves envtest's
# kube-apiserver and etcd behind, as orphans: they run in their own process
# group. Whatever the result, reap the orphans of our binaries (a `make run`
# still running elsewhere has a parent, and is left alone).
.PHONY: e2e
e2e: $(CONTROL_PLANE) $(ADAPTER) $(FUNC) postgresql chromium
	status=0; (cd tests && go vet ./... && go test -count=1 -timeout 30m ./...) || status=$$?; \
	pkill -P 1 -f '$(KUBEBUILDER_ASSETS)/' || true; pkill -P 1 -f '$(KUBE_BIN)/' || true; \
	exit $$status

# Mutation testing with gremlins: each mutant of a package's code (a
# condition negated, a boundary moved, an operator changed) is run against
# that package's unit tests, one package at a time, and must make them
# fail. The root package is mutated alone (-E leaves the subpackages' files
# out). Results go to $(MUTATE_OUT), one JSON file per package; the scores
# are in the README's Tests section. Not part of make test: it takes hours
# on 2 cores. MUTATE_PKGS=./filter runs one package.
#
# gremlins is run without --test-cpu: v0.6.0 passes "-cpu N" to go test as
# one argument, the test binary rejects it, and every mutant then counts as
# killed. The self-check below catches that kind of break.
MUTATE_PKGS ?= . ./fetch ./relate ./filter ./mesh ./respond ./announce ./coalesce ./token ./kubeclient ./asyncapi ./intake
MUTATE_OUT ?= bin/mutate
MUTATE_WORKERS ?= 1
# A mutant whose tests take MUTATE_TIMEOUT times as long as the unmutated
# ones is TIMED OUT; on a busy machine compiling alone can take that long.
MUTATE_TIMEOUT ?= 30
MUTATE_CONFIG := $(abspath .gremlins.yaml)
MUTATE = $(GREMLINS) unleash --config $(MUTATE_CONFIG) --workers $(MUTATE_WORKERS) --timeout-coefficient $(MUTATE_TIMEOUT)
.PHONY: mutate mutate-selfcheck
mutate: mutate-selfcheck
	@status=0; for pkg in $(MUTATE_PKGS); do \
	  name=$$(basename $$(realpath $$pkg)); \
	  if [ "$$pkg" = . ]; then name=root; fi; \
	  echo "mutate $$pkg"; \
	  pkgstatus=0; \
	  $(MUTATE) $$(if [ "$$pkg" = . ]; then echo "-E .*/.*"; fi) -o $(MUTATE_OUT)/$$name.json $$pkg \
	    > $(MUTATE_OUT)/$$name.txt 2>&1 || pkgstatus=$$?; \
	  grep -E '^ +LIVED|^ +TIMED OUT|^Killed|^Test efficacy' $(MUTATE_OUT)/$$name.txt || true; \
	  if [ $$pkgstatus = 10 ]; then echo "mutate $$pkg: efficacy under 90 %: write a test that kills each LIVED mutant above"; \
	  elif [ $$pkgstatus != 0 ]; then echo "mutate $$pkg: gremlins failed (exit $$pkgstatus): see $(MUTATE_OUT)/$$name.txt"; fi; \
	  [ $$pkgstatus = 0 ] || status=1; \
	done; exit $$status

# The self-check: tests/mutantcheck has one mutant its test cannot catch
# and one it must. Unless gremlins reports the first LIVED, the second
# KILLED, and fails the package's 50 % efficacy (exit 10), its figures
# cannot be trusted, and make mutate stops here.
mutate-selfcheck: $(GREMLINS)
	@mkdir -p $(MUTATE_OUT)
	@echo "mutate: self-check on tests/mutantcheck"
	@status=0; (cd tests/mutantcheck && $(MUTATE) -o $(abspath $(MUTATE_OUT))/selfcheck.json .) \
	  > $(MUTATE_OUT)/selfcheck.txt 2>&1 || status=$$?; \
	ok=yes; \
	grep -Eq '^ +LIVED CONDITIONALS_BOUNDARY at within.go:' $(MUTATE_OUT)/selfcheck.txt || { ok=; echo "mutate: the self-check's boundary mutant was not reported LIVED"; }; \
	grep -Eq '^ +KILLED CONDITIONALS_NEGATION at within.go:' $(MUTATE_OUT)/selfcheck.txt || { ok=; echo "mutate: the self-check's negation mutant was not reported KILLED"; }; \
	[ $$status = 10 ] || { ok=; echo "mutate: gremlins exited $$status on the self-check, not 10: the efficacy gate of $(MUTATE_CONFIG) did not fire at the 50 % a sound run gives"; }; \
	if [ -z "$$ok" ]; then cat $(MUTATE_OUT)/selfcheck.txt; \
	  echo "mutate: gremlins' results cannot be trusted with these flags or this version: no package was mutated"; exit 1; fi; \
	echo "mutate: self-check passed (one mutant LIVED, one KILLED, the efficacy gate fired)"

$(GREMLINS):
	@mkdir -p $(@D)
	GOBIN=$(@D) go install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION)

# The load test with its figures (p50/p99 latency, peak RSS), and a soak:
# the same load repeated for SOAK (default 5m), memory checked each round.
SOAK ?= 5m
.PHONY: load soak
load: $(CONTROL_PLANE)
	cd tests && go test -count=1 -v -run TestConcurrentTokens ./load/
soak: $(CONTROL_PLANE)
	cd tests && EVENTMESH_SOAK=$(SOAK) go test -count=1 -v -timeout 2h -run TestConcurrentTokens ./load/

# Build the function as `func deploy` would, with the real func CLI and its
# host builder, into .func/ (ignored by git). GOFLAGS=-mod=mod lets func's
# generated go.mod take this module's newer dependencies.
.PHONY: func-build
func-build: $(FUNC)
	GOFLAGS=-mod=mod $(FUNC) build --builder host

# The mesh build at 100, 1000 and 10000 triggers against a local API server
# (tests/bench), and GET /v1/asyncapi of the same mesh beside it: a table
# on stdout, progress on stderr. BENCHFLAGS passes
# flags, e.g. BENCHFLAGS='-n 100,1000 -runs 3' for a quick run, or
# BENCHFLAGS='-cpuprofile cpu.out' for a CPU profile of in-process builds.
BENCHFLAGS ?=
.PHONY: bench
bench: $(CONTROL_PLANE)
	cd tests && go run ./bench $(BENCHFLAGS)

# The demo runs as a binary of its own, exec'd by the shell, so that Ctrl-C
# stops it and make quietly (go run would exit 1 on the signal).
.PHONY: run
run: $(CONTROL_PLANE) $(ADAPTER)
	cd tests && go build -o ../bin/eventmesh-run ./cmd/run
	cd tests && exec ../bin/eventmesh-run

# make run, plus a real Backstage backend on 127.0.0.1:$(BACKSTAGE_PORT)
# (backstage/dev/backend.js: catalog, events plugin, and backstage/'s
# Knative Event Mesh provider and events module) that push announces to.
# The first run
# installs backstage/ with npm, its downloads cached in $(CACHE)/npm.
BACKSTAGE_PORT ?= 7007
.PHONY: run-backstage
run-backstage: $(CONTROL_PLANE) $(ADAPTER)
	cd tests && go build -o ../bin/eventmesh-run ./cmd/run
	cd tests && exec ../bin/eventmesh-run -backstage $(BACKSTAGE_PORT)

# func's host builder compiles the function for each of these platforms
# (func v0.49.2 takes no --platform with it), in Go's build cache, which
# lives outside the clone. On a new machine that is three cold compiles of
# client-go, Eventing and the rest: tests/deploy's TestFuncBuild once ran
# into its package timeout doing them under load. func-cache compiles the
# same packages, with the same settings, while the unit tests run, so that
# func build finds them in the cache and compiles only the function.
FUNC_PLATFORMS := linux/amd64 linux/arm64 linux/arm/v7
.PHONY: func-cache
func-cache:
	@set -e; for p in $(FUNC_PLATFORMS); do \
	  IFS=/ read -r os arch variant <<< "$$p"; \
	  echo "compiling the function's packages for $$p into Go's build cache"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=$${variant#v} GOFLAGS=-mod=mod \
	    go build ./... knative.dev/func-go/http; \
	done

# apt-install PACKAGES: install Debian's packages, through sudo unless
# make runs as root. For the tools the tests and make knative need.
apt-install = sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $(1)

# tests/catalog runs two Backstage replicas on a PostgreSQL it starts
# itself (initdb and postgres on PATH, or Debian's postgresql package).
# Install the package when neither is there.
.PHONY: postgresql
postgresql:
	@if command -v initdb >/dev/null && command -v postgres >/dev/null; then exit 0; fi; \
	if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi; \
	echo "installing Debian's postgresql package for tests/catalog"; \
	$(call apt-install,postgresql)

# tests/asyncapi renders the AsyncAPI documents in headless Chromium.
# Install Debian's chromium package when it is not on PATH.
.PHONY: chromium
chromium:
	@if command -v chromium >/dev/null; then exit 0; fi; \
	echo "installing Debian's chromium package for tests/asyncapi"; \
	$(call apt-install,chromium)

# The versions this Makefile builds, as tests/versions checks them.
.PHONY: versions
versions:
	@echo "KUBE_VERSION k8s.io/kubernetes $(KUBE_VERSION)"
	@echo "NODE_VERSION k8s.io/kubernetes $(NODE_VERSION)"
	@echo "SERVING_VERSION knative.dev/serving $(SERVING_VERSION)"
	@echo "ADAPTER_VERSION knative.dev/eventing $(ADAPTER_VERSION)"
	@echo "TRAEFIK_VERSION github.com/traefik/traefik/v3 $(TRAEFIK_VERSION)"

.PHONY: binaries
binaries: $(CONTROL_PLANE) $(FUNC) $(ADAPTER)

# Binaries are written under a temporary name first, so an interrupted
# build is never taken for a finished one.
#
# kube-apiserver, kube-controller-manager and etcd share most of their
# packages: one go build of those missing compiles each shared package
# once, where separate builds running at once (make -j) compile them twice.
KUBE_PKGS := kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager etcd=./cmd/etcd
ifneq ($(USER_ASSETS),)
KUBE_PKGS := $(filter kube-controller-manager=%,$(KUBE_PKGS))
endif
$(KUBE_BIN)/kube-apiserver $(KUBE_BIN)/kube-controller-manager $(KUBE_BIN)/etcd &:
	@echo "building kube-apiserver, kube-controller-manager $(KUBE_VERSION) and etcd $(ETCD_VERSION) into $(KUBE_BIN) (once; 20 to 45 minutes on 2 cores)"
	@mkdir -p $(KUBE_BIN)
	rm -rf $(KUBE_BIN)/.build
	pkgs=; for b in $(KUBE_PKGS); do [ -x $(KUBE_BIN)/$${b%%=*} ] || pkgs="$$pkgs $${b#*=}"; done; \
	cd tests && go build -o $(KUBE_BIN)/.build/ $$pkgs
	mv $(KUBE_BIN)/.build/* $(KUBE_BIN)/
	rmdir $(KUBE_BIN)/.build

$(FUNC):
	@echo "building the func CLI $(FUNC_VERSION) into $(@D) (once; about 8 minutes)"
	@mkdir -p $(@D)
	cd tests/tools/func && go build -o $@.tmp knative.dev/func/cmd/func
	mv $@.tmp $@

$(ADAPTER):
	@echo "building Eventing's ApiServerSource adapter $(ADAPTER_VERSION) into $(@D) (once; about 3 minutes)"
	@mkdir -p $(@D)
	cd tests/tools/adapter && go build -o $@.tmp .
	mv $@.tmp $@

# make knative: a real one-node cluster (kubelet, containerd, Knative
# Serving with Traefik, Eventing) with the function deployed by func deploy.
# Its binaries are built from Go modules into $(CACHE), like the tests':
# the node's on the host, the images' static (CGO_ENABLED=0).
NODE_VERSION    := $(KUBE_VERSION)
SERVING_VERSION := $(call version,knative.dev/serving,$(VERSIONS))
TRAEFIK_VERSION := $(call version,github.com/traefik/traefik/v3,$(VERSIONS))
COREDNS_VERSION := $(call version,github.com/coredns/coredns,tests/tools/coredns/go.mod)

NODE_BIN     := $(CACHE)/node-$(NODE_VERSION)
SERVING_BIN  := $(CACHE)/serving-$(SERVING_VERSION)
EVENTING_BIN := $(CACHE)/eventing-$(ADAPTER_VERSION)/images
TRAEFIK      := $(CACHE)/traefik-$(TRAEFIK_VERSION)/traefik
COREDNS      := $(CACHE)/coredns-$(COREDNS_VERSION)/coredns

NODE_CMDS     := kubelet kube-scheduler kube-proxy
# Built from the module proxy, Kubernetes reports version
# v0.0.0-master+$$Format:%H$$, which Knative refuses to run against: set it.
KUBE_MINOR    := $(word 2,$(subst ., ,$(NODE_VERSION)))
KUBE_LDFLAGS  := -X k8s.io/component-base/version.gitVersion=$(NODE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(KUBE_MINOR) \
	-X k8s.io/component-base/version.gitTreeState=clean
SERVING_CMDS  := controller webhook activator autoscaler queue
EVENTING_CMDS := controller webhook apiserver_receive_adapter mtping jobsink requestreply auth_proxy \
	mtchannel_broker broker/ingress broker/filter in_memory/channel_controller in_memory/channel_dispatcher
# go build names each binary after its package's last element.
EVENTING_FILES := $(addprefix $(EVENTING_BIN)/,$(notdir $(EVENTING_CMDS)))

KNATIVE_BINARIES := $(addprefix $(NODE_BIN)/,$(NODE_CMDS)) $(NODE_BIN)/kubectl $(NODE_BIN)/kube-apiserver $(addprefix $(SERVING_BIN)/,$(SERVING_CMDS)) \
	$(EVENTING_FILES) $(EVENTING_BIN)/event_display $(TRAEFIK) $(COREDNS)

.PHONY: knative-binaries
knative-binaries: $(KNATIVE_BINARIES) $(CONTROL_PLANE) $(FUNC)

# build-into DIR MODULE_DIR PKG... [FLAGS]: one go build of the packages
# into DIR, through a temporary folder, so an interrupted build is never
# taken for a finished one.
define build-into
	@mkdir -p $(1)
	rm -rf $(1)/.build
	cd $(2) && go build -trimpath $(4) -o $(1)/.build/ $(3)
	mv $(1)/.build/* $(1)/
	rmdir $(1)/.build
endef

$(addprefix $(NODE_BIN)/,$(NODE_CMDS)) &:
	@echo "building the kubelet, kube-scheduler and kube-proxy $(NODE_VERSION) into $(NODE_BIN) (once; about 10 minutes)"
	$(call build-into,$(NODE_BIN),tests/tools/node,$(addprefix k8s.io/kubernetes/cmd/,$(NODE_CMDS)),-ldflags '$(KUBE_LDFLAGS)')

# The API server of make knative: the tests' (compiled once, in the tests'
# module), with its version set.
$(NODE_BIN)/kube-apiserver:
	@mkdir -p $(@D)
	cd tests && go build -ldflags '$(KUBE_LDFLAGS)' -o $@.tmp k8s.io/kubernetes/cmd/kube-apiserver
	mv $@.tmp $@

$(addprefix $(SERVING_BIN)/,$(SERVING_CMDS)) &:
	@echo "building Knative Serving $(SERVING_VERSION) into $(SERVING_BIN) (once)"
	$(call build-into,$(SERVING_BIN),tests/tools/serving,$(addprefix knative.dev/serving/cmd/,$(SERVING_CMDS)))

$(EVENTING_FILES) &:
	@echo "building Knative Eventing $(ADAPTER_VERSION) into $(EVENTING_BIN) (once)"
	$(call build-into,$(EVENTING_BIN),tests/tools/adapter,$(addprefix knative.dev/eventing/cmd/,$(EVENTING_CMDS)))

# kubectl, for the commands make knative prints; event_display, the sink
# that logs the announcements.
$(NODE_BIN)/kubectl:
	$(call build-into,$(@D),tests/tools/node,k8s.io/kubernetes/cmd/kubectl,-ldflags '$(KUBE_LDFLAGS)')

$(EVENTING_BIN)/event_display:
	$(call build-into,$(@D),tests/tools/adapter,knative.dev/eventing/cmd/event_display)

$(TRAEFIK):
	@echo "building Traefik $(TRAEFIK_VERSION) into $(@D) (once)"
	$(call build-into,$(@D),tests/tools/traefik,github.com/traefik/traefik/v3/cmd/traefik)

$(COREDNS):
	@echo "building CoreDNS $(COREDNS_VERSION) into $(@D) (once)"
	$(call build-into,$(@D),tests/tools/coredns,github.com/coredns/coredns)

# The images' binaries run on no libc of ours: static.
$(addprefix $(SERVING_BIN)/,$(SERVING_CMDS)) $(EVENTING_FILES) $(EVENTING_BIN)/event_display $(TRAEFIK) $(COREDNS): export CGO_ENABLED = 0

# make knative runs as root (containerd, the kubelet, iptables). These are
# Debian's packages it needs; they are installed when missing.
KNATIVE_DEBS := containerd runc containernetworking-plugins iptables nftables conntrack
.PHONY: knative-debs
knative-debs:
	@missing=; for p in $(KNATIVE_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(call apt-install,$$missing); \
	fi

KNATIVE_STATE := .knative
KNATIVE_BIN_FLAGS = -repo $(CURDIR) -kube-bin $(KUBE_BIN) -node-bin $(NODE_BIN) \
	-serving-bin $(SERVING_BIN) -eventing-bin $(EVENTING_BIN) -traefik $(TRAEFIK) -coredns $(COREDNS) \
	-func $(FUNC) -podprobe $(CURDIR)/bin/podprobe -kubectl $(NODE_BIN)/kubectl
KNATIVE_FLAGS = -state $(KNATIVE_STATE) $(KNATIVE_BIN_FLAGS)

.PHONY: knative knative-check knative-down test-knative
knative: knative-check knative-debs $(KNATIVE_BINARIES) $(addprefix $(KUBE_BIN)/,kube-apiserver kube-controller-manager etcd) $(FUNC)
	cd tests && go build -o ../bin/eventmesh-knative ./cmd/knative
	cd tests && CGO_ENABLED=0 go build -o ../bin/podprobe ./cmd/podprobe
	@# func deploy builds the function in the sandbox, which has no way
	@# out: the modules it needs must be in Go's module cache.
	go mod download
	bin/eventmesh-knative start $(KNATIVE_FLAGS)

# What make knative needs, checked before any build. The cluster's ports
# are its sandbox's own: none is taken on the host.
knative-check:
	@[ "$$(id -u)" = 0 ] || { echo "make knative needs root: it creates namespaces and cgroups, and runs containerd and the kubelet"; exit 1; }
	@[ ! -e $(KNATIVE_STATE)/sandbox.json ] || { echo "a cluster of make knative runs here, or was not stopped ($(KNATIVE_STATE)/sandbox.json): make knative-down stops it and removes what is left"; exit 1; }
	@! ip link show emesh-knative >/dev/null 2>&1 || { echo "the host has a link emesh-knative: a cluster of make knative runs from another clone; make knative-down there stops it"; exit 1; }
	@! ip route show | grep -qE '^10\.(96|243)\.' || { echo "the host routes into 10.96.0.0/16 or 10.243.0.0/16, which make knative's sandbox uses: free them first"; ip route show | grep -E '^10\.(96|243)\.'; exit 1; }

# Stops the cluster with the binary that started it (kept in the state
# folder), so that it works when the tree does not build.
knative-down:
	@if [ -x $(KNATIVE_STATE)/eventmesh-knative ]; then \
	  $(KNATIVE_STATE)/eventmesh-knative down -state $(KNATIVE_STATE); \
	else echo "no cluster of make knative was started from here"; fi

# The tests of tests/knative, against the cluster of make knative. make
# test runs that package too, without EVENTMESH_KNATIVE: it skips there.
#
# Then the crash test (tests/cmd/knative) starts a second cluster in a
# sandbox of its own (emesh-crash, eventmesh-crash), kills it in the
# middle of its start, and checks that down leaves nothing of it, and
# leaves what others changed on the host meanwhile.
test-knative:
	cd tests && EVENTMESH_KNATIVE=$(abspath $(KNATIVE_STATE)) go test -count=1 -v -timeout 30m ./knative/
	cd tests && EVENTMESH_KNATIVE_CRASH_FLAGS='$(KNATIVE_BIN_FLAGS)' go test -count=1 -v -timeout 20m -run '^TestCrashThenDown$$' ./cmd/knative/
