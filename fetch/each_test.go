package fetch

import (
	"context"
	"slices"
	"strconv"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestEachRestart checks that a list paged with client-go's pager, whose
// continue token expires, starts again as one whole request, and that the
// caller is told to drop what it kept: each item is kept once.
func TestEachRestart(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e"}
	for _, expireAt := range []string{"", "2", "4"} {
		t.Run("expire at "+expireAt, func(t *testing.T) {
			var asked []string
			expired := false
			page := func(_ context.Context, o metav1.ListOptions) (runtime.Object, error) {
				asked = append(asked, o.Continue)
				if o.Continue != "" && o.Continue == expireAt && !expired {
					expired = true
					return nil, apierrors.NewResourceExpired("the continue token expired")
				}
				start, _ := strconv.Atoi(o.Continue)
				end := len(names)
				if o.Limit > 0 && start+int(o.Limit) < end {
					end = start + int(o.Limit)
				}
				list := &metav1.PartialObjectMetadataList{}
				for _, n := range names[start:end] {
					list.Items = append(list.Items, metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: n}})
				}
				if end < len(names) {
					list.Continue = strconv.Itoa(end)
				}
				return list, nil
			}
			r := &reader{opts: Options{PageSize: 2}, inFlight: make(chan struct{}, MaxInFlight)}
			var kept []string
			restarts := 0
			err := r.each(context.Background(), "list things", page, func(o runtime.Object) error {
				kept = append(kept, o.(*metav1.PartialObjectMetadata).Name)
				return nil
			}, func() { kept = nil; restarts++ })
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(kept, names) {
				t.Errorf("kept %q, want %q", kept, names)
			}
			if want := map[bool]int{false: 0, true: 1}[expireAt != ""]; restarts != want {
				t.Errorf("%d restarts, want %d (asked %q)", restarts, want, asked)
			}
		})
	}
	// An expired first request is no continue token: it fails.
	r := &reader{opts: Options{PageSize: 2}, inFlight: make(chan struct{}, MaxInFlight)}
	err := r.each(context.Background(), "list things", func(context.Context, metav1.ListOptions) (runtime.Object, error) {
		return nil, apierrors.NewResourceExpired("too old")
	}, func(runtime.Object) error { return nil }, func() { t.Error("restarted a list that never started") })
	if !apierrors.IsResourceExpired(err) {
		t.Errorf("error %v, want the 410 of the first request", err)
	}
}
