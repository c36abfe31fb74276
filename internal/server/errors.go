package server

import (
	"errors"
	"log/slog"
	"net/http"
)

// Stable error codes of the JSON API. Clients match on these, never on the
// message text.
const (
	CodeUnauthorized = "unauthorized"
	CodeForbidden    = "forbidden"
	CodeNotFound     = "not_found"
	CodeBadRequest   = "bad_request"
	CodeConflict     = "conflict"
	CodeTooLarge     = "too_large"
	CodeUnavailable  = "unavailable"
	CodeInternal     = "internal"
	CodeMethod       = "method_not_allowed"
	// CodeInvalidConfig answers a reload whose configuration file is
	// refused (422): the message names FILE:LINE of each problem.
	CodeInvalidConfig = "invalid_configuration"
)

// Error is an API error: an HTTP status, a stable code and a message safe to
// show the client.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// BadRequest is a 400 with the given message.
func BadRequest(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: msg}
}

// NotFound is a 404 with the given message.
func NotFound(msg string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: msg}
}

// Conflict is a 409 with the given message.
func Conflict(msg string) *Error {
	return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: msg}
}

// Internal is a 500 whose message says nothing of the cause.
func Internal() *Error {
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
}

// WriteError writes err as a JSON error body. An error that is not an *Error
// becomes a 500 whose text is logged, never shown.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		slog.Default().Error("api internal error", "path", r.URL.Path, "err", err)
		e = Internal()
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="postvakt"`)
	}
	writeJSON(w, e.Status, map[string]*Error{"error": e})
}
