// Package mutantcheck checks that a mutation run can tell a killed mutant
// from a lived one. make mutate runs gremlins on it before anything else.
//
// gremlins makes two mutants of `n <= max`. Its test checks Within below
// the bound and above it, never at it. So the boundary mutant (`n < max`),
// which differs only at n == max, is one the test is known to miss: a sound
// run reports it LIVED. The negation (`n > max`) fails the test: a sound
// run reports it KILLED. A run that reports anything else is broken,
// whatever it says of other packages.
package mutantcheck

// Within reports whether n is at most max.
func Within(n, max int) bool {
	return n <= max
}
