package teams

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/; run a fuzzer with
//	go test ./teams -run XXX -fuzz FuzzLoadOrgYAML -fuzztime 30s -fuzzminimizetime 3s
//
// (The default minimisation budget, 60 s per new input, looks like a stall.)

// FuzzLoadOrgYAML: Load never panics, and an org it accepts keeps its own rules.
func FuzzLoadOrgYAML(f *testing.F) {
	f.Add([]byte(base))
	if data, err := os.ReadFile(filepath.Join("testdata", "broken", "many-problems", "org.yaml")); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The parser, without the disk: the fuzzer runs it many thousand
		// times a second. TestLoadFiles covers the file handling.
		l := &loader{file: "org.yaml"}
		org := l.parse(data)
		if org == nil && len(l.probs) == 0 {
			t.Fatal("parse returned neither an org nor a problem")
		}
		for _, p := range l.probs {
			if p.Msg == "" || p.File == "" {
				t.Fatalf("problem without a message or a file: %+v", p)
			}
		}
		if len(l.probs) > 0 {
			return
		}
		if err := checkOrgInvariants(org); err != nil {
			t.Fatalf("Load accepted an org that breaks its rules: %v\n%s", err, data)
		}
	})
}

// checkOrgInvariants restates, independently of validate, what every
// loaded org guarantees to the router.
func checkOrgInvariants(o *Org) error {
	if probs := o.Validate(); len(probs) > 0 {
		return fmt.Errorf("Validate: %v", probs)
	}
	if len(o.Markets) == 0 {
		return errors.New("no markets")
	}
	ids := map[string]bool{}
	for _, t := range o.Teams {
		if t.ID == "" || ids["t"+t.ID] {
			return fmt.Errorf("team id %q empty or repeated", t.ID)
		}
		ids["t"+t.ID] = true
	}
	areas := map[string]bool{}
	for _, m := range o.Markets {
		if m.ID == "" || ids["m"+m.ID] {
			return fmt.Errorf("market id %q empty or repeated", m.ID)
		}
		ids["m"+m.ID] = true
		if _, ok := o.Team(m.HomeTeam); !ok {
			return fmt.Errorf("market %s: home team %q unknown", m.ID, m.HomeTeam)
		}
		for _, f := range m.FallbackTeams {
			if _, ok := o.Team(f); !ok || f == m.HomeTeam {
				return fmt.Errorf("market %s: fallback %q", m.ID, f)
			}
		}
		for _, a := range m.AreaCodes {
			if len(a) != 3 || areas[a] {
				return fmt.Errorf("market %s: area code %q", m.ID, a)
			}
			areas[a] = true
		}
	}
	if o.DefaultMarket != "" {
		if _, ok := o.Market(o.DefaultMarket); !ok {
			return fmt.Errorf("default market %q unknown", o.DefaultMarket)
		}
	}
	for _, a := range o.Agents {
		if a.ID == "" || ids["a"+a.ID] {
			return fmt.Errorf("agent id %q empty or repeated", a.ID)
		}
		ids["a"+a.ID] = true
		if _, ok := o.Team(a.Team); !ok || !a.Role.Valid() {
			return fmt.Errorf("agent %s: team %q, role %q", a.ID, a.Team, a.Role)
		}
		for s, p := range a.Skills {
			if p < 1 || p > 5 {
				return fmt.Errorf("agent %s: skill %s %d", a.ID, s, p)
			}
		}
		for c, n := range a.Channels {
			if n < 1 {
				return fmt.Errorf("agent %s: channel %s %d", a.ID, c, n)
			}
		}
		if o.Routing.TakesContacts(a.Role) && (len(a.Channels) == 0 || len(a.Languages) == 0) {
			return fmt.Errorf("agent %s takes contacts without channels or languages", a.ID)
		}
	}
	if probs := o.Routing.Validate("routing"); len(probs) > 0 {
		return fmt.Errorf("routing: %v", probs)
	}
	return nil
}

// FuzzCustomersCSV: reading customers.csv never panics, and when it finds
// no problem every row of the file can be looked up.
func FuzzCustomersCSV(f *testing.F) {
	f.Add([]byte(CustomersHeader + "\nc1,DET,313-555-0101\nc1,DET,+1 248 555 0102\nc2,CLE,(216) 555-0103\n"))
	f.Add([]byte(CustomersHeader + "\nc1,DET,3135550101\nc2,DET,3135550101\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		markets := map[string]bool{"DET": true, "CLE": true}
		c, probs := readCustomers(bytes.NewReader(data), "customers.csv", markets, 20, int64(len(data)))
		if len(probs) > 21 {
			t.Fatalf("%d problems, want at most 21", len(probs))
		}
		if len(probs) > 0 {
			return
		}
		// No problems: replay the file and look every row up.
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord = -1
		if _, err := r.Read(); err != nil {
			t.Fatalf("accepted a file without a header: %v", err)
		}
		rows := 0
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil || len(rec) != 3 {
				t.Fatalf("accepted a bad row %q: %v", rec, err)
			}
			rows++
			id, market, phone := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1]), strings.TrimSpace(rec[2])
			if got, ok := c.MarketOf(id); !ok || got != market {
				t.Fatalf("MarketOf(%q) = %q, %v; want %q", id, got, ok, market)
			}
			if phone != "" {
				if got, m, ok := c.ByPhone(phone); !ok || got != id || m != market {
					t.Fatalf("ByPhone(%q) = %q, %q, %v; want %q", phone, got, m, ok, id)
				}
			}
		}
		if c.Len() > rows || c.Phones() > rows {
			t.Fatalf("Len %d, Phones %d > %d rows", c.Len(), c.Phones(), rows)
		}
	})
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// FuzzNormalizePhone: the result is E.164 and stable, and the allocation-free
// parser of the customer index agrees with NormalizePhone on every input.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+13135550123", "(313) 555-0123", "1 313 555 0123", "555-0123", "+44 20 7946 0958", "++1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizePhone(s)
		num, err2 := phoneNumber(s)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("NormalizePhone(%q) err = %v but phoneNumber err = %v", s, err, err2)
		}
		if err != nil {
			if !errors.Is(err, ErrBadPhone) || err2.Error() != err.Error() {
				t.Fatalf("errors differ: %v / %v", err, err2)
			}
			return
		}
		if !e164.MatchString(got) {
			t.Fatalf("NormalizePhone(%q) = %q, not E.164", s, got)
		}
		if again, err := NormalizePhone(got); err != nil || again != got {
			t.Fatalf("NormalizePhone(%q) = %q, %v; not stable", got, again, err)
		}
		if fmt.Sprintf("+%d", num) != got {
			t.Fatalf("phoneNumber(%q) = %d, NormalizePhone = %s", s, num, got)
		}
	})
}
