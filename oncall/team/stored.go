package team

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/uni-mail/postvakt/oncall/rota"
)

// ErrConflict reports a write planned on a stored team that another
// writer changed meanwhile; the change is not made and may be retried.
var ErrConflict = errors.New("the team changed meanwhile")

// RotaStore keeps the team as data (internal/store/oncallstore): the
// members, the rotas with their versions, and the record of the shifts as
// they were held. A Store that also implements RotaStore makes the Team
// read its members and rotas from the database.
type RotaStore interface {
	// TeamRevision returns a number that changes with every write of
	// WriteTeam; 0 before the first.
	TeamRevision(ctx context.Context) (int64, error)
	// LoadTeam returns the stored members (removed ones too) and rotas,
	// each with its versions in force (not cancelled), by From.
	LoadTeam(ctx context.Context) (StoredTeam, error)
	// WriteTeam makes w's writes in one transaction, only if the revision
	// is still w.Revision, and moves the revision on; otherwise it returns
	// an error wrapping ErrConflict and writes nothing.
	WriteTeam(ctx context.Context, w TeamWrite) error
	// RotaVersions lists every version of a rota, cancelled ones too, by
	// creation.
	RotaVersions(ctx context.Context, rotaName string) ([]RotaVersion, error)
	// LastShift returns the latest recorded shift of a rota.
	LastShift(ctx context.Context, rotaName string) (RecordedShift, bool, error)
	// RecordShifts closes w.Close (only if it is still open) and inserts
	// w.Add in one transaction; when the shift was closed, or a shift
	// recorded, by another writer meanwhile, it returns an error wrapping
	// ErrConflict and writes nothing.
	RecordShifts(ctx context.Context, w RecordWrite) error
	// RecordedShifts returns the recorded shifts of a rota that overlap
	// [from, to) (an open one overlaps from its start on), by start.
	RecordedShifts(ctx context.Context, rotaName string, from, to time.Time) ([]RecordedShift, error)
}

// StoredTeam is the stored team at one revision.
type StoredTeam struct {
	Revision int64
	Members  []MemberRecord
	Rotas    []RotaRecord
}

// MemberRecord is a stored member.
type MemberRecord struct {
	rota.Member
	// ConfigHash is the hash of the configured member last applied; empty
	// for a member added at run time.
	ConfigHash string    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	CreatedBy  string    `json:"created_by,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
	UpdatedBy  string    `json:"updated_by,omitempty"`
	RemovedAt  time.Time `json:"removed_at,omitzero"`
	RemovedBy  string    `json:"removed_by,omitempty"`
}

// RotaRecord is a stored rota.
type RotaRecord struct {
	Name string
	// ConfigHash is the hash of the configured rota (oncall.rotas) last
	// applied; empty for a rota created at run time.
	ConfigHash string
	CreatedAt  time.Time
	CreatedBy  string
	// Versions are the versions in force, by From (LoadTeam fills it).
	Versions []RotaVersion
}

// RotaVersion is a stored version of a rota (rota.Version): what the rota
// is from From on, who made it and why.
type RotaVersion struct {
	ID   string `json:"id"`
	Rota string `json:"rota"`
	// From is when the version takes effect; zero for a rota's first.
	From time.Time `json:"from,omitzero"`
	Spec rota.Spec `json:"-"`
	// First holds the version's first turn.
	First       string    `json:"first"`
	Reason      string    `json:"reason,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by,omitempty"`
	CancelledAt time.Time `json:"cancelled_at,omitzero"`
	CancelledBy string    `json:"cancelled_by,omitempty"`
}

// TeamWrite is one atomic write of the stored team.
type TeamWrite struct {
	// Revision is the revision the write was planned on.
	Revision int64
	// Members are inserted or, by ID, replaced.
	Members []MemberRecord
	// Rotas are inserted or, by name, have their ConfigHash replaced.
	Rotas []RotaRecord
	// Versions are inserted (their ID is assigned).
	Versions []RotaVersion
	// Cancel lists version IDs to cancel, at CancelledAt by CancelledBy.
	Cancel      []string
	CancelledAt time.Time
	CancelledBy string
}

// RecordedShift is a shift as it was held, from the record.
type RecordedShift struct {
	ID   string `json:"id"`
	Rota string `json:"rota"`
	// Shift's End is zero while the shift is in progress.
	rota.Shift
	// RecordedAt is when the shift was first recorded.
	RecordedAt time.Time `json:"recorded_at"`
	// Late reports a shift recorded only after it ended: written from the
	// stored rota when postvakt was not running as it was held (or before
	// the record began).
	Late bool `json:"late"`
}

// RecordWrite is one step of the record of a rota's shifts.
type RecordWrite struct {
	Rota string
	// Close, when set, is the ID of the open shift to close at CloseAt.
	Close   string
	CloseAt time.Time
	// Add are inserted: closed ones, and at most one open (End zero).
	Add []RecordedShift
}

// snapshot is the team at one stored revision (or the configuration
// alone), compiled: every question reads one.
type snapshot struct {
	rev     int64
	members map[string]MemberRecord // removed ones too
	stored  map[string]bool         // the members that are stored
	order   []string                // current members: configured order, then the others by creation
	rotas   map[string]*rotaState
	names   []string
}

// rotaState is one rota of a snapshot.
type rotaState struct {
	name     string
	r        *rota.Rota
	versions []RotaVersion // in force, by From; one unsaved version for a configured rota not stored yet
	stored   bool
	hash     string // the stored ConfigHash
}

func (sn *snapshot) rota(name string) (*rotaState, error) {
	st, ok := sn.rotas[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (rotas: %s)", ErrUnknownRota, name, quoteList(sn.names))
	}
	return st, nil
}

// live reports an error unless id is a current member.
func (sn *snapshot) live(id string) error {
	if m, ok := sn.members[id]; ok && m.RemovedAt.IsZero() {
		return nil
	}
	return fmt.Errorf("%w %q (members: %s)", ErrUnknownMember, id, quoteList(sn.order))
}

func quoteList(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	out := ""
	for i, id := range ids {
		if i > 0 {
			out += ", "
		}
		out += strconv.Quote(id)
	}
	return out
}

// current returns the latest snapshot without asking the store.
func (t *Team) current() *snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.snap
}

// Refresh brings the team up to date with the store: one revision read,
// and a reload when it moved. Every method that takes a context does it;
// call it before the methods that do not (Rotas, Rota, Members, Member…)
// when they must see changes made by other processes.
func (t *Team) Refresh(ctx context.Context) error {
	_, err := t.refresh(ctx)
	return err
}

func (t *Team) refresh(ctx context.Context) (*snapshot, error) {
	cur := t.current()
	if t.rs == nil {
		return cur, nil
	}
	rev, err := t.rs.TeamRevision(ctx)
	if err != nil {
		return cur, fmt.Errorf("team revision: %w", err)
	}
	if rev == cur.rev {
		return cur, nil
	}
	stored, err := t.rs.LoadTeam(ctx)
	if err != nil {
		return cur, fmt.Errorf("load team: %w", err)
	}
	sn, err := t.build(stored)
	if err != nil {
		return cur, err
	}
	t.mu.Lock()
	if t.snap.rev < sn.rev || t.snap.rev < 0 {
		t.snap = sn
	} else {
		sn = t.snap
	}
	t.mu.Unlock()
	return sn, nil
}

// rota refreshes and returns a rota's state.
func (t *Team) rota(ctx context.Context, name string) (*rotaState, error) {
	sn, err := t.refresh(ctx)
	if err != nil {
		return nil, err
	}
	return sn.rota(name)
}

// build compiles a stored team with the configuration: stored members and
// rotas as stored, configured ones not stored yet from the configuration.
func (t *Team) build(stored StoredTeam) (*snapshot, error) {
	sn := &snapshot{rev: stored.Revision, members: map[string]MemberRecord{}, stored: map[string]bool{}, rotas: map[string]*rotaState{}}
	for _, m := range stored.Members {
		sn.members[m.ID] = m
		sn.stored[m.ID] = true
	}
	for _, m := range t.cfg().spec.Members {
		if _, ok := sn.members[m.ID]; !ok {
			sn.members[m.ID] = MemberRecord{Member: m}
		}
	}
	listed := map[string]bool{}
	for _, m := range t.cfg().spec.Members {
		if !listed[m.ID] && sn.members[m.ID].RemovedAt.IsZero() {
			listed[m.ID] = true
			sn.order = append(sn.order, m.ID)
		}
	}
	for _, m := range stored.Members {
		if !listed[m.ID] && m.RemovedAt.IsZero() {
			listed[m.ID] = true
			sn.order = append(sn.order, m.ID)
		}
	}
	var errs []error
	for _, rr := range stored.Rotas {
		vs := make([]rota.Version, len(rr.Versions))
		for i, v := range rr.Versions {
			vs[i] = rota.Version{ID: v.ID, From: v.From, Spec: v.Spec, First: v.First}
		}
		r, err := rota.NewVersions(vs)
		if err != nil {
			errs = append(errs, fmt.Errorf("stored rota %q: %w", rr.Name, err))
			continue
		}
		sn.rotas[rr.Name] = &rotaState{name: rr.Name, r: r, versions: rr.Versions, stored: true, hash: rr.ConfigHash}
	}
	for _, spec := range t.cfg().spec.Rotas {
		if _, ok := sn.rotas[spec.Name]; ok {
			sn.names = append(sn.names, spec.Name)
			continue
		}
		r, err := rota.New(spec)
		if err != nil {
			continue // New reported it
		}
		sn.rotas[spec.Name] = &rotaState{name: spec.Name, r: r, versions: []RotaVersion{{Rota: spec.Name, Spec: r.Spec()}}}
		sn.names = append(sn.names, spec.Name)
	}
	for _, rr := range stored.Rotas {
		if _, ok := sn.rotas[rr.Name]; ok && !contains(sn.names, rr.Name) {
			sn.names = append(sn.names, rr.Name)
		}
	}
	return sn, errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// specHash is the hash of a rota Spec with defaults applied, to tell
// whether the configured rota changed since it was last applied.
func specHash(s rota.Spec) string {
	if r, err := rota.New(s); err == nil {
		s = r.Spec()
	}
	return hashJSON(s)
}

func memberHash(m rota.Member) string { return hashJSON(m) }

func hashJSON(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}
