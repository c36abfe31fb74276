// Package validate owns the one error type of configuration validation: an
// *Error names the bad key, the value found there and what is wrong with it,
// and wraps ErrInvalid (and the validating package's own sentinel, if it has
// one), in the way litestream's configuration errors wrap sentinels.
//
// Every package with a configuration section (engine, collectors, oncall,
// reports, internal/webauth, …) returns its Validate errors as *Error, keyed
// relative to its section and joined with errors.Join. internal/config puts
// them in their section (InSection) and fills in File and Line, so that
// `postvakt check-config` prints every problem as
//
//	FILE:LINE: section.key: "value": message
//
// (docs/configuration.md). The package is a leaf: it imports only the
// standard library, so that the domain packages, which must not import
// internal/, can use it.
package validate

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrInvalid is wrapped by every *Error.
var ErrInvalid = errors.New("invalid configuration")

// Error is one bad configuration value.
type Error struct {
	// File and Line locate the key in the configuration file; the loader
	// fills them in. Line is 0 when the key is not in the file.
	File string
	Line int
	// Section is the top-level section Key is relative to ("smtp"); empty
	// for a top-level key, or until InSection places the error.
	Section string
	// Key is the dotted path of the key within Section, with list indexes:
	// "limits.max_line_length", "targets[2].address".
	Key string
	// Value is the bad value as text (a secret is masked by the caller).
	Value string
	// Msg says what is wrong, e.g. "must be at least 1".
	Msg string
	// Err is the validating package's own sentinel (sla.ErrInvalid), if
	// any: errors.Is finds it beside ErrInvalid.
	Err error
}

// Field returns the error for key with the bad value (formatted with
// fmt.Sprint) and the message.
func Field(key string, value any, msg string) *Error {
	return &Error{Key: key, Value: fmt.Sprint(value), Msg: msg}
}

// Fieldf is Field with the message formatted by fmt.Sprintf.
func Fieldf(key string, value any, format string, a ...any) *Error {
	return Field(key, value, fmt.Sprintf(format, a...))
}

// In returns e placed in section: a package that knows its section (the
// engine's "smtp") says so, so that its own error text names the full key.
func (e *Error) In(section string) *Error {
	e.Section = section
	return e
}

// Wrapping returns e wrapping sentinel beside ErrInvalid.
func (e *Error) Wrapping(sentinel error) *Error {
	e.Err = sentinel
	return e
}

// Path is the full dotted key: Section and Key joined by a dot.
func (e *Error) Path() string {
	switch {
	case e.Section == "":
		return e.Key
	case e.Key == "":
		return e.Section
	}
	return e.Section + "." + e.Key
}

// Error is `FILE:LINE: path: "value": message`; the location is left out
// when File is empty, the line when Line is 0.
func (e *Error) Error() string {
	loc := ""
	if e.File != "" {
		loc = e.File + ":"
		if e.Line > 0 {
			loc += strconv.Itoa(e.Line) + ":"
		}
		loc += " "
	}
	return fmt.Sprintf("%s%s: %q: %s", loc, e.Path(), e.Value, e.Msg)
}

// Unwrap returns ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

// Is reports whether target is Err, so that errors.Is finds the validating
// package's sentinel too.
func (e *Error) Is(target error) bool { return e.Err != nil && target == e.Err }

// Errors returns the errors err holds: the list of an errors.Join (one
// level), else err itself; nil when err is nil.
func Errors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// InSection returns the errors err holds (see Errors), each placed in
// section as a copy: an *Error without a section gets section; one placed
// in another section is nested under section (its section becomes the
// front of its key); an error that is not an *Error becomes one naming
// section alone, with its text as the message.
func InSection(section string, err error) []error {
	list := Errors(err)
	out := make([]error, 0, len(list))
	for _, e := range list {
		var fe *Error
		if !errors.As(e, &fe) {
			out = append(out, &Error{Section: section, Msg: e.Error()})
			continue
		}
		c := *fe
		switch c.Section {
		case section:
		case "":
			c.Section = section
		default:
			c.Key = (&Error{Section: c.Section, Key: c.Key}).Path()
			c.Section = section
		}
		out = append(out, &c)
	}
	return out
}

// Nest returns the *Errors that err holds (see Errors) as copies with
// prefix put before their keys: Nest("abuse", err) turns "window" into
// "abuse.window". Errors that are not an *Error are left out.
func Nest(prefix string, err error) []error {
	var out []error
	for _, e := range Errors(err) {
		var fe *Error
		if !errors.As(e, &fe) {
			continue
		}
		c := *fe
		if c.Key == "" {
			c.Key = prefix
		} else {
			c.Key = prefix + "." + c.Key
		}
		out = append(out, &c)
	}
	return out
}
