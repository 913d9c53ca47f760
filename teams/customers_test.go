package teams

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNormalizePhone(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"+13135550123", "+13135550123", true},
		{"313-555-0123", "+13135550123", true},
		{"(313) 555-0123", "+13135550123", true},
		{"313.555.0123", "+13135550123", true},
		{"3135550123", "+13135550123", true},
		{"1 313 555 0123", "+13135550123", true},
		{"13135550123", "+13135550123", true},
		{"+1 (313) 555-0123", "+13135550123", true},
		{"+44 20 7946 0958", "+442079460958", true},
		{"+49 30 901820", "+4930901820", true},
		{"555-0123", "", false},           // 7 digits: no area code
		{"0313 555 0123", "", false},      // 10 digits starting with 0
		{"1313 555 012", "", false},       // 10 digits starting with 1
		{"2 313 555 0123", "", false},     // 11 digits not starting with 1
		{"1 013 555 0123", "", false},     // NANP area codes do not start with 0 or 1
		{"+0 313 555 0123", "", false},    // no country code starts with 0
		{"+1234567", "", false},           // too short
		{"+1234567890123456", "", false},  // 16 digits
		{"+12345678901234567", "", false}, // more than 16 digits
		{"313+5550123", "", false},        // misplaced +
		{"++13135550123", "", false},      // two +
		{"313-555-01O3", "", false},       // a letter O
		{"", "", false},                   // nothing
		{"ext. 12", "", false},            // letters
		{"(313) 555-0123 x12", "", false}, // an extension
		{"\u0663135550123", "", false},    // Arabic-Indic digit
		{" 3 1 3 5 5 5 0 1 2 3 ", "+13135550123", true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NormalizePhone(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("NormalizePhone(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadPhone) {
				t.Errorf("error %v does not wrap ErrBadPhone", err)
			}
			num, err2 := phoneNumber(tc.in)
			if (err2 == nil) != tc.ok {
				t.Fatalf("phoneNumber(%q) error = %v, want ok=%v", tc.in, err2, tc.ok)
			}
			if tc.ok && "+"+fmt.Sprint(num) != tc.want {
				t.Errorf("phoneNumber(%q) = %d, want %s", tc.in, num, tc.want)
			}
		})
	}
}

// newTestCustomers builds an index from (id, market, phone) rows.
func newTestCustomers(t testing.TB, rows ...[3]string) *Customers {
	t.Helper()
	c := NewCustomers()
	for _, r := range rows {
		if err := c.Add(r[0], r[1], r[2]); err != nil {
			t.Fatalf("Add%v: %v", r, err)
		}
	}
	if probs := c.Freeze(); len(probs) > 0 {
		t.Fatalf("Freeze: %v", probs)
	}
	return c
}

func TestCustomersLookup(t *testing.T) {
	c := newTestCustomers(t,
		[3]string{"acct-1", "DET", "+13135550101"},
		[3]string{"acct-2", "CLE", "(216) 555-0102"},
		[3]string{"acct-3", "PHL", ""},             // known by id only
		[3]string{"acct-1", "DET", "248.555.0103"}, // a second phone, adjacent
		[3]string{"acct-4", "DET", "+44 20 7946 0958"},
		[3]string{"acct-2", "CLE", "440-555-0104"}, // a second phone, later
		[3]string{"acct-1", "DET", "+13135550101"}, // the same row twice
	)
	if got := c.Len(); got != 4 {
		t.Errorf("Len = %d, want 4", got)
	}
	if got := c.Phones(); got != 5 {
		t.Errorf("Phones = %d, want 5", got)
	}
	byID := []struct {
		id, market string
		ok         bool
	}{
		{"acct-1", "DET", true},
		{"acct-2", "CLE", true},
		{"acct-3", "PHL", true},
		{"acct-4", "DET", true},
		{"acct-5", "", false},
		{"acct-", "", false},
		{"", "", false},
	}
	for _, tc := range byID {
		m, ok := c.MarketOf(tc.id)
		if m != tc.market || ok != tc.ok {
			t.Errorf("MarketOf(%q) = %q, %v; want %q, %v", tc.id, m, ok, tc.market, tc.ok)
		}
	}
	byPhone := []struct {
		phone, id, market string
		ok                bool
	}{
		{"+13135550101", "acct-1", "DET", true},
		{"313-555-0101", "acct-1", "DET", true},
		{"(313) 555-0101", "acct-1", "DET", true},
		{"1 313 555 0101", "acct-1", "DET", true},
		{"+12485550103", "acct-1", "DET", true},
		{"2165550102", "acct-2", "CLE", true},
		{"+14405550104", "acct-2", "CLE", true},
		{"+442079460958", "acct-4", "DET", true},
		{"+13135550199", "", "", false},
		{"not a phone", "", "", false},
		{"", "", "", false},
	}
	for _, tc := range byPhone {
		id, m, ok := c.ByPhone(tc.phone)
		if id != tc.id || m != tc.market || ok != tc.ok {
			t.Errorf("ByPhone(%q) = %q, %q, %v; want %q, %q, %v", tc.phone, id, m, ok, tc.id, tc.market, tc.ok)
		}
	}
}

func TestCustomersConflicts(t *testing.T) {
	c := NewCustomers()
	for _, r := range [][3]string{
		{"a", "DET", "3135550101"},
		{"b", "DET", "3135550101"}, // another customer's phone
		{"a", "CLE", "2165550102"}, // another market
	} {
		if err := c.Add(r[0], r[1], r[2]); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, p := range c.Freeze() {
		got = append(got, p.String())
	}
	want := []string{
		"customer a: market CLE conflicts with market DET",
		"customer b: phone +13135550101 is also the phone of customer a",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("conflicts (-want +got):\n%s", diff)
	}
	// The first row wins.
	if m, _ := c.MarketOf("a"); m != "DET" {
		t.Errorf("MarketOf(a) = %q, want DET", m)
	}
	if id, _, _ := c.ByPhone("3135550101"); id != "a" {
		t.Errorf("ByPhone = %q, want a", id)
	}
}

func TestCustomersAddErrors(t *testing.T) {
	c := NewCustomers()
	for _, tc := range []struct{ id, market, phone, want string }{
		{"", "DET", "", "customer id is empty"},
		{"a", "", "", "customer a: market is empty"},
		{"a", "DET", "12", `customer a: phone number cannot be normalised to E.164: "12" (want +<country><number>, or a 10-digit North American number)`},
	} {
		err := c.Add(tc.id, tc.market, tc.phone)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Add(%q, %q, %q) = %v, want %s", tc.id, tc.market, tc.phone, err, tc.want)
		}
	}
}

// TestCustomersAddAfterFreeze: rows added after a Freeze are merged by the
// next one, or by the first lookup.
func TestCustomersAddAfterFreeze(t *testing.T) {
	c := newTestCustomers(t, [3]string{"a", "DET", "3135550101"})
	if err := c.Add("b", "CLE", "2165550102"); err != nil {
		t.Fatal(err)
	}
	if err := c.Add("a", "DET", "3135550103"); err != nil {
		t.Fatal(err)
	}
	if m, ok := c.MarketOf("b"); !ok || m != "CLE" {
		t.Errorf("MarketOf(b) = %q, %v", m, ok)
	}
	if id, _, ok := c.ByPhone("3135550103"); !ok || id != "a" {
		t.Errorf("ByPhone = %q, %v", id, ok)
	}
	if c.Len() != 2 || c.Phones() != 3 {
		t.Errorf("Len, Phones = %d, %d; want 2, 3", c.Len(), c.Phones())
	}
	if probs := c.Freeze(); len(probs) != 0 {
		t.Errorf("Freeze = %v", probs)
	}
}

func TestNilCustomers(t *testing.T) {
	var c *Customers
	if _, ok := c.MarketOf("a"); ok {
		t.Error("MarketOf on nil found a customer")
	}
	if _, _, ok := c.ByPhone("+13135550101"); ok {
		t.Error("ByPhone on nil found a customer")
	}
	if c.Len() != 0 {
		t.Error("Len on nil is not 0")
	}
}

// TestCustomersManyRows checks lookups over enough rows to exercise the
// binary searches, with every other customer on two non-adjacent rows.
func TestCustomersManyRows(t *testing.T) {
	const n = 20000
	var b strings.Builder
	b.WriteString(CustomersHeader + "\n")
	for i := range n {
		fmt.Fprintf(&b, "c%d,DET,+1313%07d\n", i, i)
	}
	for i := 0; i < n; i += 2 {
		fmt.Fprintf(&b, "c%d,DET,(248) %03d-%04d\n", i, i/10000, i%10000)
	}
	c, probs := readCustomers(strings.NewReader(b.String()), "customers.csv", map[string]bool{"DET": true}, 10, int64(b.Len()))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if c.Len() != n || c.Phones() != n+n/2 {
		t.Fatalf("Len, Phones = %d, %d", c.Len(), c.Phones())
	}
	for i := range n {
		id := fmt.Sprintf("c%d", i)
		if m, ok := c.MarketOf(id); !ok || m != "DET" {
			t.Fatalf("MarketOf(%s) = %q, %v", id, m, ok)
		}
		if got, _, ok := c.ByPhone(fmt.Sprintf("+1313%07d", i)); !ok || got != id {
			t.Fatalf("ByPhone #%d = %q, %v", i, got, ok)
		}
		if i%2 == 0 {
			if got, _, ok := c.ByPhone(fmt.Sprintf("248%03d%04d", i/10000, i%10000)); !ok || got != id {
				t.Fatalf("ByPhone second #%d = %q, %v", i, got, ok)
			}
		}
	}
}
