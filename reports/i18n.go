package reports

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// catalogT holds one language's texts and number and date formats.
type catalogT struct {
	lang     string
	texts    map[string]string
	months   [12]string
	short    [12]string
	weekdays [7]string // Sunday first, as time.Weekday
	thousand string
	decimal  string
	// loc is the zone the report's instants are shown in (the period's,
	// reports.time_zone); nil shows them as they are. Report.catalog sets
	// it on a copy.
	loc *time.Location
}

// Languages lists the report languages.
func Languages() []string { return []string{"en", "nb"} }

var catalogs = map[string]*catalogT{"en": english, "nb": norwegian}

// catalog returns the texts of the report's language, showing instants in
// the zone of its period (reports.time_zone).
func (r *Report) catalog() *catalogT {
	c := *catalog(r.Lang)
	c.loc = r.Period.Start.Location()
	return &c
}

// catalog returns the texts of lang (English when it has none).
func catalog(lang string) *catalogT {
	if c, ok := catalogs[lang]; ok {
		return c
	}
	return english
}

// t returns the text for key, formatted with args; a missing key shows as
// itself so it is noticed.
func (c *catalogT) t(key string, args ...any) string {
	s, ok := c.texts[key]
	if !ok {
		s, ok = english.texts[key]
	}
	if !ok {
		return key
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// has reports whether key has a text.
func (c *catalogT) has(key string) bool {
	_, ok := c.texts[key]
	if !ok {
		_, ok = english.texts[key]
	}
	return ok
}

// label returns the display name for a key such as a verdict or protocol,
// or the key itself.
func (c *catalogT) label(kind, key string) string {
	if c.has(kind + "." + key) {
		return c.t(kind + "." + key)
	}
	return key
}

// int formats n with thousands separators.
func (c *catalogT) int(n float64) string {
	neg := n < 0
	s := strconv.FormatInt(int64(math.Abs(math.Round(n))), 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(c.thousand)
		}
		b.WriteRune(r)
	}
	if neg {
		return "−" + b.String()
	}
	return b.String()
}

// dec formats v with places decimals in the language's notation.
func (c *catalogT) dec(v float64, places int) string {
	s := strconv.FormatFloat(math.Abs(v), 'f', places, 64)
	ip, fp, _ := strings.Cut(s, ".")
	n, _ := strconv.ParseFloat(ip, 64)
	out := c.int(n)
	if fp != "" {
		out += c.decimal + fp
	}
	if v < 0 && strings.Trim(s, "0.") != "" {
		out = "−" + out
	}
	return out
}

// pct formats a percentage (0–100) with one decimal.
func (c *catalogT) pct(v float64, places int) string { return c.dec(v, places) + " %" }

// change formats a change in per cent with its sign.
func (c *catalogT) change(v *float64) string {
	if v == nil {
		return "–"
	}
	if *v > 0 {
		return "+" + c.dec(*v, 1) + " %"
	}
	return c.dec(*v, 1) + " %"
}

// signed formats a change in per cent without decimals: "+129 %", "−60 %".
func (c *catalogT) signed(v float64) string {
	v = math.Round(v)
	if v > 0 {
		return "+" + c.int(v) + " %"
	}
	return c.int(v) + " %"
}

// bytes formats a size in decimal units (kB, MB, GB, TB).
func (c *catalogT) bytes(v float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	i := 0
	for math.Abs(v) >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	if i == 0 {
		return c.int(v) + " B"
	}
	places := 1
	if math.Abs(v) >= 100 {
		places = 0
	}
	return c.dec(v, places) + " " + units[i]
}

// duration formats seconds as "42 s", "12 min", "3.5 h" or "2.1 d".
func (c *catalogT) duration(sec float64) string {
	switch {
	case sec < 90:
		return c.int(sec) + " s"
	case sec < 90*60:
		return c.int(sec/60) + " min"
	case sec < 48*3600:
		return c.dec(sec/3600, 1) + " h"
	default:
		return c.dec(sec/86400, 1) + " " + c.t("unit.days")
	}
}

// value formats a figure's value by its unit.
func (c *catalogT) value(unit string, v float64) string {
	switch unit {
	case UnitBytes:
		return c.bytes(v)
	case UnitPercent:
		if v > 99 && v < 100 {
			return c.pct(v, 3)
		}
		return c.pct(v, 1)
	case UnitSeconds:
		return c.duration(v)
	case UnitPerDay:
		return c.dec(v, 1)
	}
	return c.int(v)
}

// date formats a day as "Wed 14 Oct" / "ons. 14. okt.".
func (c *catalogT) date(t time.Time) string {
	if c.lang == "nb" {
		return fmt.Sprintf("%s %d. %s", c.weekdays[t.Weekday()], t.Day(), c.short[t.Month()-1])
	}
	return fmt.Sprintf("%s %d %s", c.weekdays[t.Weekday()], t.Day(), c.short[t.Month()-1])
}

// longDate formats "14 October 2026" / "14. oktober 2026".
func (c *catalogT) longDate(t time.Time) string {
	if c.lang == "nb" {
		return fmt.Sprintf("%d. %s %d", t.Day(), c.months[t.Month()-1], t.Year())
	}
	return fmt.Sprintf("%d %s %d", t.Day(), c.months[t.Month()-1], t.Year())
}

// dateTime formats an instant to the minute with its zone's abbreviation,
// "Wed 14 Oct 09:00 CEST": the report's times are in reports.time_zone
// (the service time zone) and say so.
func (c *catalogT) dateTime(t time.Time) string {
	t = c.in(t)
	return c.date(t) + " " + t.Format("15:04 MST")
}

func (c *catalogT) in(t time.Time) time.Time {
	if c.loc == nil {
		return t
	}
	return t.In(c.loc)
}

// span formats two instants to the minute, "Mon 5 Oct 09:00 – Mon 12 Oct
// 09:00 CEST", with the zone once when both are in the same one.
func (c *catalogT) span(a, b time.Time) string {
	a, b = c.in(a), c.in(b)
	if a.Format("MST") == b.Format("MST") {
		return c.date(a) + " " + a.Format("15:04") + " – " + c.dateTime(b)
	}
	return c.dateTime(a) + " – " + c.dateTime(b)
}

// periodName names a period: "October 2026" for a calendar month, else
// "21 September – 20 October 2026".
func (c *catalogT) periodName(p Period) string {
	last := p.End.AddDate(0, 0, -1)
	if p.Start.Day() == 1 {
		return fmt.Sprintf("%s %d", c.months[p.Start.Month()-1], p.Start.Year())
	}
	return c.longDate(p.Start) + " – " + c.longDate(last)
}

// shortPeriod names the previous period in sentences: "September" or
// "21 Aug – 20 Sep".
func (c *catalogT) shortPeriod(p Period) string {
	if p.Start.Day() == 1 {
		return c.months[p.Start.Month()-1]
	}
	last := p.End.AddDate(0, 0, -1)
	return fmt.Sprintf("%d %s – %d %s", p.Start.Day(), c.short[p.Start.Month()-1], last.Day(), c.short[last.Month()-1])
}

var english = &catalogT{
	lang:     "en",
	months:   [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	short:    [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
	weekdays: [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"},
	thousand: ",",
	decimal:  ".",
	texts: map[string]string{
		"title":                         "Mail operations report",
		"period":                        "Period",
		"previous":                      "Previous period",
		"generated":                     "Generated",
		"comment":                       "Comment",
		"summary":                       "Summary",
		"contents":                      "Contents",
		"col.figure":                    "Figure",
		"col.current":                   "This period",
		"col.previous":                  "Previous",
		"col.change":                    "Change",
		"col.date":                      "Date",
		"col.service":                   "Service",
		"col.severity":                  "Severity",
		"col.total":                     "Total",
		"col.ticket":                    "Ticket",
		"col.title":                     "Title",
		"col.opened":                    "Opened",
		"col.responded":                 "Responded",
		"col.target":                    "Target",
		"col.status":                    "Status",
		"col.start":                     "Start",
		"col.end":                       "End",
		"col.duration":                  "Duration",
		"col.kind":                      "Kind",
		"col.member":                    "On call",
		"col.week":                      "Week",
		"col.in_hours":                  "Pages in hours",
		"col.out_of_hours":              "Pages out of hours",
		"col.median_ack":                "Median time to acknowledge",
		"col.availability":              "Availability",
		"col.unplanned":                 "Unplanned downtime",
		"col.planned":                   "Planned maintenance",
		"col.outages":                   "Outages",
		"col.verdict":                   "Verdict",
		"col.action":                    "Action",
		"col.count":                     "Messages",
		"col.protocol":                  "Protocol",
		"col.logins":                    "Logins",
		"col.failed":                    "Failed",
		"col.failed_pct":                "Failed share",
		"col.messages":                  "Messages",
		"sec.registrations":             "Registrations",
		"sec.mail":                      "Mail received and sent",
		"sec.scan":                      "Spam and virus handling",
		"sec.logins":                    "Logins and reads by protocol",
		"sec.traffic":                   "Traffic",
		"sec.availability":              "Availability",
		"sec.faults":                    "Faults and SLA",
		"sec.oncall":                    "On-call",
		"sec.units":                     "Units joining the service",
		"fig.units.joined":              "Units joined",
		"fig.units.migrating":           "Units migrating",
		"fig.units.follow_ups_done":     "Follow-up contacts done",
		"fig.units.follow_ups_overdue":  "Follow-up contacts overdue",
		"fig.units.reqs_recorded":       "Requirements and complaints recorded",
		"fig.units.reqs_answered":       "Requirements and complaints answered",
		"units.overdue":                 "Follow-up contacts overdue",
		"col.unit":                      "Unit",
		"col.follow_up":                 "Follow-up",
		"col.due":                       "Due",
		"note.units":                    "%d units joined and %d are migrating; %d follow-up contacts were done and %d are overdue; %d requirements and complaints were recorded and %d answered.",
		"note.units.joined":             "Joined: %s.",
		"sec.missing":                   "Data not available",
		"chart.mail":                    "Messages per day",
		"chart.scan":                    "Spam, viruses and banned attachments per day",
		"chart.logins":                  "Successful logins per day by protocol",
		"chart.traffic_days":            "Traffic per day",
		"chart.traffic_hours":           "Mean traffic by hour of day",
		"series.received":               "Received",
		"series.sent":                   "Sent",
		"series.previous":               "Received, previous period",
		"series.in":                     "In",
		"series.out":                    "Out",
		"series.spam":                   "Spam",
		"series.virus":                  "Virus",
		"series.banned":                 "Banned attachment",
		"fig.registrations.domains":     "Domains",
		"fig.registrations.mailboxes":   "Mailboxes allotted",
		"fig.registrations.allotted":    "Mailbox capacity allotted",
		"fig.scan.scanned":              "Messages scanned",
		"fig.scan.spam":                 "Spam",
		"fig.scan.spam_rate":            "Spam share of scanned mail",
		"fig.scan.virus":                "Viruses",
		"fig.scan.banned":               "Banned attachments",
		"fig.scan.greylisted":           "Greylisted (deferred)",
		"fig.logins.ok":                 "Successful logins",
		"fig.logins.failed":             "Failed logins",
		"fig.traffic.in":                "Traffic in",
		"fig.traffic.out":               "Traffic out",
		"fig.traffic.total":             "Traffic in total",
		"fig.faults.opened":             "Fault tickets opened",
		"fig.faults.resolved":           "Fault tickets resolved",
		"fig.faults.in_hours":           "Faults notified in service hours",
		"fig.faults.sla_compliance":     "SLA compliance (in-hours faults answered within target)",
		"fig.faults.median_ack":         "Median time to acknowledge",
		"fig.faults.median_resolve":     "Median time to resolve",
		"fig.faults.open_at_end":        "Tickets open at the end of the period",
		"fig.oncall.pages":              "Pages",
		"fig.oncall.pages_in_hours":     "Pages in operator hours",
		"fig.oncall.pages_out_of_hours": "Pages out of hours",
		"fig.oncall.median_ack":         "Median time to acknowledge a page",
		"verdict.clean":                 "Clean",
		"verdict.spam":                  "Spam",
		"verdict.virus":                 "Virus",
		"verdict.banned":                "Banned attachment",
		"verdict.greylisted":            "Greylisted",
		"action.delivered":              "delivered",
		"action.tagged":                 "tagged",
		"action.quarantined":            "quarantined",
		"action.rejected":               "rejected",
		"action.deferred":               "deferred",
		"protocol.webmail":              "Webmail",
		"protocol.imap":                 "IMAP",
		"protocol.pop3":                 "POP",
		"protocol.smtp_auth":            "SMTP AUTH",
		"kind.planned":                  "planned",
		"kind.unplanned":                "unplanned",
		"status.open":                   "open",
		"status.ongoing":                "ongoing",
		"unit.days":                     "d",
		"none":                          "None.",
		"kind.received":                 "Mail received",
		"kind.sent":                     "Mail sent",
		"kind.spam":                     "Spam",
		"kind.logins":                   "Logins",
		"kind.traffic":                  "Traffic",
		"unitword.received":             "messages",
		"unitword.sent":                 "messages",
		"unitword.spam":                 "messages",
		"unitword.logins":               "logins",
		"note.outliers":                 "Outside the normal range: %s.",
		"note.outlier":                  "%s (%s, %s against a typical %s)",
		"note.no_outliers":              "No day outside the normal range (median ± %s·MAD).",
		"note.weekday":                  "weekday",
		"note.weekend":                  "weekend day",
		"note.virus":                    "%s viruses and %s banned attachments stopped (%s viruses in %s).",
		"note.virus.first":              "%s viruses and %s banned attachments stopped.",
		"note.failed_logins":            "The highest share of failed logins was over %s: %s of attempts.",
		"note.peak":                     "The busiest hour was %s with %s; the mean day peaks at %02d:00.",
		"note.sla.ok":                   "All %d faults notified in service hours were answered within the SLA target (%s compliance).",
		"note.sla.breach":               "%d of %d faults notified in service hours missed the response target: %s.",
		"note.sla.none":                 "No faults were notified in service hours, so the SLA response target was not tested.",
		"note.open":                     "%d tickets were still open at the end of the period: %s.",
		"note.open.none":                "No tickets were open at the end of the period.",
		"note.oncall":                   "%d pages in %d shifts, %d of them out of hours; the busiest week was %s's with %d pages.",
		"note.oncall.none":              "No pages in the period.",
		"sec.breaches":                  "SLA breaches",
		"note.failed_outliers":          "Failed logins outside the normal range: %s.",
		"note.missing":                  "The following data was not available when the report was generated: %s.",
	},
}

var norwegian = &catalogT{
	lang:     "nb",
	months:   [12]string{"januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september", "oktober", "november", "desember"},
	short:    [12]string{"jan.", "feb.", "mars", "apr.", "mai", "juni", "juli", "aug.", "sep.", "okt.", "nov.", "des."},
	weekdays: [7]string{"søn.", "man.", "tir.", "ons.", "tor.", "fre.", "lør."},
	thousand: "\u00a0",
	decimal:  ",",
	texts: map[string]string{
		"title":                         "Driftsrapport for e-post",
		"period":                        "Periode",
		"previous":                      "Forrige periode",
		"generated":                     "Laget",
		"comment":                       "Kommentar",
		"summary":                       "Sammendrag",
		"contents":                      "Innhold",
		"col.figure":                    "Tall",
		"col.current":                   "Denne perioden",
		"col.previous":                  "Forrige",
		"col.change":                    "Endring",
		"col.date":                      "Dato",
		"col.service":                   "Tjeneste",
		"col.severity":                  "Alvorlighet",
		"col.total":                     "Sum",
		"col.ticket":                    "Sak",
		"col.title":                     "Tittel",
		"col.opened":                    "Åpnet",
		"col.responded":                 "Besvart",
		"col.target":                    "Mål",
		"col.status":                    "Status",
		"col.start":                     "Start",
		"col.end":                       "Slutt",
		"col.duration":                  "Varighet",
		"col.kind":                      "Type",
		"col.member":                    "Vakt",
		"col.week":                      "Uke",
		"col.in_hours":                  "Varsler i arbeidstid",
		"col.out_of_hours":              "Varsler utenom arbeidstid",
		"col.median_ack":                "Median tid til kvittering",
		"col.availability":              "Tilgjengelighet",
		"col.unplanned":                 "Uplanlagt nedetid",
		"col.planned":                   "Planlagt vedlikehold",
		"col.outages":                   "Avbrudd",
		"col.verdict":                   "Vurdering",
		"col.action":                    "Tiltak",
		"col.count":                     "Meldinger",
		"col.protocol":                  "Protokoll",
		"col.logins":                    "Innlogginger",
		"col.failed":                    "Feilet",
		"col.failed_pct":                "Andel feilet",
		"col.messages":                  "Meldinger",
		"sec.registrations":             "Registreringer",
		"sec.mail":                      "E-post mottatt og sendt",
		"sec.scan":                      "Søppelpost og virus",
		"sec.logins":                    "Innlogginger og lesing per protokoll",
		"sec.traffic":                   "Trafikk",
		"sec.availability":              "Tilgjengelighet",
		"sec.faults":                    "Feil og SLA",
		"sec.oncall":                    "Ukevakt",
		"sec.units":                     "Enheter som går over til tjenesten",
		"fig.units.joined":              "Enheter gått over",
		"fig.units.migrating":           "Enheter under overgang",
		"fig.units.follow_ups_done":     "Oppfølgingskontakter utført",
		"fig.units.follow_ups_overdue":  "Oppfølgingskontakter forfalt",
		"fig.units.reqs_recorded":       "Krav og klager registrert",
		"fig.units.reqs_answered":       "Krav og klager besvart",
		"units.overdue":                 "Forfalte oppfølgingskontakter",
		"col.unit":                      "Enhet",
		"col.follow_up":                 "Oppfølging",
		"col.due":                       "Frist",
		"note.units":                    "%d enheter gikk over og %d er under overgang; %d oppfølgingskontakter ble utført og %d er forfalt; %d krav og klager ble registrert og %d besvart.",
		"note.units.joined":             "Gått over: %s.",
		"sec.missing":                   "Data som mangler",
		"chart.mail":                    "Meldinger per dag",
		"chart.scan":                    "Søppelpost, virus og forbudte vedlegg per dag",
		"chart.logins":                  "Vellykkede innlogginger per dag og protokoll",
		"chart.traffic_days":            "Trafikk per dag",
		"chart.traffic_hours":           "Gjennomsnittlig trafikk per time",
		"series.received":               "Mottatt",
		"series.sent":                   "Sendt",
		"series.previous":               "Mottatt, forrige periode",
		"series.in":                     "Inn",
		"series.out":                    "Ut",
		"series.spam":                   "Søppelpost",
		"series.virus":                  "Virus",
		"series.banned":                 "Forbudt vedlegg",
		"fig.registrations.domains":     "Domener",
		"fig.registrations.mailboxes":   "Tildelte postkasser",
		"fig.registrations.allotted":    "Tildelt postkassekapasitet",
		"fig.scan.scanned":              "Skannede meldinger",
		"fig.scan.spam":                 "Søppelpost",
		"fig.scan.spam_rate":            "Andel søppelpost",
		"fig.scan.virus":                "Virus",
		"fig.scan.banned":               "Forbudte vedlegg",
		"fig.scan.greylisted":           "Gråliste (utsatt)",
		"fig.logins.ok":                 "Vellykkede innlogginger",
		"fig.logins.failed":             "Mislykkede innlogginger",
		"fig.traffic.in":                "Trafikk inn",
		"fig.traffic.out":               "Trafikk ut",
		"fig.traffic.total":             "Trafikk totalt",
		"fig.faults.opened":             "Feilsaker åpnet",
		"fig.faults.resolved":           "Feilsaker løst",
		"fig.faults.in_hours":           "Feil meldt i åpningstid",
		"fig.faults.sla_compliance":     "SLA-oppfyllelse (feil i åpningstid besvart innen målet)",
		"fig.faults.median_ack":         "Median tid til kvittering",
		"fig.faults.median_resolve":     "Median tid til løsning",
		"fig.faults.open_at_end":        "Åpne saker ved periodens slutt",
		"fig.oncall.pages":              "Varsler",
		"fig.oncall.pages_in_hours":     "Varsler i arbeidstid",
		"fig.oncall.pages_out_of_hours": "Varsler utenom arbeidstid",
		"fig.oncall.median_ack":         "Median tid til kvittering av varsel",
		"verdict.clean":                 "Ren",
		"verdict.spam":                  "Søppelpost",
		"verdict.virus":                 "Virus",
		"verdict.banned":                "Forbudt vedlegg",
		"verdict.greylisted":            "Gråliste",
		"action.delivered":              "levert",
		"action.tagged":                 "merket",
		"action.quarantined":            "i karantene",
		"action.rejected":               "avvist",
		"action.deferred":               "utsatt",
		"protocol.webmail":              "Webmail",
		"protocol.imap":                 "IMAP",
		"protocol.pop3":                 "POP",
		"protocol.smtp_auth":            "SMTP AUTH",
		"kind.planned":                  "planlagt",
		"kind.unplanned":                "uplanlagt",
		"status.open":                   "åpen",
		"status.ongoing":                "pågår",
		"unit.days":                     "d",
		"none":                          "Ingen.",
		"kind.received":                 "E-post mottatt",
		"kind.sent":                     "E-post sendt",
		"kind.spam":                     "Søppelpost",
		"kind.logins":                   "Innlogginger",
		"kind.traffic":                  "Trafikk",
		"unitword.received":             "meldinger",
		"unitword.sent":                 "meldinger",
		"unitword.spam":                 "meldinger",
		"unitword.logins":               "innlogginger",
		"note.outliers":                 "Utenfor normalområdet: %s.",
		"note.outlier":                  "%s (%s, %s mot en vanlig %s)",
		"note.no_outliers":              "Ingen dager utenfor normalområdet (median ± %s·MAD).",
		"note.weekday":                  "ukedag",
		"note.weekend":                  "helgedag",
		"note.virus":                    "%s virus og %s forbudte vedlegg stoppet (%s virus i %s).",
		"note.virus.first":              "%s virus og %s forbudte vedlegg stoppet.",
		"note.failed_logins":            "Høyest andel mislykkede innlogginger var for %s: %s av forsøkene.",
		"note.peak":                     "Travleste time var %s med %s; et gjennomsnittsdøgn topper kl. %02d.",
		"note.sla.ok":                   "Alle %d feil meldt i åpningstid ble besvart innen SLA-målet (%s oppfyllelse).",
		"note.sla.breach":               "%d av %d feil meldt i åpningstid ble ikke besvart innen målet: %s.",
		"note.sla.none":                 "Ingen feil ble meldt i åpningstid, så SLA-målet ble ikke prøvd.",
		"note.open":                     "%d saker var fortsatt åpne ved periodens slutt: %s.",
		"note.open.none":                "Ingen saker var åpne ved periodens slutt.",
		"note.oncall":                   "%d varsler i %d vakter, %d av dem utenom arbeidstid; travleste uke hadde %s med %d varsler.",
		"note.oncall.none":              "Ingen varsler i perioden.",
		"sec.breaches":                  "SLA-brudd",
		"note.failed_outliers":          "Mislykkede innlogginger utenfor normalområdet: %s.",
		"note.missing":                  "Disse dataene var ikke tilgjengelige da rapporten ble laget: %s.",
	},
}
