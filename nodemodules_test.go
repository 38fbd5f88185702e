package function

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNodeModulesIgnored plants a Go package under backstage/node_modules,
// as an npm package may ship one, and checks that ./... does not reach it:
// go vet and go test never enter node_modules.
func TestNodeModulesIgnored(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	nodeModules := filepath.Join("backstage", "node_modules")
	if _, err := os.Stat(nodeModules); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(nodeModules, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(nodeModules) })
	}
	dir, err := os.MkdirTemp(nodeModules, "planted")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "planted.go"), []byte("package planted\n\nfunc F() { var unused int }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(goCmd, "list", "-e", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list ./...: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "node_modules") {
		t.Errorf("go list ./... lists a package under node_modules:\n%s", out)
	}
}
