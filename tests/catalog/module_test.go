package catalog

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestModuleUnitTests runs the module's own tests (npm test in backstage/:
// tsc, then node:test with Backstage test backends), so that make test runs
// them.
func TestModuleUnitTests(t *testing.T) {
	// Each test of the module starts a catalog: minutes on a busy machine.
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "test")
	cmd.Dir = Dir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm test in %s: %v\n%s", Dir(), err, out)
	}
}

// TestPackage packs backstage/ with npm pack, unpacks the tarball beside
// the installed dependencies, and loads it: its default export is a
// Backstage backend feature, and it holds no tests nor dev backend.
func TestPackage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	pack := exec.CommandContext(ctx, "npm", "pack", "--pack-destination", tmp)
	pack.Dir = Dir()
	out, err := pack.Output()
	if err != nil {
		t.Fatalf("npm pack in %s: %v", Dir(), err)
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		t.Fatal("npm pack printed no tarball name")
	}
	tarball := filepath.Join(tmp, lines[len(lines)-1])
	// Under backstage/node_modules, so that require finds the dependencies.
	unpacked := filepath.Join(Dir(), "node_modules", ".eventmesh-pack-check")
	if err := os.MkdirAll(unpacked, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(unpacked) })
	if out, err := exec.CommandContext(ctx, "tar", "-xzf", tarball, "-C", unpacked).CombinedOutput(); err != nil {
		t.Fatalf("unpacking %s: %v\n%s", tarball, err, out)
	}
	for _, name := range []string{"dist/src/index.js", "dist/src/index.d.ts", "dist/src/events/index.js", "dist/src/events/index.d.ts", "config.d.ts", "README.md"} {
		if _, err := os.Stat(filepath.Join(unpacked, "package", name)); err != nil {
			t.Errorf("the package has no %s", name)
		}
	}
	for _, name := range []string{"test", "dist/test", "src", "dev", "node_modules"} {
		if _, err := os.Stat(filepath.Join(unpacked, "package", name)); err == nil {
			t.Errorf("the package holds %s/", name)
		}
	}
	// Both entry points, as a Backstage backend imports them.
	load := exec.CommandContext(ctx, "node", "-e", `const path = require('path');
Promise.all([path.join(process.argv[1], 'dist/src/index.js'), path.join(process.argv[1], 'dist/src/events/index.js')].map(f => import(f))).then(ms => {
  for (const m of ms) {
    const feature = m.default.default;
    if (!feature || feature.$$type !== '@backstage/BackendFeature') throw new Error('default export: ' + JSON.stringify(m.default));
  }
  console.log('ok');
})`, filepath.Join(unpacked, "package"))
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("loading the packed module: %v\n%s", err, out)
	}
}
