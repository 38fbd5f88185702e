package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/knative-eventmesh/function/announce"
	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/tests/cluster"
	"github.com/knative-eventmesh/function/tests/watcher"
)

// startPush turns push on for the local cluster: K_SINK pointing at sink,
// or when sink is empty at a local sink that prints what it receives, and
// Eventing's ApiServerSource adapter telling the function about changes.
// It returns a function that stops the adapter.
func startPush(ctx context.Context, c *cluster.Cluster, rbacDir, functionURL, sink string, env map[string]string) (func(), error) {
	if sink == "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		printer, err := cloudevents.NewClientHTTP(cloudevents.WithListener(l))
		if err != nil {
			return nil, err
		}
		go func() { _ = printer.StartReceiver(ctx, printAnnouncement) }()
		sink = "http://" + l.Addr().String()
	}
	env["K_SINK"] = sink
	env["MESH_URL"] = functionURL
	env["CLUSTER_NAME"] = "local"
	env["PUSH_STATE_NAMESPACE"] = "knative-eventing"

	w, err := watcher.Start(ctx, c, filepath.Join(rbacDir, "push.yaml"), functionURL, io.Discard)
	if err != nil {
		return nil, err
	}
	return func() { _ = w.Stop() }, nil
}

// resync notifies the function once it serves, as the PingSource of
// rbac/push.yaml does, for the first announcement.
func resync(ctx context.Context, functionURL string) {
	c, err := cloudevents.NewClientHTTP()
	if err != nil {
		return
	}
	ev := cloudevents.NewEvent()
	ev.SetID("make-run-resync")
	ev.SetType("dev.knative.sources.ping")
	ev.SetSource("/apis/v1/namespaces/knative-eventing/pingsources/eventmesh-resync")
	for range 50 {
		if cloudevents.IsACK(c.Send(cloudevents.ContextWithTarget(ctx, functionURL), ev)) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// printAnnouncement prints a mesh-changed event.
func printAnnouncement(ev cloudevents.Event) {
	var a announce.Announcement
	if err := json.Unmarshal(ev.Data(), &a); err != nil {
		fmt.Printf("\n[sink] %s %s: %v\n", ev.Type(), ev.ID(), err)
		return
	}
	fmt.Printf("\n[sink] received %s (id %s, subject %s)\n", ev.Type(), ev.ID(), ev.Subject())
	fmt.Printf("[sink]   meshdigest %s\n", a.Digest)
	fmt.Printf("[sink]   counts: %d event types, %d brokers, %d subscribables, %d sources\n",
		a.Counts.EventTypes, a.Counts.Brokers, a.Counts.Subscribables, a.Counts.Sources)
	if a.Delta == nil {
		a.Delta = &announce.Delta{}
		fmt.Printf("[sink]   delta left out (deltaOmitted): the mesh's index is too large to keep\n")
	}
	for _, part := range []struct {
		what string
		keys []mesh.Key
	}{{"added", a.Added}, {"removed", a.Removed}, {"updated", a.Updated}} {
		if len(part.keys) == 0 {
			continue
		}
		names := make([]string, len(part.keys))
		for i, k := range part.keys {
			names[i] = k.String()
		}
		fmt.Printf("[sink]   %s: %s\n", part.what, strings.Join(names, ", "))
	}
	fmt.Printf("[sink]   fetch it: curl -H \"Authorization: Bearer $KNATIVE_EVENT_MESH_TOKEN\" %v\n", ev.Extensions()["dataref"])
}
