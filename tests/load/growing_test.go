package load

import "testing"

func TestGrowing(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name string
		rss  []int64
		want bool
	}{
		{"too few rounds", []int64{40 * mb, 60 * mb, 80 * mb, 100 * mb, 120 * mb}, false},
		{"settles", []int64{40 * mb, 60 * mb, 62 * mb, 61 * mb, 63 * mb, 62 * mb, 62 * mb}, false},
		{"high but flat", []int64{90 * mb, 200 * mb, 210 * mb, 205 * mb, 208 * mb, 207 * mb, 209 * mb}, false},
		{"grows every round", []int64{40 * mb, 60 * mb, 70 * mb, 80 * mb, 90 * mb, 100 * mb, 110 * mb}, true},
		{"grows, then a dip still above", []int64{40 * mb, 50 * mb, 55 * mb, 60 * mb, 75 * mb, 70 * mb, 80 * mb}, true},
		{"one spike comes back down", []int64{40 * mb, 60 * mb, 61 * mb, 90 * mb, 60 * mb, 62 * mb, 61 * mb}, false},
	}
	for _, tt := range tests {
		if why, got := growing(tt.rss); got != tt.want {
			t.Errorf("%s: growing = %v (%s), want %v", tt.name, got, why, tt.want)
		}
	}
}
