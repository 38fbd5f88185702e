package fetch

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// TestTentative checks that a taken list hands on its items and Warnings,
// and that a dropped one is canceled and hands on nothing.
func TestTentative(t *testing.T) {
	list := func(ctx context.Context, warn warnFunc) ([]string, error) {
		warn("item %s left out", "b")
		<-ctx.Done() // runs until canceled, or until taken below
		return []string{"a"}, ctx.Err()
	}
	var got []string
	warn := func(format string, args ...any) { got = append(got, format) }

	dropped := startTentative(context.Background(), list)
	dropped.drop()
	if !errors.Is(dropped.err, context.Canceled) || got != nil {
		t.Errorf("dropped: error %v and Warnings %q, want canceled and none", dropped.err, got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	taken := startTentative(ctx, list)
	cancel() // the list ends
	items, err := taken.take(context.Background(), warn)
	if !slices.Equal(items, []string{"a"}) || !errors.Is(err, context.Canceled) || len(got) != 1 {
		t.Errorf("taken: items %q, error %v, Warnings %q; want [a], canceled and one Warning", items, err, got)
	}

	waiting := startTentative(context.Background(), list)
	defer waiting.drop()
	stop, cancelTake := context.WithCancel(context.Background())
	cancelTake()
	if _, err := waiting.take(stop, warn); !errors.Is(err, context.Canceled) {
		t.Errorf("take of a list that does not end: error %v, want the caller's context's", err)
	}
}
