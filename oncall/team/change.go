package team

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/oncall/rota"
)

// ErrNotStored reports a change that needs the stored team (a RotaStore)
// when the Team has only the configuration.
var ErrNotStored = errors.New("the team is not stored in a database")

// RotaChange is a change of a rota that takes effect from a stated moment:
// a new version (rota.Version) with the version in force then as its base.
// Empty fields keep the base's value.
type RotaChange struct {
	Rota string
	// Members replaces the members and their order; nil keeps them.
	Members []string
	// Add appends members (or inserts them after After); Remove drops
	// members. Both apply after Members.
	Add    []string
	After  string
	Remove []string
	// Every, HandoverWeekday, HandoverTime, TimeZone and Cover change the
	// turns ("" keeps them). Start anchors the turns of several weeks or
	// days; a change of Every, HandoverWeekday or TimeZone without one
	// anchors them on the effective date.
	Every, HandoverWeekday, HandoverTime, TimeZone, Cover, Start string
	// First is who holds the first turn of the new version; empty keeps
	// the order going (see ChangeRota).
	First string
	// Effective is when the change takes effect; zero means at the next
	// handover (the end of the turn in progress at Now).
	Effective time.Time
	Reason    string
	// DryRun plans the change without storing it.
	DryRun bool
	By     string    // who changes
	Now    time.Time // when
}

// RotaChangeResult says what a change did (or, for a dry run, would do).
type RotaChangeResult struct {
	Version RotaVersion `json:"version"`
	// Base is the version in force before the change took effect.
	Base RotaVersion `json:"base"`
	// Replaced is the scheduled version at the same moment that the change
	// replaces, if any.
	Replaced *RotaVersion `json:"replaced,omitempty"`
	// Turns are the first turns of the new version (before overrides and
	// swaps).
	Turns []rota.Turn `json:"turns"`
	// Added and Removed compare the members with the base's.
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	// Warnings name swaps that the change leaves stale.
	Warnings []string `json:"warnings"`
	DryRun   bool     `json:"dry_run"`
}

// NextHandover returns the end of the turn in progress at now: the
// earliest moment a change of the rota may take effect.
func (t *Team) NextHandover(ctx context.Context, rotaName string, now time.Time) (time.Time, error) {
	st, err := t.rota(ctx, rotaName)
	if err != nil {
		return time.Time{}, err
	}
	return st.r.TurnAt(now).End, nil
}

// HandoverOnOrAfter returns the first handover of the rota at or after t.
func (t *Team) HandoverOnOrAfter(ctx context.Context, rotaName string, at time.Time) (time.Time, error) {
	st, err := t.rota(ctx, rotaName)
	if err != nil {
		return time.Time{}, err
	}
	turn := st.r.TurnAt(at)
	if turn.Start.Equal(at) {
		return at, nil
	}
	return turn.End, nil
}

// ChangeRota adds a version to a rota, effective from c.Effective (default
// the next handover), following the rules of docs/oncall.md ("Changing
// the rota"):
//
//   - Turns already started are never rewritten: the moment must not be
//     before the end of the turn in progress at c.Now. (To relieve the
//     person on call now, add an override.)
//   - A change is planned on the version in force at its moment. One at
//     the same moment as a scheduled change replaces it (building on it);
//     a change before a scheduled one is refused until that one is
//     cancelled, since the later one was planned on what is there now.
//   - Unless c.First names who takes the first new turn, the order goes
//     on: the member whose turn it would have been by the base version
//     keeps it, or, if the change removes them, the next in the base
//     order who stays; failing both, the first of the new order.
//
// Swaps of turns after the moment whose holders the change alters are
// named in the result's warnings (they no longer apply; CheckChanges
// reports them).
func (t *Team) ChangeRota(ctx context.Context, c RotaChange) (RotaChangeResult, error) {
	if t.rs == nil {
		return RotaChangeResult{}, ErrNotStored
	}
	var res RotaChangeResult
	err := t.change(ctx, c.Now, func(sn *snapshot) (TeamWrite, error) {
		var w TeamWrite
		var err error
		res, w, err = t.planChange(ctx, sn, c)
		return w, err
	}, c.DryRun)
	if err == nil && !c.DryRun {
		res.Version.ID = t.storedID(c.Rota, res.Version.From)
	}
	return res, err
}

// change plans a write on the current snapshot and makes it (retry), with
// the configured members and rotas not stored yet stored in the same write
// (a change made with the CLI before the server ever ran): a change that
// fails stores nothing.
func (t *Team) change(ctx context.Context, now time.Time, plan func(sn *snapshot) (TeamWrite, error), dryRun bool) error {
	return t.retry(ctx, func(sn *snapshot) (TeamWrite, error) {
		w, err := plan(sn)
		if err != nil {
			return w, err
		}
		return t.withSeed(sn, w, now), nil
	}, dryRun)
}

// withSeed adds to w the configured members and rotas that sn has not
// stored and w does not write.
func (t *Team) withSeed(sn *snapshot, w TeamWrite, now time.Time) TeamWrite {
	var seed TeamWrite
	for _, m := range t.cfg().spec.Members {
		if _, ok := sn.storedMember(m.ID); !ok && !slices.ContainsFunc(w.Members, func(r MemberRecord) bool { return r.ID == m.ID }) {
			seed.Members = append(seed.Members, MemberRecord{Member: m, ConfigHash: memberHash(m), CreatedAt: now, CreatedBy: "config", UpdatedAt: now, UpdatedBy: "config"})
		}
	}
	for _, name := range sn.names {
		st := sn.rotas[name]
		if st.stored || slices.ContainsFunc(w.Rotas, func(r RotaRecord) bool { return r.Name == name }) {
			continue
		}
		spec := st.r.Spec()
		seed.Rotas = append(seed.Rotas, RotaRecord{Name: name, ConfigHash: specHash(spec), CreatedAt: now, CreatedBy: "config"})
		seed.Versions = append(seed.Versions, RotaVersion{Rota: name, Spec: spec, First: spec.Members[0],
			Reason: "configuration (oncall.rotas)", CreatedAt: now, CreatedBy: "config"})
	}
	w.Members = append(seed.Members, w.Members...)
	w.Rotas = append(seed.Rotas, w.Rotas...)
	w.Versions = append(seed.Versions, w.Versions...)
	return w
}

// retry plans a write on the current snapshot and makes it, planning once
// more when another writer moved the revision meanwhile.
func (t *Team) retry(ctx context.Context, plan func(sn *snapshot) (TeamWrite, error), dryRun bool) error {
	for attempt := 0; ; attempt++ {
		sn, err := t.refresh(ctx)
		if err != nil {
			return err
		}
		w, err := plan(sn)
		if err != nil || dryRun {
			return err
		}
		w.Revision = sn.rev
		err = t.rs.WriteTeam(ctx, w)
		if errors.Is(err, ErrConflict) && attempt < 2 {
			continue
		}
		if err != nil {
			return err
		}
		_, err = t.refresh(ctx)
		return err
	}
}

func (t *Team) planChange(ctx context.Context, sn *snapshot, c RotaChange) (RotaChangeResult, TeamWrite, error) {
	var w TeamWrite
	st, err := sn.rota(c.Rota)
	if err != nil {
		return RotaChangeResult{}, w, err
	}
	earliest := st.r.TurnAt(c.Now).End
	eff := c.Effective
	if eff.IsZero() {
		eff = earliest
	}
	loc := st.r.LocationAt(c.Now)
	if eff.Before(earliest) {
		cur := st.r.TurnAt(c.Now)
		return RotaChangeResult{}, w, fmt.Errorf("%w: effective %s is inside the turn in progress (%s, %s – %s): turns that have started are never rewritten; "+
			"give a moment from %s on, or add an override to relieve %s now",
			ErrInvalid, fmtAt(eff, loc), cur.Member, fmtAt(cur.Start, loc), fmtAt(cur.End, loc), fmtAt(earliest, loc), cur.Member)
	}
	var replaced *RotaVersion
	for i, v := range st.versions {
		if i == 0 || !st.stored {
			continue
		}
		switch {
		case v.From.After(eff):
			return RotaChangeResult{}, w, fmt.Errorf("%w: change %s of %s takes effect later, at %s, and was planned on the rota as it is now: "+
				"cancel it first, or give a moment from %s on", ErrInvalid, v.ID, st.name, fmtAt(v.From, loc), fmtAt(v.From, loc))
		case v.From.Equal(eff):
			v := v
			replaced = &v
		}
	}
	baseVersion := st.r.VersionAt(eff)
	base := baseVersion.Spec
	spec, err := applyChange(base, c, eff)
	if err != nil {
		return RotaChangeResult{}, w, err
	}
	for _, m := range spec.Members {
		if err := sn.live(m); err != nil {
			return RotaChangeResult{}, w, err
		}
	}
	if spec.Cover != "" && t.cfg().cals[spec.Cover] == nil {
		return RotaChangeResult{}, w, fmt.Errorf("%w: cover %q: no such calendar (oncall.calendars)", ErrInvalid, spec.Cover)
	}
	if _, err := rota.New(spec); err != nil {
		return RotaChangeResult{}, w, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	first := c.First
	if first != "" && !slices.Contains(spec.Members, first) {
		return RotaChangeResult{}, w, fmt.Errorf("%w: first %q is not a member of the new order (%s)", ErrInvalid, first, quoteList(spec.Members))
	}
	if first == "" {
		first = continueOrder(st.r.TurnAt(eff).Member, base.Members, spec.Members)
	}
	if replaced == nil && first == st.r.TurnAt(eff).Member && sameSpec(spec, base) {
		return RotaChangeResult{}, w, fmt.Errorf("%w: the change leaves %s as it is from %s", ErrInvalid, st.name, fmtAt(eff, loc))
	}
	nv := RotaVersion{Rota: st.name, From: eff, Spec: spec, First: first, Reason: c.Reason, CreatedAt: c.Now, CreatedBy: c.By}
	var vs []rota.Version
	for i, v := range st.versions {
		if replaced != nil && v.ID == replaced.ID {
			continue
		}
		from := v.From
		if i == 0 {
			from = time.Time{}
		}
		vs = append(vs, rota.Version{ID: v.ID, From: from, Spec: v.Spec, First: v.First})
	}
	vs = append(vs, rota.Version{From: eff, Spec: spec, First: first})
	next, err := rota.NewVersions(vs)
	if err != nil {
		return RotaChangeResult{}, w, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	res := RotaChangeResult{Version: nv, Base: RotaVersion{ID: baseVersion.ID, Rota: st.name, From: baseVersion.From, Spec: base, First: baseVersion.First},
		Replaced: replaced, DryRun: c.DryRun, Added: []string{}, Removed: []string{}, Warnings: []string{}}
	for _, m := range spec.Members {
		if !slices.Contains(base.Members, m) {
			res.Added = append(res.Added, m)
		}
	}
	for _, m := range base.Members {
		if !slices.Contains(spec.Members, m) {
			res.Removed = append(res.Removed, m)
		}
	}
	turn := next.TurnAt(eff)
	for range max(len(spec.Members), 4) {
		res.Turns = append(res.Turns, turn)
		turn = next.Turn(turn.Index + 1)
	}
	if t.store != nil {
		if swaps, err := t.store.ListSwaps(ctx, st.name); err == nil {
			for _, s := range swaps {
				if s.State != rota.SwapAccepted && s.State != rota.SwapRequested {
					continue
				}
				for _, i := range []int{s.TurnA, s.TurnB} {
					a, b := st.r.Turn(i), next.Turn(i)
					if !b.Start.Before(eff) && (a.Member != b.Member || !a.Start.Equal(b.Start)) {
						res.Warnings = append(res.Warnings, fmt.Sprintf("swap %s (%s ⇄ %s, %s) no longer matches the rota: turn %d changes", s.ID, s.Requester, s.Counterpart, s.State, i))
						break
					}
				}
			}
		}
	}
	w.Versions = append(w.Versions, nv)
	if replaced != nil {
		w.Cancel, w.CancelledAt, w.CancelledBy = []string{replaced.ID}, c.Now, c.By
	}
	return res, w, nil
}

// storedID is the ID of the stored version of a rota in force from from.
func (t *Team) storedID(rotaName string, from time.Time) string {
	if st, ok := t.current().rotas[rotaName]; ok {
		for _, v := range st.versions {
			if v.From.Equal(from) {
				return v.ID
			}
		}
	}
	return ""
}

// applyChange is base with c's fields, for a change effective at eff.
func applyChange(base rota.Spec, c RotaChange, eff time.Time) (rota.Spec, error) {
	s := base
	s.Members = slices.Clone(base.Members)
	if c.Members != nil {
		s.Members = slices.Clone(c.Members)
	}
	for _, m := range c.Add {
		if slices.Contains(s.Members, m) {
			return s, fmt.Errorf("%w: %q is already a member of %s", ErrInvalid, m, base.Name)
		}
	}
	if len(c.Add) > 0 {
		at := len(s.Members)
		if c.After != "" {
			i := slices.Index(s.Members, c.After)
			if i < 0 {
				return s, fmt.Errorf("%w: after %q: not a member (%s)", ErrInvalid, c.After, quoteList(s.Members))
			}
			at = i + 1
		}
		s.Members = slices.Insert(s.Members, at, c.Add...)
	}
	for _, m := range c.Remove {
		i := slices.Index(s.Members, m)
		if i < 0 {
			return s, fmt.Errorf("%w: remove %q: not a member of %s (%s)", ErrInvalid, m, base.Name, quoteList(s.Members))
		}
		s.Members = slices.Delete(s.Members, i, i+1)
	}
	if len(s.Members) == 0 {
		return s, fmt.Errorf("%w: %s would have no members", ErrInvalid, base.Name)
	}
	regrid := false
	set := func(field *string, v string, grid bool) {
		if v != "" && v != *field {
			*field = v
			regrid = regrid || grid
		}
	}
	set(&s.Every, c.Every, true)
	set(&s.HandoverWeekday, c.HandoverWeekday, true)
	set(&s.HandoverTime, c.HandoverTime, false)
	set(&s.TimeZone, c.TimeZone, true)
	if c.Cover != "" {
		s.Cover = c.Cover
		if c.Cover == "-" {
			s.Cover = ""
		}
	}
	switch {
	case c.Start != "":
		s.Start = c.Start
	case regrid:
		if loc, err := time.LoadLocation(s.TimeZone); err == nil {
			s.Start = eff.In(loc).Format(time.DateOnly)
		}
	}
	return s, nil
}

// continueOrder is who holds the first turn of a new order when nobody is
// named: due, whose turn it is by the old order, if they stay; else the
// next in the old order who stays; else the first of the new order.
func continueOrder(due string, old, next []string) string {
	if slices.Contains(next, due) {
		return due
	}
	if i := slices.Index(old, due); i >= 0 {
		for k := 1; k < len(old); k++ {
			if m := old[(i+k)%len(old)]; slices.Contains(next, m) {
				return m
			}
		}
	}
	return next[0]
}

func sameSpec(a, b rota.Spec) bool {
	ra, errA := rota.New(a)
	rb, errB := rota.New(b)
	if errA != nil || errB != nil {
		return false
	}
	return specHash(ra.Spec()) == specHash(rb.Spec())
}

func fmtAt(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// CancelRotaChange cancels a version that has not taken effect at now.
func (t *Team) CancelRotaChange(ctx context.Context, rotaName, id, by string, now time.Time) (RotaVersion, error) {
	if t.rs == nil {
		return RotaVersion{}, ErrNotStored
	}
	var out RotaVersion
	err := t.change(ctx, now, func(sn *snapshot) (TeamWrite, error) {
		st, err := sn.rota(rotaName)
		if err != nil {
			return TeamWrite{}, err
		}
		for i, v := range st.versions {
			if v.ID != id || !st.stored {
				continue
			}
			if i == 0 || !v.From.After(now) {
				return TeamWrite{}, fmt.Errorf("%w: change %s of %s took effect at %s: it is history; make a new change instead",
					ErrState, id, rotaName, fmtAt(v.From, st.r.LocationAt(v.From)))
			}
			out = v
			out.CancelledAt, out.CancelledBy = now, by
			return TeamWrite{Cancel: []string{id}, CancelledAt: now, CancelledBy: by}, nil
		}
		return TeamWrite{}, fmt.Errorf("%w: change %q of %s (scheduled: %s)", ErrNotFound, id, rotaName, quoteList(scheduled(st, now)))
	}, false)
	return out, err
}

func scheduled(st *rotaState, now time.Time) []string {
	var ids []string
	for i, v := range st.versions {
		if i > 0 && v.From.After(now) {
			ids = append(ids, v.ID)
		}
	}
	return ids
}

// RotaVersions lists every version of a rota, cancelled ones too, by
// creation.
func (t *Team) RotaVersions(ctx context.Context, rotaName string) ([]RotaVersion, error) {
	st, err := t.rota(ctx, rotaName)
	if err != nil {
		return nil, err
	}
	if t.rs == nil || !st.stored {
		return st.versions, nil
	}
	vs, err := t.rs.RotaVersions(ctx, rotaName)
	if err != nil {
		return nil, err
	}
	return vs, nil
}

// CreateRota stores a new rota. Its first turn starts at the first
// handover on or after spec.Start, which must not be before now's date.
func (t *Team) CreateRota(ctx context.Context, spec rota.Spec, reason, by string, now time.Time) (RotaVersion, error) {
	if t.rs == nil {
		return RotaVersion{}, ErrNotStored
	}
	r, err := rota.New(spec)
	if err != nil {
		return RotaVersion{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if first := r.Turn(0).Start; first.Before(now) {
		return RotaVersion{}, fmt.Errorf("%w: rota %q would have begun at %s, in the past: give a start from today on", ErrInvalid, spec.Name, fmtAt(first, r.Location()))
	}
	spec = r.Spec()
	v := RotaVersion{Rota: spec.Name, Spec: spec, First: spec.Members[0], Reason: reason, CreatedAt: now, CreatedBy: by}
	err = t.change(ctx, now, func(sn *snapshot) (TeamWrite, error) {
		if _, ok := sn.rotas[spec.Name]; ok {
			return TeamWrite{}, fmt.Errorf("%w: rota %q exists", ErrInvalid, spec.Name)
		}
		for _, m := range spec.Members {
			if err := sn.live(m); err != nil {
				return TeamWrite{}, err
			}
		}
		if spec.Cover != "" && t.cfg().cals[spec.Cover] == nil {
			return TeamWrite{}, fmt.Errorf("%w: cover %q: no such calendar (oncall.calendars)", ErrInvalid, spec.Cover)
		}
		return TeamWrite{Rotas: []RotaRecord{{Name: spec.Name, CreatedAt: now, CreatedBy: by}}, Versions: []RotaVersion{v}}, nil
	}, false)
	if err == nil {
		v.ID = t.storedID(spec.Name, v.From)
	}
	return v, err
}

// MemberChange adds or edits a member; empty fields of an edit keep their
// value ("-" empties an optional field).
type MemberChange struct {
	rota.Member
	By  string
	Now time.Time
}

// AddMember stores a new member. The ID is the stable key of rotas,
// overrides and swaps: letters, digits, '.', '-' and '_', at most 64.
func (t *Team) AddMember(ctx context.Context, c MemberChange) (MemberRecord, error) {
	if t.rs == nil {
		return MemberRecord{}, ErrNotStored
	}
	if err := validID(c.ID); err != nil {
		return MemberRecord{}, err
	}
	rec := MemberRecord{Member: c.Member, CreatedAt: c.Now, CreatedBy: c.By, UpdatedAt: c.Now, UpdatedBy: c.By}
	if err := checkMember(rec.Member); err != nil {
		return MemberRecord{}, err
	}
	err := t.change(ctx, c.Now, func(sn *snapshot) (TeamWrite, error) {
		if old, ok := sn.members[c.ID]; ok {
			if old.RemovedAt.IsZero() {
				return TeamWrite{}, fmt.Errorf("%w: member %q exists", ErrInvalid, c.ID)
			}
			rec.CreatedAt, rec.CreatedBy, rec.ConfigHash = old.CreatedAt, old.CreatedBy, old.ConfigHash
		}
		return TeamWrite{Members: []MemberRecord{rec}}, nil
	}, false)
	return rec, err
}

// UpdateMember edits a current member's details (not the ID).
func (t *Team) UpdateMember(ctx context.Context, c MemberChange) (MemberRecord, error) {
	if t.rs == nil {
		return MemberRecord{}, ErrNotStored
	}
	var rec MemberRecord
	err := t.change(ctx, c.Now, func(sn *snapshot) (TeamWrite, error) {
		if err := sn.live(c.ID); err != nil {
			return TeamWrite{}, err
		}
		rec = sn.members[c.ID]
		if rec.CreatedAt.IsZero() {
			rec.CreatedAt, rec.CreatedBy = c.Now, c.By
		}
		set := func(f *string, v string) {
			switch v {
			case "":
			case "-":
				*f = ""
			default:
				*f = v
			}
		}
		set(&rec.Name, c.Name)
		set(&rec.Email, c.Email)
		set(&rec.SlackID, c.SlackID)
		set(&rec.Phone, c.Phone)
		set(&rec.TimeZone, c.TimeZone)
		rec.UpdatedAt, rec.UpdatedBy = c.Now, c.By
		if err := checkMember(rec.Member); err != nil {
			return TeamWrite{}, err
		}
		return TeamWrite{Members: []MemberRecord{rec}}, nil
	}, false)
	return rec, err
}

// RemoveMember removes a member who is in no rota version in force at
// now or later and holds no override that has not ended; the record of
// their past shifts keeps their name.
func (t *Team) RemoveMember(ctx context.Context, id, by string, now time.Time) (MemberRecord, error) {
	if t.rs == nil {
		return MemberRecord{}, ErrNotStored
	}
	// An override not ended yet would page someone no longer in the team.
	if sn, err := t.refresh(ctx); err == nil && t.store != nil {
		for _, name := range sn.names {
			ovs, err := t.store.ListOverrides(ctx, name)
			if err != nil {
				return MemberRecord{}, err
			}
			for _, o := range ovs {
				if o.Member == id && o.End.After(now) {
					return MemberRecord{}, fmt.Errorf("%w: %s holds override %s in %s until %s: remove it first", ErrInvalid, id, o.ID, name,
						fmtAt(o.End, sn.rotas[name].r.LocationAt(o.End)))
				}
			}
		}
	}
	var rec MemberRecord
	err := t.change(ctx, now, func(sn *snapshot) (TeamWrite, error) {
		if err := sn.live(id); err != nil {
			return TeamWrite{}, err
		}
		for _, name := range sn.names {
			st := sn.rotas[name]
			for i, v := range st.r.Versions() {
				last := i == len(st.r.Versions())-1
				if (last || st.r.Versions()[i+1].From.After(now)) && slices.Contains(v.Spec.Members, id) {
					return TeamWrite{}, fmt.Errorf("%w: %s is a member of %s (from %s): remove them from the rota first "+
						"(postvakt oncall rota change --rota %s --remove %s)", ErrInvalid, id, name, versionFrom(v, st.r), name, id)
				}
			}
		}
		rec = sn.members[id]
		if rec.CreatedAt.IsZero() {
			rec.CreatedAt, rec.CreatedBy = now, by
		}
		rec.RemovedAt, rec.RemovedBy, rec.UpdatedAt, rec.UpdatedBy = now, by, now, by
		return TeamWrite{Members: []MemberRecord{rec}}, nil
	}, false)
	return rec, err
}

func versionFrom(v rota.Version, r *rota.Rota) string {
	if v.From.IsZero() {
		return "the start"
	}
	return fmtAt(v.From, r.LocationAt(v.From))
}

func validID(id string) error {
	if id == "" || len(id) > 64 || strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_')
	}) >= 0 {
		return fmt.Errorf("%w: member id %q: letters, digits, '.', '-' and '_', at most 64", ErrInvalid, id)
	}
	return nil
}

func checkMember(m rota.Member) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if m.Email != "" {
		if a, err := mail.ParseAddress(m.Email); err != nil || a.Address != m.Email {
			return fmt.Errorf("%w: member %q: email %q is not an address", ErrInvalid, m.ID, m.Email)
		}
	}
	if strings.ContainsFunc(m.Name+m.SlackID+m.Phone, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("%w: member %q: control characters", ErrInvalid, m.ID)
	}
	return nil
}

// ConfigChange is what applying the configuration does: the lines a
// person reads.
type ConfigChange struct {
	Lines []string
}

// ApplyOptions tune ApplyConfig.
type ApplyOptions struct {
	// SeedOnly stores what is not stored yet and changes nothing stored.
	SeedOnly bool
	// Effective is when changed rotas take effect; zero: each rota's next
	// handover.
	Effective time.Time
	DryRun    bool
	By        string
	Now       time.Time
}

// ApplyConfig brings the stored team in line with the configuration, as
// docs/oncall.md ("The rota as data") says:
//
//   - a configured member or rota not stored yet is stored (a rota with
//     its configured Spec as its first version: the seed);
//   - a configured member whose configuration changed since it was last
//     applied is stored as configured;
//   - a configured rota whose configuration changed since it was last
//     applied gets a new version with the configured members, order and
//     turns, effective from o.Effective or its next handover, as
//     ChangeRota makes it; an unchanged configuration changes nothing,
//     whatever was changed at run time since;
//   - members and rotas the configuration no longer lists are kept.
func (t *Team) ApplyConfig(ctx context.Context, o ApplyOptions) (ConfigChange, error) {
	if t.rs == nil {
		return ConfigChange{}, ErrNotStored
	}
	var out ConfigChange
	err := t.retry(ctx, func(sn *snapshot) (TeamWrite, error) {
		out = ConfigChange{}
		var w TeamWrite
		for _, m := range t.cfg().spec.Members {
			h := memberHash(m)
			cur, stored := sn.storedMember(m.ID)
			switch {
			case !stored:
				w.Members = append(w.Members, MemberRecord{Member: m, ConfigHash: h, CreatedAt: o.Now, CreatedBy: o.By, UpdatedAt: o.Now, UpdatedBy: o.By})
				out.Lines = append(out.Lines, fmt.Sprintf("member %s: stored from the configuration", m.ID))
			case cur.ConfigHash != h && !o.SeedOnly:
				rec := cur
				rec.Member, rec.ConfigHash, rec.UpdatedAt, rec.UpdatedBy = m, h, o.Now, o.By
				rec.RemovedAt, rec.RemovedBy = time.Time{}, ""
				w.Members = append(w.Members, rec)
				out.Lines = append(out.Lines, fmt.Sprintf("member %s: updated from the configuration", m.ID))
			}
		}
		for _, spec := range t.cfg().spec.Rotas {
			st := sn.rotas[spec.Name]
			h := specHash(spec)
			if st == nil {
				continue
			}
			if !st.stored {
				w.Rotas = append(w.Rotas, RotaRecord{Name: spec.Name, ConfigHash: h, CreatedAt: o.Now, CreatedBy: o.By})
				w.Versions = append(w.Versions, RotaVersion{Rota: spec.Name, Spec: st.r.Spec(), First: st.r.Spec().Members[0],
					Reason: "configuration (oncall.rotas)", CreatedAt: o.Now, CreatedBy: o.By})
				out.Lines = append(out.Lines, fmt.Sprintf("rota %s: stored from the configuration (%s)", spec.Name, strings.Join(spec.Members, ", ")))
				continue
			}
			if st.hash == h || o.SeedOnly {
				continue
			}
			c := RotaChange{Rota: spec.Name, Members: spec.Members, Every: spec.Every, HandoverWeekday: spec.HandoverWeekday,
				HandoverTime: spec.HandoverTime, TimeZone: spec.TimeZone, Cover: orDash(spec.Cover), Effective: o.Effective,
				Reason: "configuration (oncall.rotas) changed", By: o.By, Now: o.Now}
			fill(&c, st.r.Spec())
			res, cw, err := t.planChange(ctx, sn, c)
			switch {
			case err != nil && errors.Is(err, ErrInvalid) && strings.Contains(err.Error(), "leaves"):
				out.Lines = append(out.Lines, fmt.Sprintf("rota %s: the configuration changed, but not the rota", spec.Name))
			case err != nil:
				return w, fmt.Errorf("rota %s: the configuration changed: %w", spec.Name, err)
			default:
				w.Versions = append(w.Versions, cw.Versions...)
				w.Cancel = append(w.Cancel, cw.Cancel...)
				w.CancelledAt, w.CancelledBy = o.Now, o.By
				loc := st.r.LocationAt(res.Version.From)
				line := fmt.Sprintf("rota %s: the configuration changed: from %s the order is %s, %s first", spec.Name,
					fmtAt(res.Version.From, loc), strings.Join(res.Version.Spec.Members, ", "), res.Version.First)
				if len(res.Added) > 0 {
					line += "; added " + strings.Join(res.Added, ", ")
				}
				if len(res.Removed) > 0 {
					line += "; removed " + strings.Join(res.Removed, ", ")
				}
				out.Lines = append(out.Lines, line)
				out.Lines = append(out.Lines, res.Warnings...)
			}
			w.Rotas = append(w.Rotas, RotaRecord{Name: spec.Name, ConfigHash: h})
		}
		return w, nil
	}, o.DryRun)
	return out, err
}

// fill sets the empty optional fields of a configured rota's change to the
// defaults, so that a key removed from the configuration changes the rota
// back to the default.
func fill(c *RotaChange, _ rota.Spec) {
	if c.Every == "" {
		c.Every = rota.DefaultEvery
	}
	if c.HandoverWeekday == "" {
		c.HandoverWeekday = rota.DefaultHandoverWeekday
	}
	if c.HandoverTime == "" {
		c.HandoverTime = rota.DefaultHandoverTime
	}
	if c.TimeZone == "" {
		c.TimeZone = rota.DefaultTimeZone
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// storedMember returns a member as stored (not from the configuration).
func (sn *snapshot) storedMember(id string) (MemberRecord, bool) {
	m, ok := sn.members[id]
	return m, ok && sn.stored[id]
}

// ConfigDrift lists the configured members and rotas whose configuration
// differs from what was last applied, or that are not stored yet: what
// ApplyConfig would change.
func (t *Team) ConfigDrift(ctx context.Context) ([]string, error) {
	sn, err := t.refresh(ctx)
	if err != nil || t.rs == nil {
		return nil, err
	}
	var out []string
	for _, m := range t.cfg().spec.Members {
		if cur, ok := sn.storedMember(m.ID); !ok || cur.ConfigHash != memberHash(m) {
			out = append(out, "member "+m.ID)
		}
	}
	for _, spec := range t.cfg().spec.Rotas {
		if st := sn.rotas[spec.Name]; st == nil || !st.stored || st.hash != specHash(spec) {
			out = append(out, "rota "+spec.Name)
		}
	}
	return out, nil
}
