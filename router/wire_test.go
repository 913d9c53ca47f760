package router

import (
	"strings"
	"testing"
)

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"empty", "", "body is empty"},
		{"not json", "hello", "malformed JSON at byte 1"},
		{"truncated", `{"contact_id": "c1"`, "ends early"},
		{"array", `[1,2]`, "must be a JSON object"},
		{"wrong type", `{"contact_id": 7, "channel": "voice"}`, `field "contact_id" must be a string, not number`},
		{"priority as string", `{"contact_id": "c", "priority": "high"}`, `field "priority" must be a number, not string`},
		{"skills as string", `{"contact_id": "c", "skills": "billing"}`, `field "skills" must be an array of strings`},
		{"trailing data", `{"contact_id": "c"} {}`, "data after the JSON object"},
		{"oversized", `{"contact_id": "` + strings.Repeat("x", MaxBodyBytes) + `"}`, "the limit is"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRouteRequest([]byte(tc.body))
			wantCode(t, err, ErrInvalidRequest)
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
	if _, err := DecodeContactEvent([]byte(`{"contact_id":"c1","type":"ended","at":"yesterday"}`)); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Fatalf("bad time: %v", err)
	}
	if _, err := DecodeContactEvent([]byte(`{"contact_id":"c1","type":"wrapped_up","resolved":"yes"}`)); err == nil || !strings.Contains(err.Error(), "true or false") {
		t.Fatalf("bad bool: %v", err)
	}
	r, err := DecodeRouteRequest([]byte(`{"contact_id":"c1","channel":"voice","future_field":{"x":1}}`))
	if err != nil || r.ContactID != "c1" {
		t.Fatalf("unknown fields must be ignored: %v", err)
	}
}

// FuzzRouteRequest feeds arbitrary bodies through the decoder and the core:
// nothing panics, and a refused request changes nothing.
func FuzzRouteRequest(f *testing.F) {
	for _, s := range []string{
		`{"contact_id": "c-1001", "channel": "voice", "customer_id": "acct-42", "ani": "+13135550123", "market": "DET", "skills": ["billing"], "language": "en", "priority": 0}`,
		`{"contact_id": "c-1", "channel": "messaging", "ani": "313.555.0100"}`,
		`{"contact_id": "", "channel": "voice"}`,
		`{"contact_id": "c", "priority": 1e400}`,
		`{"contact_id": "c", "channel": "voice", "skills": [null]}`,
		`[]`, `null`, `{}`, `{"contact_id": "\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	org := smallOrg(2)
	f.Fuzz(func(t *testing.T, body []byte) {
		c := newCore(t, org)
		mustState(t, c, 0, "det-001", AgentAvailable)
		c.Events()
		req, err := DecodeRouteRequest(body)
		if err != nil {
			return
		}
		r, err := c.Route(at(1), req)
		if err != nil {
			if len(c.contacts) != 0 || len(c.Events()) != 0 {
				t.Fatalf("refused request %q changed state", body)
			}
			return
		}
		if r.ContactID != req.ContactID || (r.Status != StatusAssigned && r.Status != StatusQueued) {
			t.Fatalf("reply %+v for %q", r, body)
		}
		checkInvariants(t, c)
	})
}

func FuzzContactEvent(f *testing.F) {
	for _, s := range []string{
		`{"contact_id": "c1", "type": "accepted", "agent_id": "det-001"}`,
		`{"contact_id": "c1", "type": "ended", "hold_seconds": 35}`,
		`{"contact_id": "c1", "type": "wrapped_up", "resolved": true, "disposition": "billing-adjustment"}`,
		`{"contact_id": "c1", "type": "abandoned"}`,
		`{"contact_id": "c1", "type": "callback_requested", "number": "+13135550123"}`,
		`{"contact_id": "c1", "type": "transferred", "to": "retention-desk", "at": "2026-11-23T10:00:00Z"}`,
		`{"contact_id": "c1", "type": "ended", "hold_seconds": -1}`,
	} {
		f.Add([]byte(s), []byte(`{"contact_id":"c1","type":"accepted"}`))
	}
	org := smallOrg(2)
	f.Fuzz(func(t *testing.T, first, second []byte) {
		c := newCore(t, org)
		mustState(t, c, 0, "det-001", AgentAvailable)
		mustRoute(t, c, 0, RouteRequest{ContactID: "c1", Channel: "voice", ANI: "+13135550142"})
		for i, body := range [][]byte{first, second} {
			ev, err := DecodeContactEvent(body)
			if err != nil {
				continue
			}
			before, _ := c.Contact("c1")
			if _, err := c.HandleContactEvent(at(float64(i+1)), ev); err != nil {
				after, _ := c.Contact("c1")
				if before.State != after.State || before.Agent != after.Agent {
					t.Fatalf("refused event %q changed the contact: %+v -> %+v", body, before, after)
				}
			}
			checkInvariants(t, c)
		}
	})
}
