package function

import (
	"testing"
	"time"
)

// TestSettingsRanges checks both ends of each setting's range, and the
// first value past each end.
func TestSettingsRanges(t *testing.T) {
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"MESH_TIMEOUT", "1ms", true},
		{"MESH_TIMEOUT", "0s", false},
		{"MESH_TIMEOUT", "29s", true},
		{"MESH_TIMEOUT", "29.001s", false},
		{"MESH_PAGE_SIZE", "1", true},
		{"MESH_PAGE_SIZE", "0", false},
		{"MESH_PAGE_SIZE", "100000", true},
		{"MESH_PAGE_SIZE", "100001", false},
		{"MESH_MAX_BUILDS", "1", true},
		{"MESH_MAX_BUILDS", "0", false},
		{"MESH_MAX_BUILDS", "1000", true},
		{"MESH_MAX_BUILDS", "1001", false},
		{"PUSH_DEBOUNCE", "1ms", true},
		{"PUSH_DEBOUNCE", "999us", false},
		{"PUSH_DEBOUNCE", "10m", true},
		{"PUSH_DEBOUNCE", "10m0.001s", false},
		{"PUSH_CLAIM_TTL", "1s", true},
		{"PUSH_CLAIM_TTL", "999ms", false},
		{"PUSH_CLAIM_TTL", "1h", true},
		{"PUSH_CLAIM_TTL", "1h0m1s", false},
		{"PUSH_INDEX_MAX_BYTES", "1", true},
		{"PUSH_INDEX_MAX_BYTES", "0", false},
		{"PUSH_INDEX_MAX_BYTES", "1048576", true},
		{"PUSH_INDEX_MAX_BYTES", "1048577", false},
	}
	for _, tt := range tests {
		_, err := readSettings(map[string]string{tt.name: tt.value})
		if (err == nil) != tt.ok {
			t.Errorf("%s=%s: error %v, want accepted %v", tt.name, tt.value, err, tt.ok)
		}
	}
}

// TestSlotWaitIsHalfTheTimeout checks that a request waits for a build
// slot at most half its timeout, so that it still has time to build.
func TestSlotWaitIsHalfTheTimeout(t *testing.T) {
	f := startFunction(t, map[string]string{"MESH_TIMEOUT": "10s"})
	if f.slots.wait != 5*time.Second {
		t.Errorf("a request waits %s for a build slot, want half of MESH_TIMEOUT=10s", f.slots.wait)
	}
}
