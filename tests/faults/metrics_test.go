package faults

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"
)

// readerRequests returns how many requests kube-apiserver has dispatched
// for ServiceAccounts (API Priority and Fairness's "service-accounts" flow
// schema): in this cluster, only the callers' tokens make them.
func readerRequests(t *testing.T) float64 {
	t.Helper()
	client, err := kubernetes.NewForConfig(testCluster.Config())
	if err != nil {
		t.Fatal(err)
	}
	body, err := client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("reading kube-apiserver's metrics: %v", err)
	}
	total, found := 0.0, false
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_flowcontrol_dispatched_requests_total{") || !strings.Contains(line, `flow_schema="service-accounts"`) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		total, found = total+v, true
	}
	if !found {
		t.Fatal("kube-apiserver's metrics count no ServiceAccount requests: is API Priority and Fairness off?")
	}
	return total
}
