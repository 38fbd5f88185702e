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
// The filter follows Knative's broker (Eventing's eventfilter packages)
// where the API leaves it open. An entry of Filters counts by the first of
// its dialects; an entry the broker cannot use is left out, and an empty
// list, or the negation of such an entry, abstains: the broker lets the
// event through, and NOT keeps it abstaining. The broker's all and any give
// the result of their last entry, in an order that changes as it runs, so
// combinations track the set of results the broker could give (type
// result), of which True, False and Unknown are the sets {passes},
// {fails} and both.
//
// Compile prepares a trigger's filters once; CouldMatch is then cheap enough
// to be called for every EventType of the trigger's broker. Both are pure,
// and a compiled Filter is safe for concurrent use.
package filter
