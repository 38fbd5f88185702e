// Command bench measures the mesh build at 100, 1 000 and 10 000 triggers
// against a local kube-apiserver, as `make bench` runs it from tests/:
//
//	go run ./bench                       # N = 100, 1000, 10000
//	go run ./bench -n 100,1000 -runs 3   # quicker
//
// The cluster grows cumulatively: each step adds teams (a namespace with
// one Broker, 20 EventTypes and 100 Triggers, each to its own labelled
// Knative Service) until it holds N triggers, so the mesh of the whole
// cluster, GET /v1/getEventMesh with the Backstage reader's token, holds
// exactly the seeded objects (and the two sources rbac/ installs).
//
// For each N it reports the build time through HTTP of the function running
// as a process of its own, its peak RSS, the API requests of one build as
// kube-apiserver counts them, the allocations of a build in process, and
// the floor: the same requests issued raw and all at once. Then the cold
// start of the function process. The table goes to stdout, with Go
// benchmark lines that benchstat reads; progress goes to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/dynamic"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/knative-eventmesh/function/tests/benchmesh"
	"github.com/knative-eventmesh/function/tests/cluster"
)

type options struct {
	ns         []int
	runs       int
	coldRuns   int
	coldN      int
	tokens     int // cluster-wide tokens asking at once, at the largest N
	maxBuilds  int // MESH_MAX_BUILDS of the bounded round
	workers    int
	pageSize   int64
	rbac       string
	cpuProfile string
	memProfile string
}

func main() {
	var o options
	sizes := flag.String("n", "100,1000,10000", "numbers of triggers, increasing, each a multiple of 100")
	flag.IntVar(&o.runs, "runs", 7, "timed mesh builds (and floors) per N")
	flag.IntVar(&o.coldRuns, "cold-runs", 5, "cold starts")
	flag.IntVar(&o.coldN, "cold-n", 1000, "N at which to measure cold starts (skipped if not in -n)")
	flag.IntVar(&o.tokens, "tokens", 10, "different cluster-wide tokens asking for the mesh at once, at the largest N (0: none)")
	flag.IntVar(&o.maxBuilds, "max-builds", 7, "MESH_MAX_BUILDS of the bounded round of -tokens (7: what func.yaml's 384Mi gives)")
	flag.IntVar(&o.workers, "workers", 16, "objects created in parallel while seeding")
	flag.Int64Var(&o.pageSize, "page-size", 2000, "page size of LIST requests (MESH_PAGE_SIZE)")
	flag.StringVar(&o.rbac, "rbac", filepath.Join("..", "rbac"), "the rbac/ kustomization")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of in-process builds at the largest N to this file")
	flag.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile after in-process builds at the largest N to this file (and one before, to FILE.base, for pprof -diff_base)")
	flag.Parse()
	var err error
	if o.runs < 1 {
		fmt.Fprintln(os.Stderr, "bench: -runs must be at least 1")
		os.Exit(2)
	}
	if o.ns, err = parseSizes(*sizes); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -n:", err)
		os.Exit(2)
	}
	// envtest logs through controller-runtime; it has nothing to say here.
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseSizes(s string) ([]int, error) {
	var ns []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || n%benchmesh.TriggersPerUnit != 0 {
			return nil, fmt.Errorf("%q is not a positive multiple of %d", f, benchmesh.TriggersPerUnit)
		}
		if len(ns) > 0 && n <= ns[len(ns)-1] {
			return nil, fmt.Errorf("sizes must increase: %s", s)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// result is what was measured at one N.
type result struct {
	n          int
	seed       time.Duration
	mesh       []time.Duration // through HTTP, function process
	asyncAPI   []time.Duration // GET /v1/asyncapi, the same way
	inProcess  []sample
	floor      []floorRun // all at once
	chained    []floorRun // in the function's order
	floorCalls []string   // names of the floor's calls
	load       string     // /proc/loadavg before the runs
	requests   requests   // of one build
	peakRSS    int64
	bodyBytes  int64 // the gzipped mesh
	// asyncAPIBytes and asyncAPIGzipped are the AsyncAPI document's size,
	// as it is and gzipped.
	asyncAPIBytes, asyncAPIGzipped int64
	// wireBytes and floorWireBytes are what one build and one floor run
	// read from the API server, off the wire.
	wireBytes, floorWireBytes int64
	sources                   int
	tokens                    []tokensRun // at the largest N
	coldReady                 []time.Duration
	coldMesh                  []time.Duration
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func run(ctx context.Context, o options, out io.Writer) (err error) {
	begin := time.Now()
	dir, err := os.MkdirTemp("", "eventmesh-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w (logs kept in %s)", err, dir)
			return
		}
		os.RemoveAll(dir)
	}()

	progress("building the function binary")
	bin, err := buildFunction(ctx, dir)
	if err != nil {
		return err
	}
	progress("starting kube-apiserver, etcd and kube-controller-manager")
	c, err := cluster.Start(ctx, cluster.Options{LogDir: filepath.Join(dir, "cluster")})
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := c.Stop(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	token, err := setupReader(ctx, c, o.rbac)
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(dir, "admin.kubeconfig")
	if err := c.WriteKubeconfig(kubeconfig, nil); err != nil {
		return err
	}
	// The function as a process and the floor reach the API server each
	// through a proxy of its own, which counts the bytes they read.
	processWire, err := newWire(c.Config().Host)
	if err != nil {
		return err
	}
	defer processWire.close()
	floorWire, err := newWire(c.Config().Host)
	if err != nil {
		return err
	}
	defer floorWire.close()
	proxied := c.Config()
	proxied.Host = processWire.URL()
	processKubeconfig := filepath.Join(dir, "proxied.kubeconfig")
	if err := c.WriteKubeconfig(processKubeconfig, proxied); err != nil {
		return err
	}
	adminCfg := c.Config()
	adminCfg.QPS = -1
	dyn, err := dynamic.NewForConfig(adminCfg)
	if err != nil {
		return fmt.Errorf("building the seeding client: %w", err)
	}
	b := &bench{
		o:          o,
		token:      token,
		bin:        bin,
		kubeconfig: processKubeconfig,
		wire:       processWire,
		floorWire:  floorWire,
		logPath:    filepath.Join(dir, "function.log"),
		seeder:     &benchmesh.Seeder{Dyn: dyn, Workers: o.workers},
	}
	if b.counter, err = newRequestCounter(c.Config()); err != nil {
		return err
	}
	floorCfg := c.Config()
	floorCfg.Host = floorWire.URL()
	if b.floor, err = newFloor(ctx, floorCfg, token, o.pageSize); err != nil {
		return err
	}
	if b.inProcess, err = startInProcess(ctx, kubeconfig, o.pageSize); err != nil {
		return err
	}
	if b.tokens, err = newTokens(ctx, c, o.tokens); err != nil {
		return err
	}
	var results []*result
	for _, n := range o.ns {
		r, err := b.measure(ctx, n, n == o.ns[len(o.ns)-1])
		if err != nil {
			return fmt.Errorf("N=%d: %w", n, err)
		}
		results = append(results, r)
	}
	report(out, o, results, time.Since(begin))
	return nil
}

// features is Eventing's config-features, whose default authorization
// mode each build reads.
const features = `
apiVersion: v1
kind: ConfigMap
metadata: {name: config-features, namespace: knative-eventing}
data: {default-authorization-mode: allow-same-namespace}
`

// setupReader applies rbac/ and config-features, and returns a token of the Backstage reader
// once the controller manager has aggregated its ClusterRole.
func setupReader(ctx context.Context, c *cluster.Cluster, rbac string) (string, error) {
	if err := c.InstallRBAC(ctx, rbac); err != nil {
		return "", fmt.Errorf("applying rbac/: %w", err)
	}
	if err := c.Apply(ctx, []byte(features)); err != nil {
		return "", fmt.Errorf("applying config-features: %w", err)
	}
	return c.Token(ctx, "knative-eventing", "eventmesh-reader", 2*time.Hour)
}

// bench holds what the measurements share.
type bench struct {
	o          options
	token      string
	bin        string
	tokens     []string // for the concurrent tokens rounds
	kubeconfig string   // the function process's: through wire
	wire       *wire    // counts what the function process reads
	floorWire  *wire    // counts what the floor reads
	logPath    string
	seeder     *benchmesh.Seeder
	counter    *requestCounter
	floor      *floor
	inProcess  *inProcess
}

// measure grows the cluster to n triggers and measures.
func (b *bench) measure(ctx context.Context, n int, last bool) (*result, error) {
	r := &result{n: n}
	progress("N=%d: seeding", n)
	var err error
	if r.seed, err = b.seeder.Grow(ctx, n); err != nil {
		return nil, err
	}
	progress("N=%d: seeded in %s; checking the mesh", n, r.seed.Round(time.Millisecond))
	m, err := b.inProcess.mesh(ctx, b.token)
	if err != nil {
		return nil, err
	}
	if err := checkMesh(m, n/benchmesh.TriggersPerUnit); err != nil {
		return nil, err
	}
	r.sources = len(m.Sources)

	p, err := startProcess(b.bin, b.kubeconfig, b.logPath, b.o.pageSize)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	if err := p.waitReady(ctx); err != nil {
		return nil, err
	}
	progress("N=%d: %d runs of the function, in process and as a process, and of the floor", n, b.o.runs)
	// One untimed round first: connections, caches, the API server's too.
	if _, err := p.buildMesh(ctx, b.token); err != nil {
		return nil, err
	}
	if _, err := p.build(ctx, asyncAPIPath, b.token); err != nil {
		return nil, err
	}
	if _, err := b.floor.run(ctx, false); err != nil {
		return nil, err
	}
	if _, err := b.inProcess.build(ctx, b.token); err != nil {
		return nil, err
	}
	r.load = loadAverage()
	for _, c := range b.floor.calls {
		r.floorCalls = append(r.floorCalls, c.name)
	}
	// Each run measures all five, in an order that rotates from run to
	// run, so that none always follows the same one.
	steps := []func() error{
		func() error {
			f, err := b.floor.run(ctx, false)
			r.floor = append(r.floor, f)
			return err
		},
		func() error {
			f, err := b.floor.run(ctx, true)
			r.chained = append(r.chained, f)
			return err
		},
		func() error {
			d, err := p.buildMesh(ctx, b.token)
			r.mesh = append(r.mesh, d)
			return err
		},
		func() error {
			s, err := b.inProcess.build(ctx, b.token)
			r.inProcess = append(r.inProcess, s)
			return err
		},
		func() error {
			d, err := p.build(ctx, asyncAPIPath, b.token)
			r.asyncAPI = append(r.asyncAPI, d)
			return err
		},
	}
	for i := range b.o.runs {
		for j := range steps {
			if err := steps[(i+j)%len(steps)](); err != nil {
				return nil, err
			}
		}
	}
	before, err := b.counter.read(ctx)
	if err != nil {
		return nil, err
	}
	wireBefore := b.wire.bytesRead()
	if _, err := p.buildMesh(ctx, b.token); err != nil {
		return nil, err
	}
	r.wireBytes = b.wire.bytesRead() - wireBefore
	after, err := b.counter.read(ctx)
	if err != nil {
		return nil, err
	}
	r.requests = after.sub(before)
	floorBefore := b.floorWire.bytesRead()
	if _, err := b.floor.run(ctx, false); err != nil {
		return nil, err
	}
	r.floorWireBytes = b.floorWire.bytesRead() - floorBefore
	if r.peakRSS, err = p.peakRSS(); err != nil {
		return nil, err
	}
	if _, r.bodyBytes, err = p.get(ctx, meshPath, b.token); err != nil {
		return nil, err
	}
	if _, r.asyncAPIGzipped, err = p.get(ctx, asyncAPIPath, b.token); err != nil {
		return nil, err
	}
	if _, r.asyncAPIBytes, err = p.getEncoded(ctx, asyncAPIPath, b.token, ""); err != nil {
		return nil, err
	}
	p.stop()

	if last {
		if err := b.profile(ctx); err != nil {
			return nil, err
		}
		for _, maxBuilds := range []int{len(b.tokens), b.o.maxBuilds} {
			if len(b.tokens) == 0 {
				break
			}
			progress("N=%d: %d tokens at once, MESH_MAX_BUILDS=%d", n, len(b.tokens), maxBuilds)
			t, err := b.concurrentTokens(ctx, maxBuilds)
			if err != nil {
				return nil, err
			}
			r.tokens = append(r.tokens, t)
		}
	}
	if n == b.o.coldN {
		progress("N=%d: %d cold starts", n, b.o.coldRuns)
		for range b.o.coldRuns {
			ready, mesh, err := b.coldStart(ctx)
			if err != nil {
				return nil, err
			}
			r.coldReady, r.coldMesh = append(r.coldReady, ready), append(r.coldMesh, mesh)
		}
	}
	return r, nil
}

// profile writes the CPU and allocation profiles of in-process builds.
func (b *bench) profile(ctx context.Context) error {
	if b.o.cpuProfile == "" && b.o.memProfile == "" {
		return nil
	}
	progress("profiling %d in-process builds", b.o.runs)
	if b.o.cpuProfile != "" {
		f, err := os.Create(b.o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("starting the CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if b.o.memProfile != "" {
		// The allocation profile counts from the start of the process:
		// a base taken now lets pprof -diff_base show the builds alone.
		if err := writeAllocs(b.o.memProfile + ".base"); err != nil {
			return err
		}
	}
	for range b.o.runs {
		if _, err := b.inProcess.build(ctx, b.token); err != nil {
			return err
		}
	}
	if b.o.memProfile != "" {
		return writeAllocs(b.o.memProfile)
	}
	return nil
}

// writeAllocs writes the allocation profile to path.
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("writing the allocation profile: %w", err)
	}
	return f.Close()
}

// coldStart execs the function and returns the time from exec to the
// first 200 of its readiness probe, and to its first mesh.
func (b *bench) coldStart(ctx context.Context) (time.Duration, time.Duration, error) {
	start := time.Now()
	p, err := startProcess(b.bin, b.kubeconfig, b.logPath, b.o.pageSize)
	if err != nil {
		return 0, 0, err
	}
	defer p.stop()
	if err := p.waitReady(ctx); err != nil {
		return 0, 0, err
	}
	ready := time.Since(start)
	if _, err := p.buildMesh(ctx, b.token); err != nil {
		return 0, 0, err
	}
	return ready, time.Since(start), nil
}

// report prints the table, the targets and the benchmark lines.
func report(out io.Writer, o options, results []*result, took time.Duration) {
	fmt.Fprintf(out, "\nMesh build, GET %s of the whole cluster with the Backstage reader's token\n", meshPath)
	fmt.Fprintf(out, "page size %d, %d runs per N, GOMAXPROCS %d, %d CPUs; cluster grown cumulatively; whole run %s\n",
		o.pageSize, o.runs, runtime.GOMAXPROCS(0), runtime.NumCPU(), took.Round(time.Second))
	fmt.Fprintf(out, "N triggers, each to its own labelled Knative Service; the mesh also holds the %d sources rbac/ installs\n\n", results[0].sources)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "N\tbrokers\teventTypes\tseeded in\tmesh min\tmedian\tmax\tin-process\tfloor\tmesh/floor\tchained floor\tAPI requests\tfloor requests\tAPI bytes\tfloor bytes\talloc/build\tallocs/build\tpeak RSS\tgzipped body\tasyncapi median\tasyncapi/mesh\tasyncapi body\tgzipped\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%.2fx\t%s\t%d\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%.2fx\t%s\t%s\t\n",
			r.n, r.n/benchmesh.TriggersPerUnit, r.n/benchmesh.TriggersPerUnit*benchmesh.EventTypesPerUnit, seconds(r.seed),
			seconds(slices.Min(r.mesh)), seconds(median(r.mesh)), seconds(slices.Max(r.mesh)),
			seconds(median(durations(r.inProcess))), seconds(floorMedian(r.floor)), ratio(r), seconds(floorMedian(r.chained)),
			int(r.requests.serviceAccounts), r.floor[0].requests, kilobytes(r.wireBytes), kilobytes(r.floorWireBytes), megabytes(int64(medianU(r.inProcess, func(s sample) uint64 { return s.bytes }))),
			medianU(r.inProcess, func(s sample) uint64 { return s.allocs }), megabytes(r.peakRSS), kilobytes(r.bodyBytes),
			seconds(median(r.asyncAPI)), asyncAPIRatio(r), kilobytes(r.asyncAPIBytes), kilobytes(r.asyncAPIGzipped))
	}
	tw.Flush()
	fmt.Fprintln(out, "\nmesh: median through HTTP of the function as a process of its own; in-process: median of builds through Handle")
	fmt.Fprintf(out, "asyncapi: median of GET %s through HTTP, as mesh; asyncapi body: the document, as it is and gzipped\n", asyncAPIPath)
	fmt.Fprintln(out, "floor: the same requests raw (bodies read, not decoded), all at once; chained floor: raw, but each list")
	fmt.Fprintln(out, "  after those whose answers the function needs first (discovery before the objects of sources and channels)")
	fmt.Fprintln(out, "API requests: the reader's requests in one build, as API Priority and Fairness dispatched them (discovery included)")
	fmt.Fprintln(out, "API bytes, floor bytes: read from the API server in one build and one floor run, off the wire (TLS and HTTP")
	fmt.Fprintln(out, "  included); alloc/build: in-process, median")
	fmt.Fprintln(out, "\nSlowest floor calls (median of each call, all pages; all at once), and the load average before the runs:")
	for _, r := range results {
		fmt.Fprintf(out, "  N=%d: %s; load %s\n", r.n, slowestCalls(r.floorCalls, r.floor, 4), r.load)
	}
	fmt.Fprintln(out, "\nAPI requests of one build, by verb and resource:")
	for _, r := range results {
		fmt.Fprintf(out, "  N=%d: %s (ServiceAccount requests dispatched by APF: %g)\n", r.n, r.requests, r.requests.serviceAccounts)
	}
	fmt.Fprintln(out, "\nResponse bodies of one build by verb and resource, as kube-apiserver's apiserver_response_sizes counts them (no discovery):")
	for _, r := range results {
		fmt.Fprintf(out, "  N=%d: %s\n", r.n, r.requests.bytesString())
	}
	for _, r := range results {
		if len(r.tokens) > 0 {
			fmt.Fprintf(out, "\n%d different cluster-wide tokens at once at N=%d, each its own build:\n", len(r.tokens[0].took), r.n)
		}
		for _, t := range r.tokens {
			fmt.Fprintf(out, "  %s\n", t)
		}
	}
	for _, r := range results {
		if len(r.coldReady) > 0 {
			fmt.Fprintf(out, "\nCold start at N=%d, %d runs (exec to first 200): ready min %s median %s max %s; mesh min %s median %s max %s\n",
				r.n, len(r.coldReady), millis(slices.Min(r.coldReady)), millis(median(r.coldReady)), millis(slices.Max(r.coldReady)),
				millis(slices.Min(r.coldMesh)), millis(median(r.coldMesh)), millis(slices.Max(r.coldMesh)))
		}
	}
	reportTargets(out, results)
	reportBenchmarks(out, results)
}

// reportTargets shows the figures beside the goals of the issue.
func reportTargets(out io.Writer, results []*result) {
	fmt.Fprintln(out, "\nTargets (a report, not a test):")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	at := func(n int) *result {
		for _, r := range results {
			if r.n == n {
				return r
			}
		}
		return nil
	}
	line := func(target string, ok bool, measured string) {
		verdict := "ok"
		if !ok {
			verdict = "MISSED"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", target, measured, verdict)
	}
	for _, t := range []struct {
		n     int
		limit time.Duration
	}{{1000, 300 * time.Millisecond}, {10000, 3 * time.Second}} {
		r := at(t.n)
		if r == nil {
			fmt.Fprintf(tw, "  N=%d targets\tnot measured\t\n", t.n)
			continue
		}
		line(fmt.Sprintf("N=%d mesh < %s", t.n, seconds(t.limit)), median(r.mesh) < t.limit, seconds(median(r.mesh)))
		line(fmt.Sprintf("N=%d mesh ≤ 1.2x chained floor", t.n), chainedRatio(r) <= 1.2, fmt.Sprintf("%.2fx (chained floor %s)", chainedRatio(r), seconds(floorMedian(r.chained))))
	}
	if r := at(10000); r != nil {
		line("N=10000 asyncapi ≤ 1.3x mesh", asyncAPIRatio(r) <= 1.3, fmt.Sprintf("%.2fx (%s)", asyncAPIRatio(r), seconds(median(r.asyncAPI))))
	}
	if r := at(100); r != nil {
		line("N=100 mesh ≤ 1.3x floor", ratio(r) <= 1.3, fmt.Sprintf("%.2fx (floor %s)", ratio(r), seconds(floorMedian(r.floor))))
	}
	var counts []string
	same := true
	for _, r := range results {
		counts = append(counts, fmt.Sprintf("N=%d: %d", r.n, int(r.requests.serviceAccounts)))
		same = same && int(r.requests.serviceAccounts) == r.floor[0].requests
	}
	line("requests ≤ small constant × subscriber kinds (1 here)", same,
		strings.Join(counts, ", ")+"; equal to the floor's (one per list page)")
	for _, r := range results {
		if len(r.coldReady) > 0 {
			line("cold start to ready < 100 ms", median(r.coldReady) < 100*time.Millisecond, millis(median(r.coldReady)))
			fmt.Fprintf(tw, "  cold start to first mesh (N=%d)\t%s\t\n", r.n, millis(median(r.coldMesh)))
		}
	}
	if r := at(10000); r != nil {
		line("peak RSS at N=10000 < 200 MB", r.peakRSS < 200<<20, megabytes(r.peakRSS))
	} else {
		fmt.Fprintf(tw, "  peak RSS at N=10000\tnot measured\t\n")
	}
	tw.Flush()
}

// reportBenchmarks prints Go benchmark lines, one per run, for benchstat.
func reportBenchmarks(out io.Writer, results []*result) {
	fmt.Fprintf(out, "\ngoos: %s\ngoarch: %s\npkg: github.com/knative-eventmesh/function/tests/bench\n", runtime.GOOS, runtime.GOARCH)
	for _, r := range results {
		for i, s := range r.inProcess {
			fmt.Fprintf(out, "BenchmarkMesh/N=%d\t1\t%d ns/op\t%d B/op\t%d allocs/op\n", r.n, s.d.Nanoseconds(), s.bytes, s.allocs)
			fmt.Fprintf(out, "BenchmarkMeshHTTP/N=%d\t1\t%d ns/op\n", r.n, r.mesh[i].Nanoseconds())
			fmt.Fprintf(out, "BenchmarkAsyncAPIHTTP/N=%d\t1\t%d ns/op\n", r.n, r.asyncAPI[i].Nanoseconds())
			fmt.Fprintf(out, "BenchmarkFloor/N=%d\t1\t%d ns/op\n", r.n, r.floor[i].d.Nanoseconds())
			fmt.Fprintf(out, "BenchmarkFloorChained/N=%d\t1\t%d ns/op\n", r.n, r.chained[i].d.Nanoseconds())
		}
		fmt.Fprintf(out, "BenchmarkMeshHTTP/N=%d\t1\t%d API-requests/op\t%d API-B/op\t%d peak-RSS-B\n", r.n, int(r.requests.serviceAccounts), r.wireBytes, r.peakRSS)
		for i := range r.coldReady {
			fmt.Fprintf(out, "BenchmarkColdStart/ready\t1\t%d ns/op\n", r.coldReady[i].Nanoseconds())
			fmt.Fprintf(out, "BenchmarkColdStart/mesh/N=%d\t1\t%d ns/op\n", r.n, r.coldMesh[i].Nanoseconds())
		}
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianU(ss []sample, f func(sample) uint64) uint64 {
	vs := make([]uint64, len(ss))
	for i, s := range ss {
		vs[i] = f(s)
	}
	slices.Sort(vs)
	return vs[len(vs)/2]
}

func durations(ss []sample) []time.Duration {
	ds := make([]time.Duration, len(ss))
	for i, s := range ss {
		ds[i] = s.d
	}
	return ds
}

// asyncAPIRatio is the median AsyncAPI build over the median mesh build.
func asyncAPIRatio(r *result) float64 {
	return float64(median(r.asyncAPI)) / float64(median(r.mesh))
}

func ratio(r *result) float64 { return float64(median(r.mesh)) / float64(floorMedian(r.floor)) }

func chainedRatio(r *result) float64 {
	return float64(median(r.mesh)) / float64(floorMedian(r.chained))
}

func floorMedian(runs []floorRun) time.Duration {
	ds := make([]time.Duration, len(runs))
	for i, r := range runs {
		ds[i] = r.d
	}
	return median(ds)
}

// slowestCalls names the n calls of the floor with the longest median.
func slowestCalls(names []string, runs []floorRun, n int) string {
	type call struct {
		name string
		d    time.Duration
	}
	var calls []call
	for i := range runs[0].calls {
		ds := make([]time.Duration, len(runs))
		for j, r := range runs {
			ds[j] = r.calls[i]
		}
		calls = append(calls, call{name: names[i], d: median(ds)})
	}
	slices.SortFunc(calls, func(a, b call) int { return int(b.d - a.d) })
	var parts []string
	for _, c := range calls[:min(n, len(calls))] {
		parts = append(parts, c.name+" "+seconds(c.d))
	}
	return strings.Join(parts, ", ")
}

// loadAverage returns the 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

func millis(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

func kilobytes(b int64) string { return fmt.Sprintf("%.0fKB", float64(b)/(1<<10)) }

func megabytes(b int64) string { return fmt.Sprintf("%.1fMB", float64(b)/(1<<20)) }
