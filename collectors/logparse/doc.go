// Package logparse turns single lines of mail-server logs into typed events.
//
// It owns two steps and nothing else:
//
//  1. Framing: a [Framer] splits a line into a [Frame] (time, host, program,
//     pid, message). It understands traditional BSD syslog timestamps without
//     a year (RFC 3164 §4.1.2, as written by Postfix's postlogd and by
//     syslogd), RFC 3339 timestamps with fractional seconds (rsyslog's
//     RSYSLOG_FileFormat), an optional leading <PRI> (RFC 3164 §4.1.1), and
//     clamd's own LogFile format. Years missing from traditional timestamps
//     are inferred by a [YearGuesser].
//
//  2. Parsing: [Parse] dispatches a Frame on its program tag to the parser
//     of its [Family] (postfix/*, dovecot, amavis, postgrey, clamd, rspamd,
//     roundcube: the families table in parse.go) and then on the shape of
//     the message, returning one [Event] from a closed set of types
//     enumerated by [Kind]. Dispatching on the tag first means text a remote
//     party controls (a HELO name, an address, a Subject) can never make a
//     line of one program look like an event of another, and each parser
//     only looks for the shapes its program writes.
//
// A line that no parser recognises becomes an [Unknown] event carrying its
// program, so callers can count unknown lines per program instead of
// dropping them. Malformed lines give a *[FrameError] wrapping [ErrMalformed];
// no input makes the package panic (see the fuzz targets).
//
// Events keep substrings of the line they came from; they do not copy text.
// The hot path (Postfix lines) uses hand-written scanners and no regular
// expressions. Correlating events into messages belongs to package
// collectors/correlate.
package logparse
