package catalog

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// TestModuleUnitTests runs the module's own tests (npm test in backstage/:
// node:test, with a Backstage test backend), so that make test runs them.
func TestModuleUnitTests(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "test")
	cmd.Dir = Dir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm test in %s: %v\n%s", Dir(), err, out)
	}
}
