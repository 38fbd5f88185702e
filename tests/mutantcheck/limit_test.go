package mutantcheck

import "testing"

// The case n == max is left out on purpose: see the package comment.
func TestLimit(t *testing.T) {
	tests := []struct{ n, max, want int }{
		{n: 1, max: 5, want: 1},
		{n: 9, max: 5, want: 5},
	}
	for _, tt := range tests {
		if got := Limit(tt.n, tt.max); got != tt.want {
			t.Errorf("Limit(%d, %d) = %d, want %d", tt.n, tt.max, got, tt.want)
		}
	}
}
