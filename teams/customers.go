package teams

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
)

// Customers maps customer ids and phone numbers to markets. It is built for
// tens of millions of customers, so it keeps no Go map or string per
// customer:
//
//   - customer ids sit end to end in one byte arena;
//   - customers are kept in order of a 64-bit hash of their id, in rows of
//     12 bytes: the low 48 bits of the hash, the market and the offset of
//     the id in the arena. A small directory on the top bits of the hash
//     narrows a lookup to a few neighbouring rows, so a lookup reads the
//     directory, one or two lines of rows, and the id;
//   - market ids are interned to uint16;
//   - phones are E.164 digits as uint64, in a sorted array beside the
//     index of the customer who owns each.
//
// That is about 12 bytes per customer plus its id and the directory, and
// 12 bytes per phone.
//
// Add appends rows; Freeze sorts them, merges the rows of one customer and
// reports conflicts. Lookups are valid after Freeze. A lookup on a
// Customers with rows added since the last Freeze freezes it first (and
// keeps the conflicts found for the next Freeze call), so small tests may
// skip Freeze. Add must not run concurrently with anything else; after
// Freeze, lookups are safe from any number of goroutines.
type Customers struct {
	seed maphash.Seed

	marketIDs []string
	marketIdx map[string]uint16 // one entry per market, not per customer

	// One row per customer once frozen: rows [0, frozen) are unique and in
	// hash order; rows from frozen on were added since and may repeat an
	// id. Row i's id is arena[rows[i].off:] up to the next row's offset.
	arena  []byte
	rows   []custRow
	frozen int
	// dir narrows a lookup to the few rows whose hash shares its top bits:
	// dir[b] is the first row whose hash>>dirShift is b or more. A binary
	// search over millions of hashes costs a cache miss per step; this
	// costs about one (0.5-1 byte per customer).
	dir       []uint32
	dirShift  uint8
	newHashes []uint64 // full hash of each row added since the last freeze
	lines     []uint32 // source line of each row added since the last freeze (0: unknown)

	// Phones once frozen: sorted by number, each with its customer's row.
	phoneNum  []uint64
	phoneCust []uint32
	pending   []phoneEntry // phones added since the last freeze

	mu       sync.Mutex  // serialises the freezing a lookup may trigger
	dirty    atomic.Bool // rows or phones were added since the last freeze
	problems []Problem   // conflicts a lookup-triggered freeze found
	more     int         // conflicts beyond problems
}

// custRow is one customer: 12 bytes. The top bits of the hash are the
// directory bucket's, so the row keeps the low 48.
type custRow struct {
	hlo uint32 // hash bits 0-31
	hhi uint16 // hash bits 32-47
	mk  uint16 // market code
	off uint32 // where the id starts in the arena
}

func (r *custRow) matches(h uint64) bool { return r.hlo == uint32(h) && r.hhi == uint16(h>>32) }

type phoneEntry struct {
	num  uint64
	cust uint32 // a row index
	line uint32
}

// maxFreezeProblems caps the conflicts one Freeze reports, so a badly
// broken file of millions of rows still gives a readable report.
const maxFreezeProblems = 100

// ErrCustomersFull is returned when the index would outgrow its 32-bit offsets.
var ErrCustomersFull = errors.New("customer index is full (4 GiB of ids or 4 billion customers)")

// NewCustomers returns an empty directory.
func NewCustomers() *Customers {
	return &Customers{
		seed:      maphash.MakeSeed(),
		marketIdx: map[string]uint16{},
	}
}

// Add records a customer's market and one of its phones. The phone may be
// empty, or in any format NormalizePhone accepts. Adding a customer id again
// with another phone gives it that phone too; adding it with another market
// is a conflict that Freeze reports.
func (c *Customers) Add(customerID, market, phone string) error {
	if customerID == "" {
		return errors.New("customer id is empty")
	}
	if market == "" {
		return fmt.Errorf("customer %s: market is empty", customerID)
	}
	var num uint64
	if phone != "" {
		n, err := phoneNumber(phone)
		if err != nil {
			return fmt.Errorf("customer %s: %w", customerID, err)
		}
		num = n
	}
	mk, err := c.intern(market)
	if err != nil {
		return err
	}
	return c.add(customerID, mk, num, 0)
}

// intern returns the uint16 code of a market id.
func (c *Customers) intern(market string) (uint16, error) {
	if i, ok := c.marketIdx[market]; ok {
		return i, nil
	}
	if len(c.marketIDs) > math.MaxUint16 {
		return 0, errors.New("more than 65536 markets")
	}
	i := uint16(len(c.marketIDs))
	c.marketIDs = append(c.marketIDs, market)
	c.marketIdx[market] = i
	return i, nil
}

// add appends one row. num 0 means no phone. line is the source line, for
// conflict reports. A row that repeats the id and market of the row just
// before it only adds its phone, which keeps a file sorted by customer from
// growing the arena.
func (c *Customers) add(id string, mk uint16, num uint64, line uint32) error {
	row := len(c.rows) - 1
	if row < c.frozen || c.rows[row].mk != mk || string(c.id(uint32(row))) != id {
		if uint64(len(c.arena))+uint64(len(id)) > math.MaxUint32 || len(c.rows) >= math.MaxUint32-1 {
			return ErrCustomersFull
		}
		h := maphash.String(c.seed, id)
		c.rows = append(c.rows, custRow{hlo: uint32(h), hhi: uint16(h >> 32), mk: mk, off: uint32(len(c.arena))})
		c.arena = append(c.arena, id...)
		c.newHashes = append(c.newHashes, h)
		c.lines = append(c.lines, line)
		row = len(c.rows) - 1
	}
	if num != 0 {
		c.pending = append(c.pending, phoneEntry{num: num, cust: uint32(row), line: line})
	}
	c.dirty.Store(true)
	return nil
}

// Freeze sorts the rows added since the last Freeze into the index, merges
// the rows of one customer, and returns the conflicts it found: a customer
// id on two markets, or one phone on two customers. The first row wins in
// both cases. Lookups are valid after Freeze.
func (c *Customers) Freeze() []Problem {
	c.mu.Lock()
	defer c.mu.Unlock()
	probs, more := c.freeze(maxFreezeProblems)
	probs = append(c.problems, probs...)
	more += c.more
	c.problems, c.more = nil, 0
	if more > 0 {
		probs = append(probs, Problem{Msg: fmt.Sprintf("and %d more customer problems", more)})
	}
	return probs
}

// freezeIfDirty freezes before a lookup when rows were added since the last Freeze.
func (c *Customers) freezeIfDirty() {
	if !c.dirty.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dirty.Load() {
		probs, more := c.freeze(maxFreezeProblems)
		c.problems = append(c.problems, probs...)
		c.more += more
	}
}

// conflicts keeps the limit conflicts with the lowest lines, counting the rest.
type conflicts struct {
	limit int
	probs []Problem
	more  int
}

func (cs *conflicts) add(p Problem) {
	cs.probs = append(cs.probs, p)
	if len(cs.probs) > 2*cs.limit+16 {
		cs.trim()
	}
}

func (cs *conflicts) trim() {
	slices.SortStableFunc(cs.probs, func(a, b Problem) int { return a.Line - b.Line })
	if len(cs.probs) > cs.limit {
		cs.more += len(cs.probs) - cs.limit
		cs.probs = cs.probs[:cs.limit:cs.limit]
	}
}

// id returns row's customer id: from its offset to the next row's.
func (c *Customers) id(row uint32) []byte {
	end := uint32(len(c.arena))
	if int(row)+1 < len(c.rows) {
		end = c.rows[row+1].off
	}
	return c.arena[c.rows[row].off:end]
}

// hash returns the full hash of row's id.
func (c *Customers) hash(row int) uint64 {
	if row >= c.frozen {
		return c.newHashes[row-c.frozen]
	}
	return maphash.Bytes(c.seed, c.id(uint32(row))) // only a freeze after a freeze needs it
}

func (c *Customers) lineOf(row uint32) uint32 {
	if int(row) < c.frozen {
		return 0
	}
	return c.lines[int(row)-c.frozen]
}

// freeze rebuilds the index. mu must be held (or the Customers not yet shared).
func (c *Customers) freeze(limit int) ([]Problem, int) {
	defer c.dirty.Store(false)
	cs := &conflicts{limit: limit}
	n := len(c.rows)

	// Sort the rows by (hash, id, row): rows of one customer become
	// neighbours, the oldest first, even when two ids share a hash.
	keys := make([]rowKey, n)
	for i := range keys {
		keys[i] = rowKey{c.hash(i), uint32(i)}
	}
	keys = radixSortKeys(keys)
	for i := 0; i < n; {
		j := i + 1
		for j < n && keys[j].h == keys[i].h {
			j++
		}
		if j-i > 1 { // a 64-bit hash collision: order the run by id, then row
			slices.SortStableFunc(keys[i:j], func(a, b rowKey) int { return bytes.Compare(c.id(a.row), c.id(b.row)) })
		}
		i = j
	}

	arena := make([]byte, 0, len(c.arena))
	rows := make([]custRow, 0, n)
	hashes := make([]uint64, 0, n) // for the directory
	remap := make([]uint32, n)
	canon := uint32(0) // first row of the current customer
	for i, k := range keys {
		if i > 0 && k.h == keys[i-1].h && bytes.Equal(c.id(k.row), c.id(canon)) {
			remap[k.row] = uint32(len(rows) - 1)
			if c.rows[k.row].mk != c.rows[canon].mk {
				where := ""
				if l := c.lineOf(canon); l > 0 {
					where = fmt.Sprintf(" on line %d", l)
				}
				cs.add(Problem{Line: int(c.lineOf(k.row)), Entity: "customer " + string(c.id(k.row)),
					Msg: fmt.Sprintf("market %s conflicts with market %s%s", c.marketIDs[c.rows[k.row].mk], c.marketIDs[c.rows[canon].mk], where)})
			}
			continue
		}
		canon = k.row
		remap[k.row] = uint32(len(rows))
		rows = append(rows, custRow{hlo: uint32(k.h), hhi: uint16(k.h >> 32), mk: c.rows[k.row].mk, off: uint32(len(arena))})
		arena = append(arena, c.id(k.row)...)
		hashes = append(hashes, k.h)
	}

	// Phones, by number, then line, then row: the first owner of a number
	// keeps it. Frozen phones have line 0 and the lowest rows, so they come
	// first; rows added by Add (line 0) keep the order they were added in.
	entries := make([]phoneEntry, 0, len(c.phoneNum)+len(c.pending))
	for i, num := range c.phoneNum {
		entries = append(entries, phoneEntry{num: num, cust: c.phoneCust[i]})
	}
	entries = append(entries, c.pending...)
	slices.SortFunc(entries, func(a, b phoneEntry) int {
		switch {
		case a.num < b.num:
			return -1
		case a.num > b.num:
			return 1
		case a.line != b.line:
			return int(a.line) - int(b.line)
		}
		return int(a.cust) - int(b.cust)
	})
	phoneNum := make([]uint64, 0, len(entries))
	phoneCust := make([]uint32, 0, len(entries))
	idOf := func(cust uint32) string {
		end := uint32(len(arena))
		if int(cust)+1 < len(rows) {
			end = rows[cust+1].off
		}
		return string(arena[rows[cust].off:end])
	}
	ownerLine := uint32(0)
	for _, e := range entries {
		cust := remap[e.cust]
		if len(phoneNum) > 0 && e.num == phoneNum[len(phoneNum)-1] {
			if owner := phoneCust[len(phoneCust)-1]; cust != owner {
				where := ""
				if ownerLine > 0 {
					where = fmt.Sprintf(" (line %d)", ownerLine)
				}
				cs.add(Problem{Line: int(e.line), Entity: "customer " + idOf(cust),
					Msg: fmt.Sprintf("phone +%d is also the phone of customer %s%s", e.num, idOf(owner), where)})
			}
			continue
		}
		phoneNum = append(phoneNum, e.num)
		phoneCust = append(phoneCust, cust)
		ownerLine = e.line
	}

	if cap(arena)-len(arena) > len(arena)/16 { // merged rows left slack: give it back
		arena = append([]byte(nil), arena...)
	}
	c.arena, c.rows = arena, rows
	c.phoneNum, c.phoneCust = phoneNum, phoneCust
	c.frozen = len(rows)
	c.buildDirectory(hashes)
	c.newHashes, c.lines, c.pending = nil, nil, nil
	cs.trim()
	return cs.probs, cs.more
}

type rowKey struct {
	h   uint64
	row uint32
}

// radixSortKeys sorts keys by hash, keeping the order of equal hashes: an
// LSD radix sort, several times faster than a comparison sort on the tens
// of millions of rows of a carrier's customers.csv.
func radixSortKeys(keys []rowKey) []rowKey {
	if len(keys) < 256 {
		slices.SortStableFunc(keys, func(a, b rowKey) int {
			switch {
			case a.h < b.h:
				return -1
			case a.h > b.h:
				return 1
			}
			return 0
		})
		return keys
	}
	buf := make([]rowKey, len(keys))
	src, dst := keys, buf
	for shift := uint(0); shift < 64; shift += 8 {
		var count [256]int
		for _, k := range src {
			count[byte(k.h>>shift)]++
		}
		pos := 0
		for i, c := range count {
			count[i] = pos
			pos += c
		}
		for _, k := range src {
			b := byte(k.h >> shift)
			dst[count[b]] = k
			count[b]++
		}
		src, dst = dst, src
	}
	return src // 8 passes: back in keys
}

// Reserve makes room for about rows more customers, with ids of about
// idBytes bytes and one phone each, so that a bulk load (the simulator's
// generated customers, an importer) does not grow the arrays again and
// again. It is only an optimisation: Add works without it.
func (c *Customers) Reserve(rows, idBytes int) {
	if rows > 0 && idBytes >= 0 {
		c.reserve(rows, idBytes)
	}
}

// reserve grows the arrays for about rows more rows of idBytes id bytes
// each, so that a big file does not pay for growing them again and again.
func (c *Customers) reserve(rows, idBytes int) {
	c.arena = slices.Grow(c.arena, rows*idBytes)
	c.rows = slices.Grow(c.rows, rows)
	c.newHashes = slices.Grow(c.newHashes, rows)
	c.lines = slices.Grow(c.lines, rows)
	c.pending = slices.Grow(c.pending, rows)
}

// Len is the number of customers.
func (c *Customers) Len() int {
	if c == nil {
		return 0
	}
	c.freezeIfDirty()
	return c.frozen
}

// Phones is the number of distinct phone numbers.
func (c *Customers) Phones() int {
	if c == nil {
		return 0
	}
	c.freezeIfDirty()
	return len(c.phoneNum)
}

// Markets returns the market ids the customers belong to, in the order first seen.
func (c *Customers) Markets() []string {
	if c == nil {
		return nil
	}
	return slices.Clone(c.marketIDs)
}

// buildDirectory builds dir over the frozen rows, whose full hashes are
// given in row order: one bucket per four to eight customers. That keeps
// the directory small enough to stay in cache (half a byte to a byte per
// customer), and a bucket's rows take one or two cache lines.
func (c *Customers) buildDirectory(hashes []uint64) {
	k := max(bits.Len(uint(c.frozen))-3, 1)
	c.dirShift = uint8(64 - k)
	buckets := 1 << k
	c.dir = slices.Grow(c.dir[:0], buckets+1)
	j := 0
	for b := 0; b <= buckets; b++ {
		for j < c.frozen && hashes[j]>>c.dirShift < uint64(b) {
			j++
		}
		c.dir = append(c.dir, uint32(j))
	}
}

// find returns the row of a customer id. A bucket holds a few rows, one or
// two cache lines: a scan beats a binary search.
func (c *Customers) find(customerID string) (int, bool) {
	h := maphash.String(c.seed, customerID)
	if c.frozen == 0 {
		return 0, false
	}
	b := h >> c.dirShift
	for i := c.dir[b]; i < c.dir[b+1]; i++ {
		if c.rows[i].matches(h) && string(c.id(i)) == customerID {
			return int(i), true
		}
	}
	return 0, false
}

// MarketOf returns the market of a customer id.
func (c *Customers) MarketOf(customerID string) (string, bool) {
	if c == nil {
		return "", false
	}
	c.freezeIfDirty()
	i, ok := c.find(customerID)
	if !ok {
		return "", false
	}
	return c.marketIDs[c.rows[i].mk], true
}

// ByPhone returns the customer who owns a phone number, and that customer's
// market. The number is normalised first (E.164 is the fast path), so any
// format NormalizePhone accepts finds the customer.
func (c *Customers) ByPhone(phone string) (customerID, market string, ok bool) {
	if c == nil {
		return "", "", false
	}
	num, err := phoneNumber(phone)
	if err != nil {
		return "", "", false
	}
	c.freezeIfDirty()
	j, found := slices.BinarySearch(c.phoneNum, num)
	if !found {
		return "", "", false
	}
	row := c.phoneCust[j]
	return string(c.id(row)), c.marketIDs[c.rows[row].mk], true
}

// phoneNumber returns the E.164 digits of a phone number as a number. E.164
// numbers never start with 0, so the number gives back the digits. It
// accepts exactly what NormalizePhone accepts, without allocating.
func phoneNumber(s string) (uint64, error) {
	var num uint64
	n := 0
	plus := false
	var first, second byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= '0' && ch <= '9':
			if n == 15 {
				return 0, badPhone(s)
			}
			switch n {
			case 0:
				first = ch
			case 1:
				second = ch
			}
			num = num*10 + uint64(ch-'0')
			n++
		case ch == '+':
			if plus || n > 0 {
				return 0, badPhone(s)
			}
			plus = true
		case ch == ' ' || ch == '-' || ch == '.' || ch == '(' || ch == ')':
		default:
			return 0, badPhone(s)
		}
	}
	switch {
	case plus && n >= 8 && n <= 15 && first != '0':
		return num, nil
	case !plus && n == 10 && first >= '2':
		return 1e10 + num, nil
	case !plus && n == 11 && first == '1' && second >= '2':
		return num, nil
	}
	return 0, badPhone(s)
}

// badPhone returns NormalizePhone's error for s, so both say the same thing.
func badPhone(s string) error {
	if _, err := NormalizePhone(s); err != nil {
		return err
	}
	return fmt.Errorf("%w: %q", ErrBadPhone, s)
}
