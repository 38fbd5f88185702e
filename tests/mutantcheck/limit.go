// Package mutantcheck checks that a mutation run can tell a killed mutant
// from a lived one. make mutate runs gremlins on it before anything else.
//
// Its test checks Limit below its bound and above it, never at it. So
// gremlins must report the boundary mutant of `n > max` (made `n >= max`)
// as LIVED, and the negation (made `n <= max`) as KILLED. A run that
// reports anything else is broken, whatever it says of other packages.
package mutantcheck

// Limit returns n, or max when n is larger.
func Limit(n, max int) int {
	if n > max {
		return max
	}
	return n
}
