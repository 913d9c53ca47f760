package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tex-cx/tex/scorecard"
)

// ExportCmd writes the HR export of a period: one row per agent, asked of
// the running server page by page (<prefix>.scorecard.export), since a
// carrier's 15,000 agents do not fit one NATS message.
type ExportCmd struct {
	ClientFlags `embed:""`

	Period   string `help:"ISO week (2026-W47), month (2026-11) or day (2026-11-23), UTC."`
	From     string `help:"First day of a range, UTC (2026-11-01); with --to."`
	To       string `help:"Last day of a range, UTC, included; with --from."`
	Format   string `help:"Output format: ${enum}." default:"csv" enum:"csv,jsonl"`
	Out      string `help:"Write to this file (atomically: a temporary file, then a rename) instead of stdout." type:"path"`
	PageSize int    `help:"Agents per request." default:"500"`
}

// Run pages through the export and writes it.
func (c *ExportCmd) Run(env *Env) error {
	p, err := periodFlags(c.Period, c.From, c.To, time.Now(), true)
	if err != nil {
		return err
	}
	if c.PageSize < 1 || c.PageSize > scorecard.MaxExportPage {
		return usageError("--page-size must be 1-%d, got %d", scorecard.MaxExportPage, c.PageSize)
	}
	nc, err := c.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	out, commit, abort, err := openOut(c.Out, env.Stdout)
	if err != nil {
		return err
	}
	rows, err := exportPages(nc, &c.ClientFlags, periodRequest(p, c.From != ""), "", c.PageSize, out, c.Format, env.Stderr)
	if err != nil {
		abort()
		return err
	}
	if err := commit(); err != nil {
		return err
	}
	if c.Out != "" {
		fmt.Fprintf(env.Stderr, "tex export: %d rows for %s written to %s\n", rows, p.Label, c.Out)
	}
	return nil
}

// exportPages asks for every page of an export and writes the rows. With
// progress set, an export of more than one page reports each page there.
func exportPages(nc *nats.Conn, f *ClientFlags, period [3]string, team string, pageSize int, w io.Writer, format string, progress io.Writer) (int, error) {
	rw, err := scorecard.NewRowWriter(w, format)
	if err != nil {
		return 0, err
	}
	req := scorecard.ExportRequest{Period: period[0], From: period[1], To: period[2], Team: team, Limit: pageSize}
	rows := 0
	for {
		var page scorecard.ExportPage
		if err := f.request(nc, scorecard.ExportSuffix, req, &page); err != nil {
			return rows, err
		}
		if err := rw.Write(page.Rows); err != nil {
			return rows, err
		}
		rows += len(page.Rows)
		if progress != nil && (!page.Done || req.Offset > 0) {
			fmt.Fprintf(progress, "tex export: %d/%d agents\n", page.NextOffset, page.Total)
		}
		if page.Done || len(page.Rows) == 0 {
			break
		}
		// Every page is computed as of the first page's moment, so that
		// provisional FCR means the same thing on every row.
		asOf := page.AsOf
		req.Offset, req.AsOf = page.NextOffset, &asOf
	}
	return rows, rw.Flush()
}

// openOut opens the destination: stdout, or a temporary file beside path
// that commit renames into place, so that a failed export never leaves a
// half-written file where a spreadsheet or a payroll job would find it.
func openOut(path string, stdout io.Writer) (w io.Writer, commit func() error, abort func(), err error) {
	if path == "" {
		return stdout, func() error { return nil }, func() {}, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--out %s: %w", path, err)
	}
	abort = func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}
	commit = func() error {
		err := tmp.Sync()
		if err == nil {
			err = tmp.Chmod(0o644)
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("--out %s: %w", path, err)
		}
		return nil
	}
	return tmp, commit, abort, nil
}
