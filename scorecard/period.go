package scorecard

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrBadPeriod is returned for a period or date that cannot be parsed.
var ErrBadPeriod = errors.New("bad period")

// MaxRangeDays bounds a from-to range, so that one query cannot walk
// centuries of empty days.
const MaxRangeDays = 3660

const day = 24 * time.Hour

// Period is a span of whole UTC days, [From, To). A contact counts in the
// period that contains its ended_at.
type Period struct {
	// Label is how the period was named: 2026-W47, 2026-11, 2026-11-23, or
	// 2026-11-01/2026-11-30 for a range (ISO 8601 interval, both days
	// included).
	Label string
	From  time.Time
	To    time.Time
}

// LastDay is the last day in the period (To is exclusive).
func (p Period) LastDay() time.Time { return p.To.Add(-day) }

// Contains reports whether t falls in the period.
func (p Period) Contains(t time.Time) bool { return !t.Before(p.From) && t.Before(p.To) }

// Days is the number of days in the period.
func (p Period) Days() int { return int(p.To.Sub(p.From) / day) }

// ParsePeriod parses an ISO week (2026-W47), a month (2026-11) or a day
// (2026-11-23), all in UTC.
func ParsePeriod(s string) (Period, error) {
	switch {
	case len(s) == 8 && s[4] == '-' && (s[5] == 'W' || s[5] == 'w'):
		y, err1 := atoiN(s[:4])
		w, err2 := atoiN(s[6:])
		if err1 != nil || err2 != nil {
			break
		}
		if err := checkYear(s, y); err != nil {
			return Period{}, err
		}
		from := isoWeekStart(y, w)
		if yy, ww := from.ISOWeek(); w < 1 || yy != y || ww != w {
			return Period{}, fmt.Errorf("%w: %q: week %d does not exist in %d (it has %d ISO weeks)", ErrBadPeriod, s, w, y, isoWeeksIn(y))
		}
		return Period{Label: fmt.Sprintf("%04d-W%02d", y, w), From: from, To: from.AddDate(0, 0, 7)}, nil
	case len(s) == 7 && s[4] == '-':
		y, err1 := atoiN(s[:4])
		m, err2 := atoiN(s[5:])
		if err1 != nil || err2 != nil {
			break
		}
		if err := checkYear(s, y); err != nil {
			return Period{}, err
		}
		if m < 1 || m > 12 {
			return Period{}, fmt.Errorf("%w: %q: month %d does not exist", ErrBadPeriod, s, m)
		}
		from := time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC)
		return Period{Label: s, From: from, To: from.AddDate(0, 1, 0)}, nil
	case len(s) == 10:
		d, err := ParseDate(s)
		if err != nil {
			return Period{}, err
		}
		return Period{Label: s, From: d, To: d.Add(day)}, nil
	}
	return Period{}, fmt.Errorf("%w: %q (want an ISO week like 2026-W47, a month like 2026-11 or a day like 2026-11-23)", ErrBadPeriod, s)
}

// ParseRange parses a from-to range of UTC dates, both included.
func ParseRange(from, to string) (Period, error) {
	f, err := ParseDate(from)
	if err != nil {
		return Period{}, fmt.Errorf("from: %w", err)
	}
	t, err := ParseDate(to)
	if err != nil {
		return Period{}, fmt.Errorf("to: %w", err)
	}
	if t.Before(f) {
		return Period{}, fmt.Errorf("%w: to %s is before from %s", ErrBadPeriod, to, from)
	}
	p := Period{Label: f.Format(time.DateOnly) + "/" + t.Format(time.DateOnly), From: f, To: t.Add(day)}
	if p.Days() > MaxRangeDays {
		return Period{}, fmt.Errorf("%w: %s spans %d days, more than %d", ErrBadPeriod, p.Label, p.Days(), MaxRangeDays)
	}
	return p, nil
}

// ParseDate parses a UTC date, 2026-11-23.
func ParseDate(s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil || len(s) != 10 {
		return time.Time{}, fmt.Errorf("%w: %q is not a date like 2026-11-23", ErrBadPeriod, s)
	}
	if err := checkYear(s, d.Year()); err != nil {
		return time.Time{}, err
	}
	return d, nil
}

// WeekOf returns the ISO week that contains t.
func WeekOf(t time.Time) Period {
	y, w := t.UTC().ISOWeek()
	from := isoWeekStart(y, w)
	return Period{Label: fmt.Sprintf("%04d-W%02d", y, w), From: from, To: from.AddDate(0, 0, 7)}
}

func checkYear(s string, y int) error {
	if y < 1900 || y > 2199 {
		return fmt.Errorf("%w: %q: year %d is out of range (1900-2199)", ErrBadPeriod, s, y)
	}
	return nil
}

// isoWeekStart is the Monday of ISO week w of year y: week 1 is the week
// that holds 4 January.
func isoWeekStart(y, w int) time.Time {
	jan4 := time.Date(y, 1, 4, 0, 0, 0, 0, time.UTC)
	monday := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
	return monday.AddDate(0, 0, 7*(w-1))
}

func isoWeeksIn(y int) int {
	_, w := time.Date(y, 12, 28, 0, 0, 0, 0, time.UTC).ISOWeek()
	return w
}

// atoiN parses a run of ASCII digits (no sign, no spaces).
func atoiN(s string) (int, error) {
	if s == "" || len(s) > 4 {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.Atoi(s)
}
