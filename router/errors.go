package router

import "fmt"

// Error codes of PROTOCOL.md "Ack and errors".
const (
	CodeInvalidRequest    = "invalid_request"
	CodeUnknownAgent      = "unknown_agent"
	CodeUnknownContact    = "unknown_contact"
	CodeInvalidTransition = "invalid_transition"
	CodeUnavailable       = "unavailable"
)

// Error is a refused command. Code is one of the PROTOCOL.md codes; Message
// says what is wrong in words a telephony engineer can act on. A refused
// command never changes state.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is matches errors by code, so errors.Is(err, ErrUnknownAgent) works for
// every unknown-agent error whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == ""
}

// Sentinels for errors.Is; each matches every Error with its code.
var (
	// ErrInvalidRequest: bad JSON, a missing field, an unknown enum, a value out of range.
	ErrInvalidRequest = &Error{Code: CodeInvalidRequest}
	// ErrUnknownAgent: the agent id is not in the org.
	ErrUnknownAgent = &Error{Code: CodeUnknownAgent}
	// ErrUnknownContact: the contact id was never routed, or was forgotten after retention
	// (contact_retention_seconds, max_retained_contacts).
	ErrUnknownContact = &Error{Code: CodeUnknownContact}
	// ErrInvalidTransition: the command does not fit the current state.
	ErrInvalidTransition = &Error{Code: CodeInvalidTransition}
	// ErrUnavailable: the engine cannot serve the request right now.
	ErrUnavailable = &Error{Code: CodeUnavailable}
)

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
