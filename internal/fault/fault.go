// Package fault is the error value every Clavis package returns for a
// failure the caller should hear about. A fault has a kind; the api package
// maps each kind to an HTTP status and problem type exactly once.
package fault

import (
	"errors"
	"fmt"
)

// Kind classifies a failure.
type Kind int

// The kinds docs/api.md names. Internal is the zero value so that an unclassified
// error never leaks detail.
const (
	Internal Kind = iota
	Validation
	Unauthenticated
	Forbidden
	NotFound
	Conflict
	StateConflict
	RateLimited
	Malformed
	TooLarge
)

// FieldError names one invalid input field by its JSON path.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a failure with a kind, a message safe to show the caller, and an
// optional cause that is only logged.
type Error struct {
	Kind Kind
	// Slug overrides the problem type slug for a finer case of the kind
	// (e.g. "email-taken" for a Conflict).
	Slug    string
	Message string
	Fields  []FieldError
	// RetryAfter, in seconds, for RateLimited.
	RetryAfter int
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err, Internal when it carries none.
func KindOf(err error) Kind {
	var f *Error
	if errors.As(err, &f) {
		return f.Kind
	}
	return Internal
}

// As returns the fault inside err, if any.
func As(err error) (*Error, bool) {
	var f *Error
	ok := errors.As(err, &f)
	return f, ok
}

// New returns a fault of kind k.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports one or more invalid fields.
func Invalid(fields ...FieldError) *Error {
	msg := "the request breaks a rule"
	if len(fields) == 1 {
		msg = fields[0].Field + ": " + fields[0].Message
	}
	return &Error{Kind: Validation, Message: msg, Fields: fields}
}

// InvalidField reports one invalid field.
func InvalidField(field, message string) *Error {
	return Invalid(FieldError{Field: field, Message: message})
}

// NotFoundf is a NotFound fault.
func NotFoundf(format string, args ...any) *Error { return New(NotFound, format, args...) }

// Forbiddenf is a Forbidden fault.
func Forbiddenf(format string, args ...any) *Error { return New(Forbidden, format, args...) }

// StateConflictf is a StateConflict fault: a wrong state or a lost race.
func StateConflictf(format string, args ...any) *Error { return New(StateConflict, format, args...) }

// Wrap marks an unexpected error as internal, keeping it for the log only.
func Wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	if _, ok := As(err); ok {
		return err
	}
	return &Error{Kind: Internal, Message: what, Err: err}
}
