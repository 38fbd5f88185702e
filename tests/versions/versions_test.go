package versions

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPinned checks that versions.txt names each module.
func TestPinned(t *testing.T) {
	for _, m := range []string{ServingModule, EventingModule, TraefikModule, KubernetesModule} {
		if !strings.HasPrefix(pinned[m], "v") {
			t.Errorf("versions.txt has no version of %s", m)
		}
	}
}

// goMods are the go.mod files, relative to this folder, that build what
// versions.txt pins. tests/tools/func is left out: its Knative modules
// are the func CLI's own dependencies, not what it installs.
var goMods = []string{
	"../../go.mod",
	"../go.mod",
	"../tools/adapter/go.mod",
	"../tools/serving/go.mod",
	"../tools/traefik/go.mod",
	"../tools/node/go.mod",
}

// TestGoModsAgree checks that each go.mod that requires a module of
// versions.txt requires its version, and that each module is required
// by one of them at least.
func TestGoModsAgree(t *testing.T) {
	required := map[string]bool{}
	for _, path := range goMods {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for module, want := range pinned {
			got, ok := requires(string(data), module)
			if !ok {
				continue
			}
			required[module] = true
			if got != want {
				t.Errorf("%s requires %s %s; versions.txt says %s: change one of them", filepath.Clean(path), module, got, want)
			}
		}
	}
	for module := range pinned {
		if !required[module] {
			t.Errorf("no go.mod of %v requires %s", goMods, module)
		}
	}
}

// requires returns the version of module that a go.mod's require lines
// name.
func requires(gomod, module string) (string, bool) {
	for _, line := range strings.Split(gomod, "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == module && f[1] != "=>" {
			return f[1], true
		}
	}
	return "", false
}

// TestMakefileAgrees checks that the Makefile's versions are these:
// make versions prints them.
func TestMakefileAgrees(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	out, err := exec.Command("make", "--no-print-directory", "-s", "-C", "../..", "versions").CombinedOutput()
	if err != nil {
		t.Fatalf("make versions: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("make versions printed %q, want VARIABLE MODULE VERSION", line)
		}
		seen[f[1]] = true
		if want := pinned[f[1]]; f[2] != want {
			t.Errorf("the Makefile's %s is %s %q; versions.txt says %s", f[0], f[1], f[2], want)
		}
	}
	for module := range pinned {
		if !seen[module] {
			t.Errorf("make versions prints no version of %s", module)
		}
	}
}
