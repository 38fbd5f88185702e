package mutantcheck

import "testing"

// The case n == max is left out on purpose: see the package comment.
func TestWithin(t *testing.T) {
	tests := []struct {
		n, max int
		want   bool
	}{
		{n: 1, max: 5, want: true},
		{n: 9, max: 5, want: false},
	}
	for _, tt := range tests {
		if got := Within(tt.n, tt.max); got != tt.want {
			t.Errorf("Within(%d, %d) = %v, want %v", tt.n, tt.max, got, tt.want)
		}
	}
}
