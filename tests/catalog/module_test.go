package catalog

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestModuleUnitTests runs the modules' own tests (npm test in backstage/
// and in its workspace events-module/: tsc, then node:test with Backstage
// test backends), so that make test runs them.
func TestModuleUnitTests(t *testing.T) {
	for _, args := range [][]string{{"test"}, {"test", "--workspace", "events-module"}} {
		// Each test of the catalog module starts a catalog: minutes on a busy machine.
		ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
		cmd := exec.CommandContext(ctx, "npm", args...)
		cmd.Dir = Dir()
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("npm %s in %s: %v\n%s", strings.Join(args, " "), Dir(), err, out)
		}
	}
}

// TestPackage packs the two packages of backstage/ (the catalog module and
// the events module) with npm pack, unpacks each tarball beside the
// installed dependencies, and loads it: its default export is a Backstage
// backend feature, its package.json names the one plugin it belongs to,
// and it holds no tests nor dev backend.
func TestPackage(t *testing.T) {
	for _, p := range []struct{ dir, pluginID string }{
		{".", "catalog"},
		{"events-module", "events"},
	} {
		t.Run(p.pluginID, func(t *testing.T) {
			checkPackage(t, filepath.Join(Dir(), p.dir), p.pluginID)
		})
	}
}

func checkPackage(t *testing.T, dir, pluginID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	pack := exec.CommandContext(ctx, "npm", "pack", "--pack-destination", tmp)
	pack.Dir = dir
	out, err := pack.Output()
	if err != nil {
		t.Fatalf("npm pack in %s: %v", dir, err)
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		t.Fatal("npm pack printed no tarball name")
	}
	tarball := filepath.Join(tmp, lines[len(lines)-1])
	// Under backstage/node_modules, so that require finds the dependencies.
	unpacked := filepath.Join(Dir(), "node_modules", ".eventmesh-pack-check-"+pluginID)
	if err := os.MkdirAll(unpacked, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(unpacked) })
	if out, err := exec.CommandContext(ctx, "tar", "-xzf", tarball, "-C", unpacked).CombinedOutput(); err != nil {
		t.Fatalf("unpacking %s: %v\n%s", tarball, err, out)
	}
	pkg := filepath.Join(unpacked, "package")
	for _, name := range []string{"dist/src/index.js", "dist/src/index.d.ts", "config.d.ts", "README.md"} {
		if _, err := os.Stat(filepath.Join(pkg, name)); err != nil {
			t.Errorf("the package has no %s", name)
		}
	}
	for _, name := range []string{"test", "dist/test", "src", "dev", "node_modules", "events-module", "dist/src/events"} {
		if _, err := os.Stat(filepath.Join(pkg, name)); err == nil {
			t.Errorf("the package holds %s/", name)
		}
	}
	data, err := os.ReadFile(filepath.Join(pkg, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Exports   map[string]any `json:"exports"`
		Backstage struct {
			Role     string `json:"role"`
			PluginID string `json:"pluginId"`
		} `json:"backstage"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		t.Fatalf("the package's package.json: %v", err)
	}
	if meta.Backstage.Role != "backend-plugin-module" || meta.Backstage.PluginID != pluginID {
		t.Errorf("backstage metadata: role %q, pluginId %q; want backend-plugin-module of %s", meta.Backstage.Role, meta.Backstage.PluginID, pluginID)
	}
	// One feature per package: no entry point of another plugin's module.
	for name := range meta.Exports {
		if name != "." && name != "./package.json" {
			t.Errorf("the package exports %s", name)
		}
	}
	// As a Backstage backend imports it.
	load := exec.CommandContext(ctx, "node", "-e", `import(require('path').join(process.argv[1], 'dist/src/index.js')).then(m => {
  const feature = m.default.default;
  if (!feature || feature.$$type !== '@backstage/BackendFeature') throw new Error('default export: ' + JSON.stringify(m.default));
  console.log('ok');
})`, pkg)
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("loading the packed module: %v\n%s", err, out)
	}
}
