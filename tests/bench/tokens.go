package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/knative-eventmesh/function/tests/cluster"
)

// tokensRun is one round of many cluster-wide tokens asking for the mesh at
// once, each its own build, with the builds bounded by maxBuilds.
type tokensRun struct {
	maxBuilds int
	peakRSS   int64
	statuses  map[int]int
	took      []time.Duration // sorted
}

// newTokens issues n tokens of the Backstage reader: different tokens
// never share a build.
func newTokens(ctx context.Context, c *cluster.Cluster, n int) ([]string, error) {
	tokens := make([]string, n)
	for i := range tokens {
		var err error
		if tokens[i], err = c.Token(ctx, "knative-eventing", "eventmesh-reader", 2*time.Hour); err != nil {
			return nil, err
		}
	}
	return tokens, nil
}

// concurrentTokens starts a function process with MESH_MAX_BUILDS set to
// maxBuilds, sends one mesh request per token, all at once, and measures.
func (b *bench) concurrentTokens(ctx context.Context, maxBuilds int) (tokensRun, error) {
	r := tokensRun{maxBuilds: maxBuilds, statuses: map[int]int{}}
	p, err := startProcess(b.bin, b.kubeconfig, b.logPath, b.o.pageSize, "MESH_MAX_BUILDS="+strconv.Itoa(maxBuilds))
	if err != nil {
		return r, err
	}
	defer p.stop()
	if err := p.waitReady(ctx); err != nil {
		return r, err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, tok := range b.tokens {
		wg.Go(func() {
			start := time.Now()
			status, _, err := p.get(ctx, meshPath, tok)
			if err != nil {
				status = 0
			}
			mu.Lock()
			defer mu.Unlock()
			r.statuses[status]++
			r.took = append(r.took, time.Since(start))
		})
	}
	wg.Wait()
	slices.Sort(r.took)
	if r.peakRSS, err = p.peakRSS(); err != nil {
		return r, err
	}
	return r, nil
}

// String says how the round went: statuses, latency and peak RSS.
func (r tokensRun) String() string {
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(r.statuses)) {
		name := strconv.Itoa(s)
		if s == 0 {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%d× %s", r.statuses[s], name))
	}
	return fmt.Sprintf("MESH_MAX_BUILDS=%d: %v; first answer %s, median %s, last %s; peak RSS %s",
		r.maxBuilds, parts, seconds(r.took[0]), seconds(r.took[len(r.took)/2]), seconds(r.took[len(r.took)-1]), megabytes(r.peakRSS))
}
