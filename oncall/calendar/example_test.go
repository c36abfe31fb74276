package calendar_test

import (
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/oncall/calendar"
)

// A fault reported at 16:30 on a Friday under the UK submission SLA
// ("investigation starts within one hour between 09:00 and 17:00 on a
// working day") is due at 09:30 on Monday.
func ExampleCalendar_Add() {
	cal, err := calendar.New(calendar.Spec{
		Name:      "uk-sla",
		TimeZone:  "Europe/London",
		Hours:     []calendar.Hours{{Days: []string{"mon-fri"}, Start: "09:00", End: "17:00"}},
		Countries: []string{"gb"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	reported := time.Date(2026, time.January, 9, 16, 30, 0, 0, cal.Location())
	due := cal.Add(reported, time.Hour)
	fmt.Println(due.Format("Mon 2006-01-02 15:04 MST"))
	fmt.Println(cal.Between(reported, due))
	// Output:
	// Mon 2026-01-12 09:30 GMT
	// 1h0m0s
}
