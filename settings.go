package function

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Settings are read from the environment (and func's static cfg file) at
// Start.
type Settings struct {
	// Timeout is the deadline of one mesh request (MESH_TIMEOUT). It stays
	// below the 30 s write timeout of func-go's HTTP server, so a slow API
	// server gives a 504 rather than a dropped connection.
	Timeout time.Duration
	// PageSize is the limit of each LIST request (MESH_PAGE_SIZE).
	PageSize int64
	// LogLevel is debug, info, warn or error (LOG_LEVEL).
	LogLevel slog.Level
}

// Defaults of Settings.
const (
	DefaultTimeout  = 20 * time.Second
	DefaultPageSize = 2000
)

// readSettings reads Settings from env, which func-go fills with the
// environment.
func readSettings(env map[string]string) (Settings, error) {
	s := Settings{Timeout: DefaultTimeout, PageSize: DefaultPageSize, LogLevel: slog.LevelInfo}
	if v := env["MESH_TIMEOUT"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 29*time.Second {
			return s, fmt.Errorf("MESH_TIMEOUT=%q: want a duration from 1ms to 29s, such as 20s", v)
		}
		s.Timeout = d
	}
	if v := env["MESH_PAGE_SIZE"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > 100000 {
			return s, fmt.Errorf("MESH_PAGE_SIZE=%q: want a number of objects from 1 to 100000", v)
		}
		s.PageSize = n
	}
	if v := env["LOG_LEVEL"]; v != "" {
		if err := s.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return s, fmt.Errorf("LOG_LEVEL=%q: want debug, info, warn or error", v)
		}
	}
	return s, nil
}
