package function

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"golang.org/x/sync/semaphore"
)

// Memory a mesh build may take, for the default of MESH_MAX_BUILDS. make
// bench at 10 000 Triggers: one build alone peaks at 70 MB RSS, ten
// different tokens at once at 233 MB, about 18 MB more per build; 48 MiB
// leaves room for twice that, and for the build's encoding and gzip, which
// run in its slot. idleMemory is about what an idle function takes.
const (
	buildMemory = 48 << 20
	idleMemory  = 32 << 20
	// unlimitedBuilds is the default where no memory limit is set.
	unlimitedBuilds = 8
)

// The cgroup files that hold the memory limit: v2, then v1.
var memoryLimitFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// errBusy means that every build slot stayed taken for as long as a caller
// may wait for one.
var errBusy = errors.New("the function is building as many meshes at once as its memory allows")

// buildSlots bounds the mesh builds under way at once, so that callers
// with different tokens cannot take the function past its memory limit.
type buildSlots struct {
	sem *semaphore.Weighted
	// wait is how long a build waits for a slot before it gives up.
	wait time.Duration
}

func newBuildSlots(n int, wait time.Duration) *buildSlots {
	return &buildSlots{sem: semaphore.NewWeighted(int64(n)), wait: wait}
}

// acquire waits for a slot, at most for the wait and within ctx. It
// returns errBusy when none came in time.
func (s *buildSlots) acquire(ctx context.Context) (release func(), err error) {
	waitCtx, cancel := context.WithTimeout(ctx, s.wait)
	defer cancel()
	if err := s.sem.Acquire(waitCtx, 1); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errBusy
	}
	return func() { s.sem.Release(1) }, nil
}

// defaultMaxBuilds derives the bound on concurrent builds from a memory
// limit in bytes (0: none).
func defaultMaxBuilds(limit int64) int {
	if limit <= 0 {
		return unlimitedBuilds
	}
	return max(1, int((limit-idleMemory)/buildMemory))
}

// memoryLimit returns the memory limit of the function's cgroup, or 0 when
// there is none or it cannot be read.
func memoryLimit(files []string) int64 {
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
		// v2 says "max", v1 a number near 2^63 when there is no limit.
		if err != nil || n >= 1<<60 {
			return 0
		}
		return n
	}
	return 0
}

// goMemoryLimit returns the soft memory limit for the Go runtime under a
// cgroup memory limit in bytes (0: none, and no soft limit either): 90 %
// of it, so that the garbage collector works harder before the container
// is killed, leaving room for memory the runtime does not count.
func goMemoryLimit(limit int64) int64 {
	if limit <= 0 {
		return math.MaxInt64
	}
	return limit - limit/10
}

// setGoMemoryLimit tells the Go runtime the container's memory limit,
// unless GOMEMLIMIT is set in env, and returns the limit it set (0: none).
func setGoMemoryLimit(env map[string]string, files []string) int64 {
	if env["GOMEMLIMIT"] != "" {
		return 0
	}
	limit := goMemoryLimit(memoryLimit(files))
	if limit == math.MaxInt64 {
		return 0
	}
	debug.SetMemoryLimit(limit)
	return limit
}
