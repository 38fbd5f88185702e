// Package load sends many concurrent mesh requests with different tokens
// to the function, running as a process of its own against a real API
// server, and checks every answer against what that token alone may see.
//
// EVENTMESH_SOAK=5m (make soak) repeats the load for that long and checks
// that memory stays bounded.
package load

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/tests/cluster"
	"github.com/knative-eventmesh/function/tests/functest"
)

const (
	teams           = 10
	triggersPerTeam = 100
	typesPerTeam    = 20
	concurrent      = 200
	// maxRSS bounds the function's memory under load: the mesh of 1 000
	// Triggers takes a few MB; this leaves room for 200 requests at once.
	maxRSS = 300 << 20
)

var (
	testCluster     *cluster.Cluster
	adminKubeconfig string
	tokens          [teams]string
)

func TestMain(m *testing.M) {
	cluster.Main(m, cluster.Options{}, func(c *cluster.Cluster) error {
		testCluster = c
		ctx := context.Background()
		var err error
		if adminKubeconfig, err = c.AdminKubeconfig(); err != nil {
			return err
		}
		if err := c.InstallRBAC(ctx, filepath.Join("..", "..", "rbac")); err != nil {
			return err
		}
		g, gctx := errgroup.WithContext(ctx)
		for i := range teams {
			g.Go(func() error { return seedTeam(gctx, c, i) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
		for i := range teams {
			if tokens[i], err = c.NamespaceReaderToken(ctx, team(i), "backstage"); err != nil {
				return err
			}
		}
		return nil
	})
}

func team(i int) string { return fmt.Sprintf("team-%d", i) }

// seedTeam creates a team's namespace with a Broker, EventTypes, and
// Triggers each to a labelled Knative Service of its own.
func seedTeam(ctx context.Context, c *cluster.Cluster, i int) error {
	ns := team(i)
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
	fmt.Fprintf(&b, "---\napiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: b\n  namespace: %s\n", ns)
	for t := range typesPerTeam {
		fmt.Fprintf(&b, "---\napiVersion: eventing.knative.dev/v1beta2\nkind: EventType\nmetadata:\n  name: type-%d\n  namespace: %s\nspec:\n  type: com.%s.type-%d\n  reference:\n    apiVersion: eventing.knative.dev/v1\n    kind: Broker\n    name: b\n", t, ns, ns, t)
	}
	for s := range triggersPerTeam {
		fmt.Fprintf(&b, "---\napiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: sub-%d\n  namespace: %s\n  labels:\n    backstage.io/kubernetes-id: %s-sub-%d\nspec:\n  template:\n    spec:\n      containers:\n      - image: example.com/app\n", s, ns, ns, s)
		fmt.Fprintf(&b, "---\napiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: trigger-%d\n  namespace: %s\nspec:\n  broker: b\n  filter:\n    attributes:\n      type: com.%s.type-%d\n  subscriber:\n    ref:\n      apiVersion: serving.knative.dev/v1\n      kind: Service\n      name: sub-%d\n", s, ns, ns, s%typesPerTeam, s)
	}
	return c.Apply(ctx, []byte(b.String()))
}

// checkOwnMesh checks that a team's mesh holds exactly that team's
// objects, each EventType consumed by the team's own subscribers.
func checkOwnMesh(t *testing.T, i int, body []byte) {
	t.Helper()
	var m mesh.Mesh
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("team %d: %v", i, err)
	}
	if len(m.EventTypes) != typesPerTeam || len(m.Brokers) != 1 {
		t.Fatalf("team %d: %d EventTypes and %d Brokers, want %d and 1", i, len(m.EventTypes), len(m.Brokers), typesPerTeam)
	}
	for _, et := range m.EventTypes {
		if et.Namespace != team(i) || len(et.ConsumedBy) != triggersPerTeam/typesPerTeam {
			t.Fatalf("team %d: EventType %s/%s consumed by %v", i, et.Namespace, et.Name, et.ConsumedBy)
		}
		for _, id := range et.ConsumedBy {
			if !strings.HasPrefix(id, team(i)+"-") {
				t.Fatalf("team %d sees consumer %s of another team", i, id)
			}
		}
	}
}

// result is one answer under load.
type result struct {
	took   time.Duration
	status int
	err    error
}

func TestConcurrentTokens(t *testing.T) {
	fn := functest.StartProcess(t, map[string]string{"KUBECONFIG": adminKubeconfig, "LOG_LEVEL": "warn"})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrent}}
	defer client.CloseIdleConnections()

	// Each token's own mesh, read alone.
	var want [teams][]byte
	for i := range teams {
		status, body, err := get(context.Background(), client, fn.URL, i, i)
		if err != nil || status != http.StatusOK {
			t.Fatalf("team %d alone: %d %v %s", i, status, err, body)
		}
		checkOwnMesh(t, i, body)
		want[i] = body
	}

	soak, _ := time.ParseDuration(os.Getenv("EVENTMESH_SOAK"))
	end := time.Now().Add(soak)
	var all []time.Duration
	var rssAfterFirst int64
	var rounds []int64 // RSS after each round
	for round := 0; round == 0 || time.Now().Before(end); round++ {
		took := loadRound(t, client, fn.URL, &want)
		all = append(all, took...)
		rss, err := fn.PeakRSS()
		if err != nil {
			t.Fatal(err)
		}
		if rss > maxRSS {
			t.Fatalf("round %d: peak RSS %d MB, over %d MB", round, rss>>20, maxRSS>>20)
		}
		if round == 0 {
			rssAfterFirst = rss
		}
		now, err := fn.RSS()
		if err != nil {
			t.Fatal(err)
		}
		rounds = append(rounds, now)
		if t.Failed() {
			return
		}
	}
	if why, ok := growing(rounds); ok {
		t.Errorf("memory grows from round to round: %s", why)
	}
	rss, _ := fn.PeakRSS()
	slices.Sort(all)
	t.Logf("%d requests (%d at a time, %d tokens, 1 in 10 for another team's namespace): p50 %s, p99 %s, max %s; peak RSS %d MB (%d MB after the first round)",
		len(all), concurrent, teams, pct(all, 50), pct(all, 99), all[len(all)-1], rss>>20, rssAfterFirst>>20)
}

// growing reports whether the RSS after each round grew through a soak:
// after the first round (warm-up), every round of the later half stayed
// above the highest of the earlier half, by more than a tenth of it. Memory
// that settles, however high, does not count; below 6 rounds nothing does.
func growing(rss []int64) (string, bool) {
	if len(rss) < 6 {
		return "", false
	}
	rss = rss[1:]
	earlier, later := rss[:len(rss)/2], rss[len(rss)/2:]
	peak, low := slices.Max(earlier), slices.Min(later)
	if low > peak+peak/10 {
		return fmt.Sprintf("at most %d MB in rounds 2-%d, at least %d MB in rounds %d-%d", peak>>20, len(earlier)+1, low>>20, len(earlier)+2, len(rss)+1), true
	}
	return "", false
}

// loadRound sends concurrent requests at once and checks each answer.
// Every tenth asks for the next team's namespace, which the token may not
// read.
func loadRound(t *testing.T, client *http.Client, url string, want *[teams][]byte) []time.Duration {
	t.Helper()
	results := make([]result, concurrent)
	bodies := make([][]byte, concurrent)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for k := range concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			i, ns := k%teams, k%teams
			if k%10 == 9 {
				ns = (i + 1) % teams
			}
			begin := time.Now()
			status, body, err := get(context.Background(), client, url, i, ns)
			results[k], bodies[k] = result{took: time.Since(begin), status: status, err: err}, body
		}()
	}
	close(start)
	wg.Wait()
	took := make([]time.Duration, 0, concurrent)
	for k, r := range results {
		i := k % teams
		switch {
		case r.err != nil:
			t.Errorf("request %d: %v", k, r.err)
		case k%10 == 9:
			other := team((i + 1) % teams)
			if r.status != http.StatusForbidden || strings.Contains(string(bodies[k]), "com."+other) {
				t.Errorf("token of %s reading %s: %d %.200s; want 403 and nothing of %s", team(i), other, r.status, bodies[k], other)
			}
		case r.status != http.StatusOK || string(bodies[k]) != string(want[i]):
			t.Errorf("token of %s: %d, and the mesh differs from its own: %.200s", team(i), r.status, bodies[k])
		}
		took = append(took, r.took)
	}
	return took
}

// get reads the mesh of team ns with the token of team i.
func get(ctx context.Context, client *http.Client, url string, i, ns int) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/namespaces/"+team(ns)+"/v1/getEventMesh", nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tokens[i])
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func pct(sorted []time.Duration, p int) time.Duration {
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}
