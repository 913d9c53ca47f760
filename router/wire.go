package router

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// MaxBodyBytes is the largest request body the engine accepts, on NATS and
// HTTP alike. Real requests are a few hundred bytes.
const MaxBodyBytes = 64 << 10

// DecodeRouteRequest decodes a RouteRequest body. Unknown fields are
// ignored (older servers accept newer clients); wrong types, bad JSON and
// oversized bodies are invalid_request errors that name the field.
func DecodeRouteRequest(body []byte) (*RouteRequest, error) {
	var r RouteRequest
	if err := decode(body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// DecodeAgentState decodes an AgentState body.
func DecodeAgentState(body []byte) (*AgentStateRequest, error) {
	var r AgentStateRequest
	if err := decode(body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// DecodeContactEvent decodes a ContactEvent body.
func DecodeContactEvent(body []byte) (*ContactEvent, error) {
	var r ContactEvent
	if err := decode(body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func decode(body []byte, v any) error {
	if len(body) > MaxBodyBytes {
		return errorf(CodeInvalidRequest, "body is %d bytes; the limit is %d", len(body), MaxBodyBytes)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return errorf(CodeInvalidRequest, "body is empty; want a JSON object")
	}
	// Unmarshal takes exactly the one-value bodies the decoder below
	// takes, at half its cost; the decoder's errors say more.
	if json.Unmarshal(body, v) == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return errorf(CodeInvalidRequest, "%s", describeJSONError(err, body))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errorf(CodeInvalidRequest, "body has data after the JSON object")
	}
	return nil
}

// describeJSONError turns encoding/json's errors into messages that say
// which field or byte is wrong.
func describeJSONError(err error, body []byte) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return fmt.Sprintf("body must be a JSON object, not %s", typeErr.Value)
		}
		return fmt.Sprintf("field %q must be %s, not %s", typeErr.Field, jsonKind(typeErr.Type.String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	case errors.As(err, &timeErr):
		return fmt.Sprintf("field \"at\" must be an RFC 3339 time such as 2026-11-23T10:00:00Z, not %s", timeErr.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("malformed JSON: the body ends early after %d bytes", len(body))
	}
	return "malformed JSON: " + err.Error()
}

func jsonKind(goType string) string {
	switch goType {
	case "string":
		return "a string"
	case "int", "int64", "float64":
		return "a number"
	case "bool", "*bool":
		return "true or false"
	case "[]string":
		return "an array of strings"
	case "*time.Time", "time.Time":
		return "an RFC 3339 time string"
	}
	return goType
}
