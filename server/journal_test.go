package server

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEntryFormats: a journal holds batch entries, and still replays the
// one-command entries the first versions wrote.
func TestEntryFormats(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []journaled
	}{
		{"one command, first format", `{"t":1,"k":"route","b":{"contact_id":"c-1"}}`,
			[]journaled{{K: "route", B: json.RawMessage(`{"contact_id":"c-1"}`)}}},
		{"a batch", `{"t":1,"c":[{"k":"route","b":{"contact_id":"c-1"}},{"k":"agent_state","b":{"agent_id":"a"}}]}`,
			[]journaled{{K: "route", B: json.RawMessage(`{"contact_id":"c-1"}`)}, {K: "agent_state", B: json.RawMessage(`{"agent_id":"a"}`)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e entry
			if err := json.Unmarshal([]byte(tc.data), &e); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, e.commands()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
