package rota

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/uni-mail/postvakt/oncall/calendar"
)

// Errors wrapped by NewVersions.
var (
	// ErrVersionOrder reports versions whose From instants are not in
	// strictly increasing order, or a later version without a From.
	ErrVersionOrder = errors.New("versions out of order")
	// ErrUnknownFirst reports a Version.First that is not one of its
	// members.
	ErrUnknownFirst = errors.New("first member is not a member")
)

// Version is what a rota is from an instant on: its Spec (members in duty
// order, turn length, handover weekday, wall time and zone, cover) in
// force from From until the next version's From. The first version has
// no From: it is in force at every instant before the second (its turns
// extend backwards from its anchor as New's do).
//
// A later version's first turn is the one of its own Spec's turns that
// contains From, cut to begin at From; First holds it, and the duty then
// passes in the order of Members from First. The turn of the previous
// version that From falls in ends at From. A change of the rota is a new
// Version whose From lies after every turn that has started, so the
// versions before it answer exactly as they did (docs/oncall.md, "Changing
// the rota"); choosing First is the caller's rule.
type Version struct {
	// ID is the stored version's ID, for display; empty in pure use.
	ID string
	// From is the instant the version takes effect; zero for the first.
	From time.Time
	Spec Spec
	// First is the member who holds the version's first turn; empty means
	// Spec.Members[0] (for the first version: the holder of turn 0 at the
	// anchor, as New has it).
	First string
}

// segment is one version compiled: its grid, the span it is in force
// ([from, next segment's from)), and how its local turn indexes map to the
// rota's global ones and to members.
type segment struct {
	grid
	id   string
	from time.Time // zero for the first segment: in force since ever
	k0   int       // local index of the first turn (the one containing from)
	g0   int       // global index of that turn
	pos  int       // index in members of the holder of turn k0
}

// Rota is a compiled, immutable rota: one or more versions in time order.
// Turns are numbered globally: the first version's turn 0 starts at its
// anchor, and every later version's first turn takes the next number after
// the last turn that started before it, so the numbers of turns before a
// version's From never change when a version is added after them. All
// methods are pure functions of the Rota and their arguments and are safe
// for concurrent use.
type Rota struct {
	name string
	segs []segment
}

// NewVersions compiles a rota's versions, ordered by From (the first with
// a zero From). Every version's Spec must be valid and carry the same Name;
// First, when set, must be one of its Members.
func NewVersions(versions []Version) (*Rota, error) {
	if len(versions) == 0 {
		return nil, fmt.Errorf("rota: versions: %w", ErrRequired)
	}
	r := &Rota{name: versions[0].Spec.Name}
	var errs []error
	for i, v := range versions {
		g, err := compile(v.Spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("version %d: %w", i, err))
			continue
		}
		if g.spec.Name != r.name {
			errs = append(errs, fmt.Errorf("version %d: rota %q: name %q: %w", i, r.name, g.spec.Name, ErrInvalidName))
		}
		s := segment{grid: g, id: v.ID}
		if v.First != "" {
			s.pos = -1
			for j, m := range g.members {
				if m == v.First {
					s.pos = j
				}
			}
			if s.pos < 0 {
				errs = append(errs, fmt.Errorf("version %d: rota %q: first %q: %w", i, r.name, v.First, ErrUnknownFirst))
				continue
			}
		}
		if i > 0 {
			prev := versions[i-1].From
			if v.From.IsZero() || (i > 1 && !v.From.After(prev)) {
				errs = append(errs, fmt.Errorf("version %d: rota %q: from %s: %w", i, r.name, v.From.Format(time.RFC3339), ErrVersionOrder))
				continue
			}
			s.from = v.From
		}
		r.segs = append(r.segs, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Number the turns: each later version's first turn follows the last
	// turn of the previous version that starts before its From.
	for i := range r.segs {
		s := &r.segs[i]
		if i == 0 {
			continue // turn 0 at the anchor, held by members[pos]
		}
		prev := &r.segs[i-1]
		s.k0 = s.turnAt(s.from)
		s.g0 = prev.turnAt(s.from.Add(-time.Nanosecond)) - prev.k0 + prev.g0 + 1
	}
	return r, nil
}

// turnStart returns the instant of the handover that begins local turn k:
// the handover wall time on the anchor date plus k turn lengths, in g's
// zone.
func (g *grid) turnStart(k int) time.Time {
	d := g.anchor.AddDate(0, 0, k*g.days)
	return calendar.At(g.loc, d.Year(), d.Month(), d.Day(), g.hour, g.minute)
}

// turnAt returns the local index of g's turn that contains t.
func (g *grid) turnAt(t time.Time) int {
	lt := t.In(g.loc)
	date := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, time.UTC)
	days := int(date.Sub(g.anchor) / (24 * time.Hour))
	k := floorDiv(days, g.days)
	for t.Before(g.turnStart(k)) {
		k--
	}
	for !t.Before(g.turnStart(k + 1)) {
		k++
	}
	return k
}

// segAt returns the index of the segment in force at t.
func (r *Rota) segAt(t time.Time) int {
	// the first segment i ≥ 1 whose from is after t, minus one
	return sort.Search(len(r.segs)-1, func(i int) bool { return r.segs[i+1].from.After(t) })
}

// segOfTurn returns the index of the segment that holds global turn i.
func (r *Rota) segOfTurn(i int) int {
	return sort.Search(len(r.segs)-1, func(j int) bool { return r.segs[j+1].g0 > i })
}

// Turn returns the turn with the given global index.
func (r *Rota) Turn(index int) Turn {
	n := r.segOfTurn(index)
	s := &r.segs[n]
	k := index - s.g0 + s.k0
	start, end := s.turnStart(k), s.turnStart(k+1)
	if n > 0 && start.Before(s.from) {
		start = s.from
	}
	if n+1 < len(r.segs) && end.After(r.segs[n+1].from) {
		end = r.segs[n+1].from
	}
	return Turn{Index: index, Start: start, End: end, Member: s.members[mod(k-s.k0+s.pos, len(s.members))]}
}

// TurnAt returns the turn that contains t.
func (r *Rota) TurnAt(t time.Time) Turn {
	s := &r.segs[r.segAt(t)]
	return r.Turn(s.turnAt(t) - s.k0 + s.g0)
}

// Name returns the rota's name.
func (r *Rota) Name() string { return r.name }

// Spec returns the Spec of the rota's last version, with defaults applied:
// for a rota of one version, its Spec. The last version may not be in
// force yet; SpecAt says what is in force at an instant.
func (r *Rota) Spec() Spec { return r.segs[len(r.segs)-1].specCopy() }

// SpecAt returns the Spec of the version in force at t.
func (r *Rota) SpecAt(t time.Time) Spec { return r.segs[r.segAt(t)].specCopy() }

func (s *segment) specCopy() Spec {
	c := s.spec
	c.Members = append([]string(nil), s.members...)
	return c
}

// VersionAt returns the version in force at t, with defaults applied to
// its Spec and First filled in.
func (r *Rota) VersionAt(t time.Time) Version { return r.version(r.segAt(t)) }

// Versions returns the rota's versions in time order, as VersionAt has them.
func (r *Rota) Versions() []Version {
	out := make([]Version, len(r.segs))
	for i := range r.segs {
		out[i] = r.version(i)
	}
	return out
}

func (r *Rota) version(i int) Version {
	s := &r.segs[i]
	return Version{ID: s.id, From: s.from, Spec: s.specCopy(), First: s.members[s.pos]}
}

// Location returns the zone of the last version's handover wall time.
func (r *Rota) Location() *time.Location { return r.segs[len(r.segs)-1].loc }

// LocationAt returns the zone of the handover wall time in force at t.
func (r *Rota) LocationAt(t time.Time) *time.Location { return r.segs[r.segAt(t)].loc }

// membersIn lists the members of the versions in force in [from, to): the
// latest version's members in its order, then those of earlier versions
// that it no longer lists, latest first.
func (r *Rota) membersIn(from, to time.Time) []string {
	lo, hi := r.segAt(from), r.segAt(to.Add(-time.Nanosecond))
	if hi < lo {
		hi = lo
	}
	seen := map[string]bool{}
	var out []string
	for i := hi; i >= lo; i-- {
		for _, m := range r.segs[i].members {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}
