package benchmarks

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/tex-cx/tex/teams"
)

// writeCustomerOrg writes an org with n customers, a third of them with a
// second phone on a later row, phones in mixed formats.
func writeCustomerOrg(b *testing.B, n int) (dir string, rows int) {
	b.Helper()
	dir = b.TempDir()
	org := `markets:
  - {id: DET, home_team: T1}
  - {id: PHL, home_team: T1}
  - {id: CLE, home_team: T1}
teams:
  - {id: T1}
`
	if err := os.WriteFile(filepath.Join(dir, "org.yaml"), []byte(org), 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, teams.CustomersFile))
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, teams.CustomersHeader)
	markets := []string{"DET", "PHL", "CLE"}
	for i := range n {
		fmt.Fprintf(w, "acct-%08d,%s,%s\n", i, markets[i%3], phone(i, 0))
		rows++
	}
	for i := 0; i < n; i += 3 {
		fmt.Fprintf(w, "acct-%08d,%s,%s\n", i, markets[i%3], phone(i, 1))
		rows++
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return dir, rows
}

// phone returns customer i's k-th phone, in one of three formats.
func phone(i, k int) string {
	area := 313 + 100*k
	switch i % 3 {
	case 0:
		return fmt.Sprintf("+1%d%07d", area, i)
	case 1:
		return fmt.Sprintf("(%d) %03d-%04d", area, i/10000, i%10000)
	default:
		return fmt.Sprintf("%d.%03d.%04d", area, i/10000, i%10000)
	}
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkLoadCustomers loads customers.csv through teams.Load and reports
// load throughput and the index's memory per customer.
//
//	go test ./benchmarks -run XXX -bench LoadCustomers -benchtime 3x
func BenchmarkLoadCustomers(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("customers=%d", n), func(b *testing.B) {
			dir, rows := writeCustomerOrg(b, n)

			// Check the setup, and measure the index, before the timer starts.
			before := heapInUse()
			org, err := teams.Load(dir)
			if err != nil {
				b.Fatal(err)
			}
			after := heapInUse()
			c := org.Customers
			if c.Len() != n || c.Phones() != rows {
				b.Fatalf("Len, Phones = %d, %d; want %d, %d", c.Len(), c.Phones(), n, rows)
			}
			for _, i := range []int{0, 1, 2, n / 2, n - 1} {
				id := fmt.Sprintf("acct-%08d", i)
				if got, _, ok := c.ByPhone(phone(i, 0)); !ok || got != id {
					b.Fatalf("ByPhone(%s) = %q, %v; want %s", phone(i, 0), got, ok, id)
				}
			}
			bytesPerCustomer := float64(after-before) / float64(n)
			runtime.KeepAlive(org)
			org = nil

			b.ResetTimer()
			for b.Loop() {
				if _, err := teams.Load(dir); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(bytesPerCustomer, "B/customer")
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkCustomerLookup measures the two lookups of the identify step.
func BenchmarkCustomerLookup(b *testing.B) {
	const n = 1_000_000
	dir, _ := writeCustomerOrg(b, n)
	org, err := teams.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	c := org.Customers
	ids := make([]string, 1024)
	phones := make([]string, 1024)
	for j := range ids {
		i := (j * 7919) % n
		ids[j] = fmt.Sprintf("acct-%08d", i)
		phones[j] = fmt.Sprintf("+1313%07d", i-i%3) // E.164, the format requests use
		if _, ok := c.MarketOf(ids[j]); !ok {
			b.Fatalf("setup: %s not found", ids[j])
		}
	}
	b.Run("MarketOf", func(b *testing.B) {
		j := 0
		for b.Loop() {
			if _, ok := c.MarketOf(ids[j&1023]); !ok {
				b.Fatal("not found")
			}
			j++
		}
	})
	b.Run("ByPhone", func(b *testing.B) {
		j := 0
		for b.Loop() {
			c.ByPhone(phones[j&1023])
			j++
		}
	})
}
