package units

import (
	"testing"
	"time"
)

func TestPlanDates(t *testing.T) {
	t.Parallel()
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Fatal(err)
	}
	s := Schedule{Location: oslo, StepTime: ClockTime{9, 0}, DocumentsBefore: 7}
	// The migration on Tuesday 31 March 2026 at 10:00 CEST: the TTL
	// reminder two calendar days before falls on Sunday 29 March, the day
	// the clocks go forward (02:00 CET → 03:00 CEST).
	mig := time.Date(2026, 3, 31, 10, 0, 0, 0, oslo)
	// Documents on 24 March are still CET: a 24-hour step would be 10:00.
	want := []struct {
		kind  StepKind
		seq   int
		local string
	}{
		{StepDocuments, 0, "2026-03-24 09:00 CET"},
		{StepWorkOrder, 0, "2026-03-24 09:00 CET"},
		{StepTTLReminder, 0, "2026-03-29 09:00 CEST"},
		{StepMXCheck, 0, "2026-03-31 10:00 CEST"},
		{StepSuccessNotice, 0, "2026-03-31 10:00 CEST"},
		{StepTTLRestore, 0, "2026-04-01 09:00 CEST"},
		{StepFollowUp, 1, "2026-04-01 09:00 CEST"},
		{StepFollowUp, 2, "2026-04-07 09:00 CEST"},
		{StepFollowUp, 3, "2026-04-14 09:00 CEST"},
		{StepFollowUp, 4, "2026-04-30 09:00 CEST"}, // 31 March + 1 month: clamped to 30 April
	}
	steps := s.Plan(mig, "ana@uni.test")
	if len(steps) != len(want) {
		t.Fatalf("%d steps, want %d", len(steps), len(want))
	}
	for i, w := range want {
		st := steps[i]
		got := st.DueAt.In(oslo).Format("2006-01-02 15:04 MST")
		if st.Kind != w.kind || st.Seq != w.seq || got != w.local || st.State != StepOpen || st.Assignee != "ana@uni.test" {
			t.Errorf("step %d: %s/%d due %s, want %s/%d due %s", i, st.Kind, st.Seq, got, w.kind, w.seq, w.local)
		}
	}
	// 09:00 two wall-clock days before a 10:00 migration: 49 hours, both
	// instants in CEST.
	if d := mig.Sub(steps[2].DueAt); d != 49*time.Hour {
		t.Errorf("TTL reminder %v before the migration", d)
	}
	// Monthly after the first month, one at a time, clamped to month ends.
	next, ok := s.NextFollowUp(mig, steps[9], steps)
	if !ok || next.Seq != 5 || next.DueAt.In(oslo).Format("2006-01-02 15:04") != "2026-05-31 09:00" || next.Assignee != "ana@uni.test" {
		t.Fatalf("next follow-up %+v %v", next, ok)
	}
	if _, ok := s.NextFollowUp(mig, steps[8], steps); ok {
		t.Error("a 2-week follow-up schedules no monthly one")
	}
	if _, ok := s.NextFollowUp(mig, steps[9], append(steps, next)); ok {
		t.Error("a follow-up already planned is not planned twice")
	}
	n := s.MonthlyFollowUp(time.Date(2027, 1, 31, 10, 0, 0, 0, oslo), 1)
	if got := n.DueAt.In(oslo).Format("2006-01-02"); got != "2027-02-28" {
		t.Errorf("31 January + 1 month = %s", got)
	}
}

func TestAddMonths(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		y    int
		m    time.Month
		d, n int
		want string
	}{
		{2028, 1, 31, 1, "2028-02-29"}, {2026, 12, 15, 1, "2027-01-15"}, {2026, 8, 31, 13, "2027-09-30"}, {2026, 5, 10, 0, "2026-05-10"},
	} {
		y, m, d := AddMonths(c.y, c.m, c.d, c.n)
		if got := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly); got != c.want {
			t.Errorf("%d-%d-%d + %d months = %s, want %s", c.y, c.m, c.d, c.n, got, c.want)
		}
	}
}

func TestSurveyNormalize(t *testing.T) {
	t.Parallel()
	n := 12
	ok := Survey{Domains: []string{"Chem.Uni.Test.", "chem.uni.test"}, PublishedMX: []string{"MAIL.chem.uni.test"},
		NetAdmin: Contact{Name: "Eva", Email: "eva@chem.uni.test"}, Staff: &n, WishedDate: "2027-02-01"}
	if err := ok.Normalize(); err != nil || len(ok.Domains) != 1 || ok.Domains[0] != "chem.uni.test" || ok.PublishedMX[0] != "mail.chem.uni.test" {
		t.Fatalf("%v %+v", err, ok)
	}
	neg := -1
	for name, s := range map[string]Survey{
		"no domain":    {NetAdmin: Contact{Email: "a@b.test"}},
		"bad domain":   {Domains: []string{"not a domain"}, NetAdmin: Contact{Email: "a@b.test"}},
		"no admin":     {Domains: []string{"a.test"}},
		"bad address":  {Domains: []string{"a.test"}, NetAdmin: Contact{Email: "Eva <a@b.test>"}},
		"header break": {Domains: []string{"a.test"}, NetAdmin: Contact{Email: "a@b.test", Name: "x\r\nBcc: y@z.test"}},
		"negative":     {Domains: []string{"a.test"}, NetAdmin: Contact{Email: "a@b.test"}, Students: &neg},
		"bad date":     {Domains: []string{"a.test"}, NetAdmin: Contact{Email: "a@b.test"}, WishedDate: "next week"},
	} {
		if err := s.Normalize(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
