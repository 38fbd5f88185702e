package relate

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/knative-eventmesh/function/objects"
)

// describeTrigger returns a Trigger's filter in words, or "" when it has
// none: spec.filters when set, else spec.filter.attributes, where an empty
// value asks only that the attribute be set.
func describeTrigger(t *objects.Trigger) string {
	if len(t.Filters) > 0 {
		return "events where " + describeAll(t.Filters)
	}
	if len(t.Attributes) == 0 {
		return ""
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(t.Attributes)) {
		if v := t.Attributes[name]; v != "" {
			parts = append(parts, name+" is "+strconv.Quote(v))
		} else {
			parts = append(parts, name+" is set")
		}
	}
	return "events where " + strings.Join(parts, " and ")
}

// describeAll describes filters that must all hold.
func describeAll(filters []objects.Filter) string {
	return join(filters, " and ")
}

// join describes each filter and joins them with sep, each in parentheses
// when there are several.
func join(filters []objects.Filter, sep string) string {
	parts := make([]string, len(filters))
	for i := range filters {
		parts[i] = describeFilter(&filters[i])
		if len(filters) > 1 {
			parts[i] = "(" + parts[i] + ")"
		}
	}
	return strings.Join(parts, sep)
}

// describeFilter describes one entry of spec.filters. As in the broker,
// only the first dialect an entry sets counts, and an entry without one
// lets every event through.
func describeFilter(f *objects.Filter) string {
	switch {
	case len(f.Exact) > 0:
		return describeMap(f.Exact, "is")
	case len(f.Prefix) > 0:
		return describeMap(f.Prefix, "starts with")
	case len(f.Suffix) > 0:
		return describeMap(f.Suffix, "ends with")
	case len(f.All) > 0:
		return join(f.All, " and ")
	case len(f.Any) > 0:
		return join(f.Any, " or ")
	case f.Not != nil:
		return "not (" + describeFilter(f.Not) + ")"
	case f.CESQL != "":
		return "the CESQL expression " + strconv.Quote(f.CESQL) + " holds"
	}
	return "any event"
}

// describeMap describes the attributes of a dialect, sorted by name.
func describeMap(m map[string]string, verb string) string {
	parts := make([]string, 0, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, name+" "+verb+" "+strconv.Quote(m[name]))
	}
	return strings.Join(parts, " and ")
}
