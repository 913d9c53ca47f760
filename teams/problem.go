package teams

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with an org directory. File and Line point at
// it when known (Line 0 means the whole file); Entity names what it is about
// ("agent det-017", "market DET", "customer acct-42"), when anything.
type Problem struct {
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Entity string `json:"entity,omitempty"`
	Msg    string `json:"message"`
}

// String formats p the way compilers do, so editors can jump to it:
// "testdata/org/org.yaml:42: agent det-017: skill billing proficiency 7 is outside 1-5".
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
	case p.File != "":
		b.WriteString(p.File + ": ")
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Entity != "" {
		b.WriteString(p.Entity + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ConfigError is what Load returns for a broken org directory. It holds
// every problem found, not only the first, so one run of
// `tex check-config` is enough to fix a file.
type ConfigError struct {
	Problems []Problem
}

// Error lists every problem, one per line.
func (e *ConfigError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		b.WriteString("org has 1 problem:")
	} else {
		fmt.Fprintf(&b, "org has %d problems:", len(e.Problems))
	}
	for _, p := range e.Problems {
		b.WriteString("\n\t" + p.String())
	}
	return b.String()
}
