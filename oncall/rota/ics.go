package rota

import (
	"errors"
	"fmt"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"
)

// ProdID is the PRODID of every feed ICS writes (RFC 5545 §3.7.3).
const ProdID = "-//postvakt//oncall//EN"

// ICSOptions tunes ICS.
type ICSOptions struct {
	// Member, when set, keeps only that member's shifts (a personal feed).
	Member string
	// CalName is X-WR-CALNAME; empty means "On call: <rota name>", with
	// " (<member name>)" added for a personal feed.
	CalName string
	// Stamp is every event's DTSTAMP (RFC 5545 §3.8.7.2). Zero means the
	// start of the earliest shift, which keeps the output a pure function
	// of the arguments; a feed server passes the time it generated the feed.
	Stamp time.Time
	// Location is the zone DTSTART and DTEND are written in: the service
	// time zone, with a TZID and the zone's VTIMEZONE, so that a 09:00
	// handover reads 09:00 (RFC 5545 §3.3.5 form #3). nil or UTC: UTC
	// with "Z".
	Location *time.Location
}

// ICS renders shifts (typically from Schedule) as an iCalendar feed
// (RFC 5545) with one VEVENT per shift: UID "<rota>/<start UTC>/<member>"
// stable across regenerations, DTSTART and DTEND in opts.Location (UTC
// when it is nil), SUMMARY
// "On call: <member name>" (the ID when members lacks the member) and a
// DESCRIPTION naming the source. It returns an error wrapping
// ErrEmptySpan for a shift whose end is not after its start.
func ICS(spec Spec, members []Member, shifts []Shift, opts ICSOptions) ([]byte, error) {
	byID := make(map[string]Member, len(members))
	for _, m := range members {
		byID[m.ID] = m
	}
	display := func(id string) string {
		if m, ok := byID[id]; ok && m.Name != "" {
			return m.Name
		}
		return id
	}
	calName := opts.CalName
	if calName == "" {
		calName = "On call: " + spec.Name
		if opts.Member != "" {
			calName += " (" + display(opts.Member) + ")"
		}
	}
	stamp := opts.Stamp
	var errs []error
	var keep []Shift
	for i, s := range shifts {
		if opts.Member != "" && s.Member != opts.Member {
			continue
		}
		if !s.End.After(s.Start) {
			errs = append(errs, fmt.Errorf("shifts[%d] %s: end %s: %w", i, s.Member, s.End.Format(time.RFC3339), ErrEmptySpan))
			continue
		}
		if opts.Stamp.IsZero() && (stamp.IsZero() || s.Start.Before(stamp)) {
			stamp = s.Start
		}
		keep = append(keep, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if stamp.IsZero() {
		stamp = time.Unix(0, 0)
	}

	cal := ics.NewCalendarFor("postvakt")
	cal.SetProductId(ProdID)
	cal.SetMethod(ics.MethodPublish)
	cal.SetXWRCalName(calName)
	z := newZoned(opts.Location)
	if len(keep) > 0 {
		first, last := keep[0].Start, keep[0].End
		for _, s := range keep {
			if s.Start.Before(first) {
				first = s.Start
			}
			if s.End.After(last) {
				last = s.End
			}
		}
		z.addVTimezone(cal, first, last)
	}
	for _, s := range keep {
		ev := cal.AddEvent(UID(spec.Name, s))
		ev.SetDtStampTime(stamp)
		z.set(ev, s.Start, s.End)
		ev.SetSummary("On call: " + display(s.Member))
		desc := fmt.Sprintf("Rota %s, turn %d, source %s", spec.Name, s.Turn, s.Source)
		if s.Ref != "" {
			desc += " " + s.Ref
		}
		ev.SetDescription(desc)
		ev.SetProperty(ics.ComponentPropertyTransp, "TRANSPARENT")
	}
	var b strings.Builder
	// RFC 5545 §3.1 requires CRLF line ends; golang-ical defaults to LF.
	if err := cal.SerializeTo(&b, ics.WithNewLine("\r\n")); err != nil {
		return nil, fmt.Errorf("serialize rota %q: %w", spec.Name, err)
	}
	return []byte(b.String()), nil
}

// UID returns the stable iCalendar UID of a shift in the named rota:
// "<rota>/<start as 20060102T150405Z>/<member>".
func UID(rota string, s Shift) string {
	return rota + "/" + s.Start.UTC().Format("20060102T150405Z") + "/" + s.Member
}
