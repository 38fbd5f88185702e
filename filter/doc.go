// Package filter decides whether a Knative Trigger could deliver events of a
// given EventType to its subscriber.
//
// An EventType does not describe one concrete event: it pins down some
// CloudEvent attributes (always type, sometimes source and others) and leaves
// the rest open. A trigger filter is therefore evaluated in three-valued
// (Kleene) logic: a test on a pinned attribute is True or False, a test on an
// attribute the EventType leaves open is Unknown, and AND, OR and NOT combine
// the three values as usual (False AND Unknown is False, True OR Unknown is
// True, NOT Unknown is Unknown). A trigger could deliver an EventType unless
// its filter evaluates to False.
//
// Compile prepares a trigger's filters once; CouldMatch is then cheap enough
// to be called for every EventType of the trigger's broker. Both are pure,
// and a compiled Filter is safe for concurrent use.
package filter
