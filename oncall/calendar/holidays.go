package calendar

import (
	"time"

	"github.com/6tail/lunar-go/HolidayUtil"
	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/cz"
	"github.com/rickar/cal/v2/gb"
	"github.com/rickar/cal/v2/no"
	"github.com/rickar/cal/v2/se"
)

// dayKind says what an official source says about a date.
type dayKind int

const (
	kindNone dayKind = iota // nothing special
	kindOff                 // public holiday
	kindWork                // official make-up working day (China's 调休)
)

// holidaySource looks up the official status of a civil date. It is read
// only: the libraries' tables are package data that this package never
// modifies (lunar-go's HolidayUtil.Fix, which does, is not used).
type holidaySource interface {
	lookup(d civil) (name string, kind dayKind)
}

func countrySource(code string) (holidaySource, bool) {
	switch code {
	case "no":
		return rickarSource(no.Holidays), true
	case "se":
		// Includes midsommarafton, julafton and nyårsafton, which are
		// de facto days off although not public holidays by law.
		return rickarSource(se.Holidays), true
	case "gb":
		// England and Wales bank holidays, with substitute days.
		return rickarSource(gb.Holidays), true
	case "cz":
		return rickarSource(cz.Holidays), true
	case "cn":
		return lunarSource{}, true
	}
	return nil, false
}

// rickarSource adapts a github.com/rickar/cal/v2 holiday list. Both the
// actual date and the observed (substitute) date of a holiday are days off.
type rickarSource []*cal.Holiday

func (r rickarSource) lookup(d civil) (string, dayKind) {
	// A substitute day can fall in the neighbouring year (e.g. a holiday
	// on 31 December observed on 2 January), so look at three years.
	for _, y := range [...]int{d.y, d.y - 1, d.y + 1} {
		for _, h := range r {
			act, obs := h.Calc(y)
			if !act.IsZero() && civilOf(act) == d {
				return h.Name, kindOff
			}
			if !obs.IsZero() && civilOf(obs) == d {
				return h.Name, kindOff
			}
		}
	}
	return "", kindNone
}

// lunarSource adapts github.com/6tail/lunar-go's table of Chinese official
// holidays and make-up working days, as published each year by the State
// Council. The table (v1.4.7) has data through 2027.
type lunarSource struct{}

func (lunarSource) lookup(d civil) (string, dayKind) {
	h := HolidayUtil.GetHolidayByYmd(d.y, int(d.m), d.d)
	if h == nil || h.GetDay() != time.Date(d.y, d.m, d.d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly) {
		return "", kindNone
	}
	if h.IsWork() {
		return h.GetName() + " 调休", kindWork
	}
	return h.GetName(), kindOff
}
