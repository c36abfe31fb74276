package rota

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/oncall/calendar"
)

// Sentinel errors wrapped by Spec.Validate, Member.Validate, New,
// CheckChanges and ICS. Test with errors.Is.
var (
	// ErrRequired reports a required field that is empty.
	ErrRequired = errors.New("required")
	// ErrInvalidName reports a rota name with control characters.
	ErrInvalidName = errors.New("invalid name")
	// ErrDuplicate reports a member listed twice.
	ErrDuplicate = errors.New("duplicate")
	// ErrInvalidDate reports a date that is not YYYY-MM-DD.
	ErrInvalidDate = errors.New("invalid date")
	// ErrInvalidEvery reports a turn length that is not "Nw" or "Nd" with N ≥ 1.
	ErrInvalidEvery = errors.New("invalid turn length")
	// ErrInvalidWeekday reports a weekday name that is not understood.
	ErrInvalidWeekday = errors.New("invalid weekday")
	// ErrInvalidTime reports a wall-clock time that is not HH:MM.
	ErrInvalidTime = errors.New("invalid time")
	// ErrUnknownZone reports a time zone name missing from the IANA database.
	ErrUnknownZone = errors.New("unknown time zone")
	// ErrEmptySpan reports an override, unavailability or shift whose end
	// is not after its start.
	ErrEmptySpan = errors.New("end not after start")
	// ErrStaleSwap reports an accepted swap whose requester or counterpart
	// does not hold the turn it names when the swap is applied.
	ErrStaleSwap = errors.New("swap does not match the turns' holders")
	// ErrInvalidState reports a swap state outside the SwapState values.
	ErrInvalidState = errors.New("invalid swap state")
)

// Defaults applied by New and Validate to empty Spec fields.
const (
	DefaultEvery           = "1w"
	DefaultHandoverWeekday = "monday"
	DefaultHandoverTime    = "09:00"
	DefaultTimeZone        = "Europe/Oslo"
)

// Member is a person who can be on call. ID is the stable key used by
// Spec.Members, overrides and swaps.
type Member struct {
	ID       string `yaml:"id"`
	Name     string `yaml:"name"`
	Email    string `yaml:"email"`
	SlackID  string `yaml:"slack_id"`
	Phone    string `yaml:"phone"`
	TimeZone string `yaml:"time_zone"` // IANA name, for showing times to the member
}

// Validate reports an empty ID or an unknown time zone, naming the field
// and the value.
func (m Member) Validate() error {
	var errs []error
	if m.ID == "" {
		errs = append(errs, fmt.Errorf("member %q: id %q: %w", m.Name, m.ID, ErrRequired))
	}
	if m.TimeZone != "" {
		if _, err := time.LoadLocation(m.TimeZone); err != nil {
			errs = append(errs, fmt.Errorf("member %q: time_zone %q: %w", m.ID, m.TimeZone, ErrUnknownZone))
		}
	}
	return errors.Join(errs...)
}

// Spec describes a rota: a duty ("ukevakt") that passes among Members in
// a fixed order, one turn each, handing over at a local wall time. Empty
// optional fields take the Default… values.
//
// Example (the operations group's weekly on-call in Oslo):
//
//	name: ukevakt
//	members: [ana, bjorn, chen]
//	start: "2026-01-05"
//	every: 1w
//	handover_weekday: monday
//	handover_time: "09:00"
//	time_zone: Europe/Oslo
//	cover: operator-cover
type Spec struct {
	// Name identifies the rota; it appears in iCalendar UIDs.
	Name string `yaml:"name"`
	// Members lists member IDs in the order the duty passes.
	Members []string `yaml:"members"`
	// Start (YYYY-MM-DD) anchors the first turn, index 0: it begins at
	// HandoverTime on the first HandoverWeekday on or after Start.
	Start string `yaml:"start"`
	// Every is the turn length: "Nw" weeks or "Nd" days; default "1w".
	Every string `yaml:"every"`
	// HandoverWeekday is the weekday of the first handover; default monday.
	HandoverWeekday string `yaml:"handover_weekday"`
	// HandoverTime is the local wall time of every handover; default 09:00.
	HandoverTime string `yaml:"handover_time"`
	// TimeZone is the IANA zone of the handover wall time; default Europe/Oslo.
	TimeZone string `yaml:"time_zone"`
	// Cover names the calendar.Spec of operator cover (e.g. the UK
	// submission SLA's 08:30–20:30 on working days); the wiring resolves
	// it and passes the Calendar to InCover.
	Cover string `yaml:"cover"`
}

// Validate reports every problem in s, each naming the field and the value,
// e.g. `rota "ukevakt": handover_time "9am": invalid time`, joined with
// errors.Join and wrapping the package's sentinel errors.
func (s Spec) Validate() error {
	_, err := New(s)
	return err
}

// grid is one Spec compiled: the turns it would give on its own, indexed
// from its anchor, and its members in duty order.
type grid struct {
	spec    Spec
	loc     *time.Location
	anchor  time.Time // civil date of turn 0, at 00:00 UTC
	days    int       // turn length in days
	hour    int
	minute  int
	members []string
}

// New validates spec, applies defaults and returns its Rota: one version,
// in force at every instant.
func New(spec Spec) (*Rota, error) {
	g, err := compile(spec)
	if err != nil {
		return nil, err
	}
	return &Rota{name: g.spec.Name, segs: []segment{{grid: g}}}, nil
}

// compile validates spec and applies defaults.
func compile(spec Spec) (grid, error) {
	s := spec
	if s.Every == "" {
		s.Every = DefaultEvery
	}
	if s.HandoverWeekday == "" {
		s.HandoverWeekday = DefaultHandoverWeekday
	}
	if s.HandoverTime == "" {
		s.HandoverTime = DefaultHandoverTime
	}
	if s.TimeZone == "" {
		s.TimeZone = DefaultTimeZone
	}
	r := grid{spec: s, members: append([]string(nil), s.Members...)}
	var errs []error
	bad := func(field, value string, err error) {
		errs = append(errs, fmt.Errorf("rota %q: %s %q: %w", s.Name, field, value, err))
	}
	if s.Name == "" {
		bad("name", s.Name, ErrRequired)
	} else if strings.ContainsFunc(s.Name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		bad("name", s.Name, ErrInvalidName)
	}
	if len(s.Members) == 0 {
		bad("members", "", ErrRequired)
	}
	seen := map[string]bool{}
	for i, m := range s.Members {
		switch {
		case m == "":
			bad(fmt.Sprintf("members[%d]", i), m, ErrRequired)
		case seen[m]:
			bad(fmt.Sprintf("members[%d]", i), m, ErrDuplicate)
		}
		seen[m] = true
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		bad("time_zone", s.TimeZone, ErrUnknownZone)
	}
	r.loc = loc
	wd, err := calendar.ParseWeekday(s.HandoverWeekday)
	if err != nil {
		bad("handover_weekday", s.HandoverWeekday, ErrInvalidWeekday)
	}
	r.hour, r.minute, err = calendar.ParseClock(s.HandoverTime)
	if err != nil || r.hour == 24 {
		bad("handover_time", s.HandoverTime, ErrInvalidTime)
	}
	r.days, err = parseEvery(s.Every)
	if err != nil {
		bad("every", s.Every, ErrInvalidEvery)
	}
	start, err := time.Parse(time.DateOnly, s.Start)
	if s.Start == "" {
		bad("start", s.Start, ErrRequired)
	} else if err != nil {
		bad("start", s.Start, ErrInvalidDate)
	} else {
		r.anchor = start.AddDate(0, 0, (int(wd)-int(start.Weekday())+7)%7)
	}
	if err := errors.Join(errs...); err != nil {
		return grid{}, err
	}
	return r, nil
}

func parseEvery(s string) (int, error) {
	if len(s) < 2 {
		return 0, ErrInvalidEvery
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n < 1 || n > 520 {
		return 0, ErrInvalidEvery
	}
	switch s[len(s)-1] {
	case 'w':
		return 7 * n, nil
	case 'd':
		return n, nil
	}
	return 0, ErrInvalidEvery
}
