// Package npm installs the Node.js packages the tests run (the published
// Backstage provider in tests/backstage, the Backstage backend of
// backstage/) with `npm ci`, once per package-lock.json.
package npm

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// CacheEnv names npm's download cache; the Makefile sets it to a folder
// outside the clone, so that a second run (or another clone) downloads
// nothing.
const CacheEnv = "EVENTMESH_NPM_CACHE"

// stampFile, in node_modules, records what the last install installed.
const stampFile = ".eventmesh-e2e-installed"

// CI runs `npm ci` with flags in dir unless node_modules holds an install
// it did of the same package.json, package-lock.json and flags. It returns
// how long the install took (zero when there was nothing to do). The
// download cache is $EVENTMESH_NPM_CACHE when set, npm's default
// otherwise.
func CI(ctx context.Context, dir string, flags ...string) (time.Duration, error) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return 0, fmt.Errorf("%s is not on PATH: install Node.js 20 or later with npm", tool)
		}
	}
	h := sha256.New()
	for _, f := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return 0, fmt.Errorf("reading %s: %w", f, err)
		}
		h.Write(b)
	}
	args := append([]string{"ci"}, flags...)
	stamp := fmt.Sprintf("%x npm %s\n", h.Sum(nil), strings.Join(args, " "))
	stampPath := filepath.Join(dir, "node_modules", stampFile)
	if b, err := os.ReadFile(stampPath); err == nil && string(b) == stamp {
		return 0, nil
	}
	if cache := os.Getenv(CacheEnv); cache != "" {
		args = append(args, "--cache", cache, "--prefer-offline")
	}
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Dir = dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		if len(out) > 4000 {
			out = append([]byte("..."), out[len(out)-4000:]...)
		}
		return took, fmt.Errorf("npm %s in %s failed after %s: %v\n"+
			"The npm registry must be reachable (or the packages in npm's cache, %s=%s).\n%s",
			strings.Join(args, " "), dir, took.Round(time.Second), err, CacheEnv, os.Getenv(CacheEnv), out)
	}
	if err := os.WriteFile(stampPath, []byte(stamp), 0o644); err != nil {
		return took, fmt.Errorf("marking node_modules as installed: %w", err)
	}
	return took, nil
}
