package server

import (
	"math"
	"net/url"
	"strconv"
)

// QueryInt reads the integer query parameter name: def when it is absent
// or empty, else a 400 naming the parameter and the allowed range unless
// it is an integer from lo to hi (hi math.MaxInt: no upper bound).
func QueryInt(q url.Values, name string, def, lo, hi int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err == nil && n >= lo && n <= hi {
		return n, nil
	}
	switch {
	case hi != math.MaxInt:
		return def, BadRequest(name + " must be an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi))
	case lo == 0:
		return def, BadRequest(name + " must be a non-negative integer")
	default:
		return def, BadRequest(name + " must be an integer of at least " + strconv.Itoa(lo))
	}
}
