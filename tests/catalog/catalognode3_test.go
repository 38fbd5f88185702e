package catalog

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/knative-eventmesh/function/tests/npm"
)

// catalogNode3Dir holds the Backstage set of @backstage/plugin-catalog-node
// 3.x (package.json and its lock; .npmrc says why peers are not resolved).
// It is outside backstage/, so that nothing resolves to backstage/'s
// node_modules, where catalog-node is 2.x.
var catalogNode3Dir = filepath.Join("testdata", "catalog-node-3")

// TestCatalogNode3 runs the catalog module's tests of a whole test backend,
// and of the provider and the processor, against
// @backstage/plugin-catalog-node 3.x and the plugin-catalog-backend that
// depends on it: the peer range admits ^3.0.0. The two packages of
// backstage/ are copied, built, into that set's node_modules, as npm would
// install them.
func TestCatalogNode3(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	took, err := npm.CI(ctx, catalogNode3Dir, "--no-audit", "--no-fund")
	if err != nil {
		t.Fatal(err)
	}
	if took > 0 {
		t.Logf("npm ci of %s took %s", catalogNode3Dir, took.Round(time.Second))
	}
	modules := filepath.Join(catalogNode3Dir, "node_modules", "@knative-eventmesh")
	catalogPkg := filepath.Join(modules, "plugin-catalog-backend-module-knative-event-mesh")
	copies := []struct{ from, to string }{
		{"package.json", "package.json"},
		{"dist/src", "dist/src"},
		{"dist/test", "dist/test"},
		{"test/testdata", "test/testdata"},
	}
	for _, c := range copies {
		copyTree(t, filepath.Join(Dir(), c.from), filepath.Join(catalogPkg, c.to))
	}
	eventsPkg := filepath.Join(modules, "plugin-events-backend-module-knative-event-mesh")
	for _, name := range []string{"package.json", "dist/src"} {
		copyTree(t, filepath.Join(Dir(), "events-module", name), filepath.Join(eventsPkg, name))
	}

	// What the copied module loads: catalog-node 3.x, from this set.
	names := []string{"@backstage/plugin-catalog-node", "@backstage/plugin-catalog-backend", "@backstage/backend-plugin-api", "@backstage/plugin-events-node"}
	// node -e has no script in argv: the names start at argv[1].
	check := exec.CommandContext(ctx, "node", append([]string{"-e", `for (const name of process.argv.slice(1)) {
  const file = require.resolve(name + '/package.json', { paths: [process.cwd()] });
  console.log(name + ' ' + require(file).version + ' ' + file);
}`}, names...)...)
	check.Dir = catalogPkg
	out, err := check.CombinedOutput()
	if err != nil {
		t.Fatalf("resolving the Backstage packages: %v\n%s", err, out)
	}
	t.Logf("resolved:\n%s", out)
	set, err := filepath.Abs(catalogNode3Dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(names) {
		t.Fatalf("resolved %d packages, want %d", len(lines), len(names))
	}
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) != 3 || !strings.HasPrefix(f[2], set+string(filepath.Separator)) {
			t.Fatalf("%q does not resolve within %s", line, set)
		}
		if f[0] == "@backstage/plugin-catalog-node" && !strings.HasPrefix(f[1], "3.") {
			t.Fatalf("plugin-catalog-node is %s, want 3.x", f[1])
		}
	}
	checkPeerRange(ctx, t, catalogPkg, "@backstage/plugin-catalog-node")

	// The module's own test files that need no 1.21.0.
	args := []string{"--test", "--test-force-exit", "--test-concurrency=1"}
	for _, name := range []string{"module", "provider", "processor"} {
		args = append(args, filepath.Join("dist", "test", name+".test.js"))
	}
	run := exec.CommandContext(ctx, "node", args...)
	run.Dir = catalogPkg
	out, err = run.CombinedOutput()
	if err != nil {
		t.Fatalf("the module's tests against plugin-catalog-node 3.x: %v\n%s", err, out)
	}
	summary := regexp.MustCompile(`(?m)^# (tests|pass|fail) \d+$`).FindAll(out, -1)
	t.Logf("node:test: %s", bytes.Join(summary, []byte(", ")))
}

// checkPeerRange checks, with npm's own semver, that the version of name
// that dir resolves satisfies the peer range dir's package.json declares:
// npm does not check it here (legacy-peer-deps).
func checkPeerRange(ctx context.Context, t *testing.T, dir, name string) {
	t.Helper()
	script := `const semver = require('semver');
const name = process.argv[1];
const range = (require('./package.json').peerDependencies || {})[name];
const version = require(require.resolve(name + '/package.json', { paths: [process.cwd()] })).version;
if (!range || !semver.satisfies(version, range)) {
  console.log(name + ' ' + version + ' is outside the peer range ' + range);
  process.exit(1);
}
console.log(name + ' ' + version + ' satisfies the peer range ' + range);`
	check := exec.CommandContext(ctx, "node", "-e", script, name)
	check.Dir = dir
	out, err := check.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}

// copyTree replaces to with a copy of from, a file or a folder.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	if err := os.RemoveAll(to); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(from)
	if err != nil {
		t.Fatalf("%v (is backstage/ built?)", err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if !info.IsDir() {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatalf("copying %s: %v", from, err)
	}
}
