package teams

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	memdb "github.com/hashicorp/go-memdb"
)

// TestSchemaGolden keeps a readable dump of the schema in
// testdata/schema.golden, so that a changed index shows up in review.
func TestSchemaGolden(t *testing.T) {
	schema := stateStoreSchema()
	if err := schema.Validate(); err != nil {
		t.Fatal(err)
	}
	got := dumpSchema(schema)
	golden := filepath.Join("testdata", "schema.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("schema changed; if on purpose, run go test ./teams -run TestSchemaGolden -update (-want +got):\n%s", diff)
	}
}

func dumpSchema(s *memdb.DBSchema) string {
	var b strings.Builder
	tables := sortedKeys(s.Tables)
	for _, tn := range tables {
		t := s.Tables[tn]
		fmt.Fprintf(&b, "table %s\n", tn)
		for _, in := range sortedKeys(t.Indexes) {
			ix := t.Indexes[in]
			var flags []string
			if ix.Unique {
				flags = append(flags, "unique")
			}
			if ix.AllowMissing {
				flags = append(flags, "allow_missing")
			}
			fmt.Fprintf(&b, "  index %-10s %-28s %s\n", in, strings.Join(flags, ","), describeIndexer(ix.Indexer))
		}
	}
	return b.String()
}

func describeIndexer(ix memdb.Indexer) string {
	switch x := ix.(type) {
	case *memdb.StringFieldIndex:
		return fmt.Sprintf("string(%s, lowercase=%v)", x.Field, x.Lowercase)
	case *memdb.StringSliceFieldIndex:
		return fmt.Sprintf("string_slice(%s, lowercase=%v)", x.Field, x.Lowercase)
	case *memdb.CompoundIndex:
		parts := make([]string, len(x.Indexes))
		for i, sub := range x.Indexes {
			parts[i] = describeIndexer(sub)
		}
		return fmt.Sprintf("compound(%s; allow_missing=%v)", strings.Join(parts, ", "), x.AllowMissing)
	default:
		return fmt.Sprintf("%T", ix)
	}
}

// testOrg is a two-team org for store tests.
func testOrg() *Org {
	return &Org{
		Markets: []Market{{ID: "DET", HomeTeam: "T1"}, {ID: "CLE", HomeTeam: "T2"}},
		Teams:   []Team{{ID: "T1", Site: "Chattanooga"}, {ID: "T2"}},
		Agents: []Agent{
			{ID: "a1", Team: "T1", Role: RoleExpert, Skills: map[string]int{"billing": 4, "tech": 2}},
			{ID: "a2", Team: "T1", Role: RoleTechSpecialist, Skills: map[string]int{"tech": 5}},
			{ID: "a3", Team: "T2", Role: RoleExpert, Skills: map[string]int{"billing": 3}},
			{ID: "a4", Team: "T1", Role: RoleLead},
		},
	}
}

func ids[T any](rows []T, id func(T) string) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, id(r))
	}
	return out
}

func agentID(a *AgentRow) string      { return a.ID }
func stateID(a *AgentStateRow) string { return a.AgentID }
func contactID(c *ContactRow) string  { return c.ContactID }
func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := NewStore(testOrg())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreDirectory(t *testing.T) {
	s := newTestStore(t)
	snap := s.Snapshot()
	cases := []struct {
		name string
		got  []string
		want []string
	}{
		{"team T1", ids(snap.AgentsByTeam("T1"), agentID), []string{"a1", "a2", "a4"}},
		{"team T9", ids(snap.AgentsByTeam("T9"), agentID), []string{}},
		{"skill tech", ids(snap.AgentsBySkill("tech"), agentID), []string{"a1", "a2"}},
		{"skill billing", ids(snap.AgentsBySkill("billing"), agentID), []string{"a1", "a3"}},
		{"role lead", ids(snap.AgentsByRole(RoleLead), agentID), []string{"a4"}},
		{"markets", ids(snap.Markets(), func(m *Market) string { return m.ID }), []string{"CLE", "DET"}},
		{"teams", ids(snap.Teams(), func(t *Team) string { return t.ID }), []string{"T1", "T2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	a, ok := snap.Agent("a1")
	if !ok || a.Role != RoleExpert || !cmp.Equal(a.SkillNames, []string{"billing", "tech"}) {
		t.Errorf("Agent(a1) = %+v, %v", a, ok)
	}
}

func TestStoreAgentStates(t *testing.T) {
	s := newTestStore(t)
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	rows := []*AgentStateRow{
		{AgentID: "a1", Team: "T1", State: "available", Since: at},
		{AgentID: "a2", Team: "T1", State: "busy", Since: at, ActiveContacts: []string{"c1"}, CurrentContact: "c1", ContactsToday: 3},
		{AgentID: "a3", Team: "T2", State: "available", Since: at},
	}
	if err := s.ApplyAgentStates(rows); err != nil {
		t.Fatal(err)
	}
	before := s.Snapshot()
	// The store keeps copies: changing a row after applying it changes nothing.
	rows[1].ActiveContacts[0] = "changed"
	rows[0].State = "changed"

	if err := s.ApplyAgentStates([]*AgentStateRow{{AgentID: "a1", Team: "T1", State: "away", Since: at.Add(time.Minute), Reason: "lunch"}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		got  []string
		want []string
	}{
		{"T1 all", ids(s.AgentStates("T1"), stateID), []string{"a1", "a2"}},
		{"T1 available now", ids(s.AgentStatesByState("T1", "available"), stateID), []string{}},
		{"T1 away now", ids(s.AgentStatesByState("T1", "away"), stateID), []string{"a1"}},
		{"T1 available in the old snapshot", ids(before.AgentStatesByState("T1", "available"), stateID), []string{"a1"}},
		{"T1 away in the old snapshot", ids(before.AgentStatesByState("T1", "away"), stateID), []string{}},
		{"T2 available", ids(s.AgentStatesByState("T2", "available"), stateID), []string{"a3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	a2, _ := s.Snapshot().AgentState("a2")
	want := &AgentStateRow{AgentID: "a2", Team: "T1", State: "busy", Since: at, ActiveContacts: []string{"c1"}, CurrentContact: "c1", ContactsToday: 3}
	if diff := cmp.Diff(want, a2); diff != "" {
		t.Errorf("a2 (-want +got):\n%s", diff)
	}
	if err := s.ApplyAgentStates([]*AgentStateRow{{AgentID: "a1", Team: "T1"}}); err == nil {
		t.Error("a row without a state was accepted")
	}
}

func TestStoreContacts(t *testing.T) {
	s := newTestStore(t)
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	c := func(id, team, state string, prio int, order int64) *ContactRow {
		return &ContactRow{ContactID: id, Market: "DET", Team: team, State: state, Channel: ChannelVoice,
			Priority: prio, Order: order, ArrivedAt: at}
	}
	if err := s.ApplyContacts([]*ContactRow{
		c("c1", "T1", "queued", 0, 2),
		c("c2", "T1", "queued", 0, 1),
		c("c3", "T1", "active", 0, 0),
		c("c4", "T1", "callback", 0, 3),
		c("c5", "T2", "queued", 0, 1),
		c("c6", "T1", "queued", 5, 9),  // higher priority: ahead of every 0
		c("c7", "T1x", "queued", 0, 0), // a team name T1 is a prefix of
	}, nil); err != nil {
		t.Fatal(err)
	}
	before := s.Snapshot()
	// c2 is answered, c3 ends (forgotten), c6 is requeued to the front:
	// one batch, and nobody else's row is rewritten.
	if err := s.ApplyContacts([]*ContactRow{c("c2", "T1", "active", 0, 0), c("c6", "T1", "queued", 5, -1)}, []string{"c3", "c-unknown"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		got  []string
		want []string
	}{
		{"T1 queue", ids(s.Queue("T1"), contactID), []string{"c6", "c1", "c4"}},
		{"T1 queue before", ids(before.Queue("T1"), contactID), []string{"c6", "c2", "c1", "c4"}},
		{"T2 queue", ids(s.Queue("T2"), contactID), []string{"c5"}},
		{"T1 contacts", ids(s.Snapshot().Contacts("T1"), contactID), []string{"c1", "c2", "c4", "c6"}},
		{"T1 contacts before", ids(before.Contacts("T1"), contactID), []string{"c1", "c2", "c3", "c4", "c6"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	snap := s.Snapshot()
	for id, want := range map[string]int{"c6": 1, "c1": 2, "c4": 3, "c2": 0, "c5": 1} {
		r, ok := snap.Contact(id)
		if got := snap.Position(r); !ok || got != want {
			t.Errorf("Position(%s) = %d, want %d", id, got, want)
		}
	}
	if _, ok := s.Contact("c3"); ok {
		t.Error("deleted contact c3 is still there")
	}
	if got, ok := s.Contact("c2"); !ok || got.State != "active" {
		t.Errorf("Contact(c2) = %+v, %v", got, ok)
	}
	if got, ok := before.Contact("c3"); !ok || got.State != "active" {
		t.Errorf("old snapshot Contact(c3) = %+v, %v", got, ok)
	}
}

func TestEWTLine(t *testing.T) {
	l := &EWTLine{First: 12, Step: 30}
	for pos, want := range map[int]float64{0: 12, 1: 12, 2: 42, 4: 102} {
		if got := l.EWT(pos); got != want {
			t.Errorf("EWT(%d) = %v, want %v", pos, got, want)
		}
	}
}

func TestStoreReplaceLive(t *testing.T) {
	s := newTestStore(t)
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	if err := s.ApplyAgentStates([]*AgentStateRow{{AgentID: "a1", Team: "T1", State: "busy", Since: at}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyContacts([]*ContactRow{{ContactID: "lost", Team: "T1", State: "queued"}}, nil); err != nil {
		t.Fatal(err)
	}
	before := s.Snapshot()
	if err := s.ReplaceLive([]*AgentStateRow{{AgentID: "a2", Team: "T1", State: "available", Since: at}},
		[]*ContactRow{{ContactID: "kept", Team: "T1", State: "queued"}}); err != nil {
		t.Fatal(err)
	}
	if got := ids(s.AgentStates("T1"), stateID); !cmp.Equal(got, []string{"a2"}) {
		t.Errorf("agent states = %v, want [a2]", got)
	}
	if got := ids(s.Queue("T1"), contactID); !cmp.Equal(got, []string{"kept"}) {
		t.Errorf("queue = %v, want [kept]", got)
	}
	if got := ids(before.Queue("T1"), contactID); !cmp.Equal(got, []string{"lost"}) {
		t.Errorf("old snapshot queue = %v, want [lost]", got)
	}
	// A bad row refuses the whole replacement.
	if err := s.ReplaceLive(nil, []*ContactRow{{ContactID: "x"}}); err == nil {
		t.Error("a contact without team and state was accepted")
	}
	if got := ids(s.Queue("T1"), contactID); !cmp.Equal(got, []string{"kept"}) {
		t.Errorf("queue after a refused replacement = %v, want [kept]", got)
	}
}

func TestAgentStateToday(t *testing.T) {
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	r := &AgentStateRow{ContactsToday: 7, CountedOn: day}
	for _, tc := range []struct {
		now  time.Time
		want int
	}{
		{day.Add(9 * time.Hour), 7},
		{day.Add(24*time.Hour - time.Nanosecond), 7},
		{day.Add(24 * time.Hour), 0},
		{day.Add(-time.Hour), 0},
	} {
		if got := r.Today(tc.now); got != tc.want {
			t.Errorf("Today(%v) = %d, want %d", tc.now, got, tc.want)
		}
	}
}

func TestStoreSampleOrg(t *testing.T) {
	org, err := Load(sampleOrgDir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStore(org)
	if err != nil {
		t.Fatal(err)
	}
	snap := s.Snapshot()
	counts := map[string]int{}
	for _, tm := range snap.Teams() {
		roles := map[Role]int{}
		for _, a := range snap.AgentsByTeam(tm.ID) {
			roles[a.Role]++
		}
		counts[tm.ID] = len(snap.AgentsByTeam(tm.ID))
		want := map[Role]int{RoleExpert: 32, RoleTechSpecialist: 8, RoleCoach: 4, RoleResolution: 1, RoleResourceManager: 1, RoleLead: 1}
		if diff := cmp.Diff(want, roles); diff != "" {
			t.Errorf("team %s roles (-want +got):\n%s", tm.ID, diff)
		}
	}
	keys := sortedKeys(counts)
	sort.Strings(keys)
	if diff := cmp.Diff([]string{"CHA-CLE", "CHA-DET", "KNX-PHL"}, keys); diff != "" {
		t.Errorf("teams (-want +got):\n%s", diff)
	}
}

// A reader sees an Apply whole or not at all: the agent who took a contact
// and the contact's new state come in one transaction. A bad row refuses
// the whole batch.
func TestStoreApplyIsOneTransaction(t *testing.T) {
	s := newTestStore(t)
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	if err := s.Apply([]*AgentStateRow{{AgentID: "a1", Team: "T1", State: "available", Since: at}},
		[]*ContactRow{{ContactID: "c1", Team: "T1", State: "queued"}, {ContactID: "c2", Team: "T1", State: "queued"}}, nil); err != nil {
		t.Fatal(err)
	}
	before := s.Snapshot()
	if err := s.Apply([]*AgentStateRow{{AgentID: "a1", Team: "T1", State: "reserved", Since: at, ActiveContacts: []string{"c1"}}},
		[]*ContactRow{{ContactID: "c1", Team: "T1", State: "offered"}}, []string{"c2"}); err != nil {
		t.Fatal(err)
	}
	if got := ids(before.Queue("T1"), contactID); !cmp.Equal(got, []string{"c1", "c2"}) {
		t.Errorf("queue before = %v, want [c1 c2]", got)
	}
	if got := before.AgentStates("T1"); len(got) != 1 || got[0].State != "available" {
		t.Errorf("agent before = %+v, want available", got)
	}
	if got := ids(s.Queue("T1"), contactID); len(got) != 0 {
		t.Errorf("queue after = %v, want empty", got)
	}
	if got := s.AgentStates("T1"); len(got) != 1 || got[0].State != "reserved" {
		t.Errorf("agent after = %+v, want reserved", got)
	}
	if c, ok := s.Contact("c1"); !ok || c.State != "offered" {
		t.Errorf("Contact(c1) = %+v, %v; want offered", c, ok)
	}

	after := s.Snapshot()
	err := s.Apply([]*AgentStateRow{{AgentID: "a1", Team: "T1", State: "available", Since: at}},
		[]*ContactRow{{ContactID: "c3", Team: "T1"}}, []string{"c1"})
	if !errors.Is(err, ErrBadRow) {
		t.Fatalf("Apply with a contact without state: err = %v, want ErrBadRow", err)
	}
	if diff := cmp.Diff(after.AgentStates("T1"), s.AgentStates("T1")); diff != "" {
		t.Errorf("a refused Apply changed agent states (-before +after):\n%s", diff)
	}
	if _, ok := s.Contact("c1"); !ok {
		t.Error("a refused Apply deleted c1")
	}
}
