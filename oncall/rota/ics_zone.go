package rota

import (
	"fmt"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/uni-mail/postvakt/config/timezone"
)

// icsLocal is the form of a DATE-TIME in local time with a TZID
// (RFC 5545 §3.3.5, "FORM #3").
const icsLocal = "20060102T150405"

// zoned writes DTSTART and DTEND in a time zone: with a TZID parameter and
// the zone's VTIMEZONE when loc has one (RFC 5545 §3.2.19, §3.6.5), in UTC
// with "Z" when loc is nil or UTC.
type zoned struct {
	loc  *time.Location
	tzid string
}

func newZoned(loc *time.Location) zoned {
	if loc == nil {
		return zoned{}
	}
	// The server's local zone is named by its IANA name; a zone without
	// one, and UTC itself, are written in UTC.
	switch name := timezone.Name(loc); name {
	case "Local", "UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "Universal", "Etc/Universal":
		return zoned{}
	default:
		return zoned{loc: loc, tzid: name}
	}
}

func (z zoned) set(ev *ics.VEvent, start, end time.Time) {
	if z.loc == nil {
		ev.SetStartAt(start)
		ev.SetEndAt(end)
		return
	}
	ev.SetProperty(ics.ComponentPropertyDtStart, start.In(z.loc).Format(icsLocal), ics.WithTZID(z.tzid))
	ev.SetProperty(ics.ComponentPropertyDtEnd, end.In(z.loc).Format(icsLocal), ics.WithTZID(z.tzid))
}

// addVTimezone adds the VTIMEZONE of z's zone that covers [from, to]: one
// STANDARD or DAYLIGHT observance per change of offset in the span, and the
// one in force at its start (RFC 5545 §3.6.5). Each observance's DTSTART is
// the onset in the wall time of the offset before it (TZOFFSETFROM).
func (z zoned) addVTimezone(cal *ics.Calendar, from, to time.Time) {
	if z.loc == nil {
		return
	}
	tz := cal.AddTimezone(z.tzid)
	t := from.In(z.loc)
	onset, _ := t.ZoneBounds()
	for i := 0; i < 1000; i++ { // bounded: a few changes a year
		name, off := t.Zone()
		prevOff := off
		if !onset.IsZero() {
			_, prevOff = onset.Add(-time.Nanosecond).Zone()
		} else {
			onset = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(off) * time.Second)
		}
		wall := onset.In(time.FixedZone("", prevOff)).Format(icsLocal)
		var ob *ics.ComponentBase
		if t.IsDST() {
			d := &ics.Daylight{}
			tz.Components = append(tz.Components, d)
			ob = &d.ComponentBase
		} else {
			ob = &tz.AddStandard().ComponentBase
		}
		ob.SetProperty(ics.ComponentPropertyDtStart, wall)
		ob.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetfrom), icsOffset(prevOff))
		ob.SetProperty(ics.ComponentProperty(ics.PropertyTzoffsetto), icsOffset(off))
		ob.SetProperty(ics.ComponentProperty(ics.PropertyTzname), name)
		_, next := t.ZoneBounds()
		if next.IsZero() || next.After(to) {
			return
		}
		t, onset = next, next
	}
}

// icsOffset is a UTC offset as RFC 5545 §3.3.14 writes it: "+0100".
func icsOffset(sec int) string {
	sign := '+'
	if sec < 0 {
		sign, sec = '-', -sec
	}
	if s := sec % 60; s != 0 {
		return fmt.Sprintf("%c%02d%02d%02d", sign, sec/3600, sec%3600/60, s)
	}
	return fmt.Sprintf("%c%02d%02d", sign, sec/3600, sec%3600/60)
}
