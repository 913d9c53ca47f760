package teams

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// CustomersHeader is the header customers.csv must have.
const CustomersHeader = "customer_id,market,phone"

// maxCSVProblems caps the problems reported for customers.csv: a 30-million
// row file with a bad column would otherwise bury the report.
const maxCSVProblems = 100

// loadCustomers streams customers.csv into a frozen index. markets are the
// org's market ids. It returns every problem, up to limit of them and then
// one that counts the rest. A row with a problem is left out.
func loadCustomers(path string, markets map[string]bool, limit int) (*Customers, []Problem) {
	f, err := os.Open(path)
	if err != nil {
		return nil, []Problem{{File: path, Msg: "cannot read: " + pathErr(err)}}
	}
	defer f.Close()
	size := int64(0)
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	cust, probs := readCustomers(f, path, markets, limit, size)
	return cust, probs
}

// readCustomers is loadCustomers on any reader; file names the problems.
// size, when known, lets it reserve memory for the whole file at once.
func readCustomers(r io.Reader, file string, markets map[string]bool, limit int, size int64) (*Customers, []Problem) {
	cs := &conflicts{limit: limit}
	bad := func(line int, id, format string, args ...any) {
		ent := ""
		if id != "" {
			ent = "customer " + id
		}
		cs.add(Problem{File: file, Line: line, Entity: ent, Msg: fmt.Sprintf(format, args...)})
	}
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<20))
	cr.ReuseRecord = true // one record buffer for the whole file
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF):
		bad(1, "", "the file is empty: want the header %s", CustomersHeader)
		return nil, finish(cs, file)
	case err != nil:
		bad(1, "", "cannot read the header: %s", csvErr(err))
		return nil, finish(cs, file)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff") // spreadsheets add a byte-order mark
	}
	if got := strings.Join(header, ","); got != CustomersHeader {
		bad(1, "", "the header must be exactly %s, got %q", CustomersHeader, got)
		return nil, finish(cs, file)
	}

	c := NewCustomers()
	const sampleRows = 10000 // rows read before guessing how many there are
	for rows := 1; ; rows++ {
		if rows == sampleRows && size > 0 && len(c.rows) > 0 {
			read := cr.InputOffset()
			perRow := float64(read) / float64(rows)
			more := int(float64(size-read)/perRow*1.02) + 1
			c.reserve(more, len(c.arena)/len(c.rows)+1)
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad(pe.Line, "", "%s", csvErr(err))
				continue
			}
			bad(0, "", "cannot read: %s", pathErr(err))
			break
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != 3 {
			bad(line, "", "the row has %d columns, want 3 (%s)", len(rec), CustomersHeader)
			continue
		}
		id, market, phone := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1]), strings.TrimSpace(rec[2])
		ok := true
		if id == "" {
			bad(line, "", "customer_id is empty")
			ok = false
		}
		switch {
		case market == "":
			bad(line, id, "market is empty")
			ok = false
		case !markets[market]:
			bad(line, id, "market %s is not a market of the org", market)
			ok = false
		}
		// An empty phone is allowed: the customer is then known by id only.
		var num uint64
		if phone != "" {
			if num, err = phoneNumber(phone); err != nil {
				bad(line, id, "%s", err)
				ok = false
			}
		}
		if !ok {
			continue
		}
		mk, err := c.intern(market)
		if err == nil {
			err = c.add(id, mk, num, uint32(line))
		}
		if err != nil {
			bad(line, id, "%s", err)
			break
		}
	}
	probs, more := c.freeze(limit)
	for _, p := range probs {
		p.File = file
		cs.add(p)
	}
	cs.more += more
	return c, finish(cs, file)
}

// finish sorts the problems by line, caps them, and counts the rest.
func finish(cs *conflicts, file string) []Problem {
	cs.trim()
	if cs.more > 0 {
		cs.probs = append(cs.probs, Problem{File: file, Msg: fmt.Sprintf("and %d more problems in this file", cs.more)})
	}
	return cs.probs
}

// csvErr drops the position encoding/csv repeats, since Problem has the line.
func csvErr(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
