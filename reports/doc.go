// Package reports owns the monthly operations report to the steering group:
// the period, the model of figures with the previous period beside each and
// the change in per cent, the written analysis generated from the data, the
// charts, rendering to HTML (one html/template source), PDF (headless
// Chromium, or a built-in renderer with an embedded font) and CSV, delivery
// by e-mail and the scheduled job that generates, archives and sends the
// report once per period.
//
// The content follows the monthly operations reports that university and
// academy mail centres write (docs/reports.md): registrations, mail received
// and sent, spam and virus handling, logins by protocol, traffic,
// availability, faults and SLA compliance, on-call load. The package reads
// its data through Source and keeps its archive through Archive; both are
// implemented by internal/store/reportstore.
//
// # Sections
//
// Each section of the report is declared once, in section_<id>.go: its part
// of the model (a type such as MailSection), the build step that fills it
// from the Source, the analysis notes it writes, and its body: a list of
// blocks (section.go) holding tables, charts, notes and the records the CSV
// exports. The renderers walk the bodies and know no section: the HTML
// template (report.html.tmpl, which Chromium also prints to PDF), the
// built-in PDF (pdf_builtin.go), the CSV (csv.go) and the e-mail's plain
// text (mail.go).
//
// To add a section:
//
//  1. Write section_<id>.go with the model type (JSON tags: it is archived),
//     the build step (a builder method that returns ErrNoData when the
//     Source has nothing, so the report says the data is missing), its notes,
//     and the body: figuresBlock for figures (shown as a table and exported),
//     tableBlock for other tables (columns with a heading, Num for numbers,
//     and a width in the built-in PDF in mm, the row adding up to 182),
//     chartBlock, notesBlock, and recordsBlock for the other numbers the CSV
//     exports (dayRecord, periodRecord, figureRecords). Declare it as a
//     section value with its id; set inSummary to put its first note in the
//     summary, shown if the configuration can switch it off.
//  2. Add its field to Report (model.go) and its value to sections
//     (section.go), where it is to appear.
//  3. Add the texts to both catalogues in i18n.go: "sec.<id>" (the heading),
//     "fig.<key>" for each figure, and any column, chart or note texts.
//  4. Only if it needs data the Source does not give: a method on Source
//     (source.go), implemented by internal/store/reportstore (over a named
//     reader of the store that owns the data) and reportstest.Memory; the
//     sums and mappings of rows into the model go in reports (rollups.go).
//  5. Rewrite the golden files (go test ./reports -update) and read their
//     diff: the model's JSON and the CSV.
//
// Neither the template, the PDF renderers nor the CSV change.
package reports
