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
	"syscall"
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
//
// Test packages run in parallel, and two of them may install the same
// folder: an exclusive lock on a file beside it makes the second wait for
// the first, then find the install done.
func CI(ctx context.Context, dir string, flags ...string) (time.Duration, error) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return 0, fmt.Errorf("%s is not on PATH: install Node.js 20 or later with npm", tool)
		}
	}
	unlock, err := lock(dir)
	if err != nil {
		return 0, err
	}
	defer unlock()
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
	cmd.Env = append(os.Environ(), nodeHeaders()...)
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

// lock takes an exclusive lock on installing dir, waiting for whoever
// holds it, and returns how to let it go. The lock file is in the
// temporary folder, named after dir's absolute path.
func lock(dir string) (func(), error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(abs))
	name := filepath.Join(os.TempDir(), fmt.Sprintf("eventmesh-npm-%x.lock", sum[:8]))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the install lock of %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking the install of %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

// nodeHeaders returns the environment that points node-gyp at the headers
// of the Node.js that runs: better-sqlite3 finds no prebuilt binary it can
// download here and compiles from source, and node-gyp would otherwise
// download the headers too. A Node.js installed under a prefix (Debian's
// nodejs under /usr) has them in <prefix>/include/node. It returns nothing
// when they are not there, and leaves a nodedir set in the environment.
func nodeHeaders() []string {
	if os.Getenv("npm_config_nodedir") != "" {
		return nil
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil
	}
	if real, err := filepath.EvalSymlinks(node); err == nil {
		node = real
	}
	prefix := filepath.Dir(filepath.Dir(node))
	if _, err := os.Stat(filepath.Join(prefix, "include", "node", "common.gypi")); err != nil {
		return nil
	}
	return []string{"npm_config_nodedir=" + prefix}
}
