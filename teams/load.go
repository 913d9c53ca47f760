package teams

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v4"
)

// The files of an org directory (PROTOCOL.md, "Org files").
const (
	CustomersFile = "customers.csv"
)

// OrgFiles are the names the org file may have, in the order Load looks for them.
var OrgFiles = []string{"org.yaml", "org.yml", "org.json"}

// Load reads an org directory: org.yaml (or org.yml, or org.json) and an
// optional customers.csv.
//
// Fields left out keep their defaults (DefaultRouting, DefaultScorecard).
// Unknown fields are ignored, so that older servers accept newer files, but
// a value of the wrong type is a problem. Load fills in what PROTOCOL.md
// lets a file leave out: an agent whose role takes contacts and that lists
// no channels gets {voice: 1}, and one that lists no languages gets
// [routing.default_language]. Area codes are normalised to 3-digit strings.
//
// When anything is wrong Load returns a *ConfigError with every problem it
// found, each naming the file, the line and the entity.
func Load(dir string) (*Org, error) {
	l := &loader{}
	org := l.load(dir)
	if len(l.probs) > 0 {
		// File order: the directory, then the org file, then customers.csv;
		// in each, line order, so the report reads top to bottom.
		rank := func(p Problem) int {
			switch {
			case p.File == l.file:
				return 1
			case strings.HasSuffix(p.File, CustomersFile):
				return 2
			}
			return 0
		}
		sort.SliceStable(l.probs, func(i, j int) bool {
			a, b := l.probs[i], l.probs[j]
			if ra, rb := rank(a), rank(b); ra != rb {
				return ra < rb
			}
			return rank(a) == 1 && a.Line < b.Line // customers.csv problems come sorted, with their count last
		})
		return nil, &ConfigError{Problems: l.probs}
	}
	return org, nil
}

// loader collects problems while it reads, so that Load reports them all.
type loader struct {
	file  string // the org file, as a path joined to the directory given
	probs []Problem
	src   *sources
}

func (l *loader) problem(line int, entity, format string, args ...any) {
	l.probs = append(l.probs, Problem{File: l.file, Line: line, Entity: entity, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) load(dir string) *Org {
	fi, err := os.Stat(dir)
	if err != nil {
		l.probs = append(l.probs, Problem{File: dir, Msg: "cannot read the org directory: " + pathErr(err)})
		return nil
	}
	if !fi.IsDir() {
		l.probs = append(l.probs, Problem{File: dir, Msg: "is not a directory"})
		return nil
	}
	var found []string
	for _, name := range OrgFiles {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			found = append(found, name)
		}
	}
	switch len(found) {
	case 0:
		l.probs = append(l.probs, Problem{File: dir, Msg: "no org file: want one of " + strings.Join(OrgFiles, ", ")})
		return nil
	case 1:
	default:
		l.probs = append(l.probs, Problem{File: dir, Msg: "several org files (" + strings.Join(found, ", ") + "): keep one"})
		return nil
	}
	l.file = filepath.Join(dir, found[0])
	data, err := os.ReadFile(l.file)
	if err != nil {
		l.problem(0, "", "cannot read: %s", pathErr(err))
		return nil
	}
	org := l.parse(data)
	if org == nil {
		return nil
	}

	csvPath := filepath.Join(dir, CustomersFile)
	if _, err := os.Stat(csvPath); err == nil {
		known := make(map[string]bool, len(org.Markets))
		for _, m := range org.Markets {
			known[m.ID] = true
		}
		cust, probs := loadCustomers(csvPath, known, maxCSVProblems)
		l.probs = append(l.probs, probs...)
		org.Customers = cust
	} else if !errors.Is(err, fs.ErrNotExist) {
		l.probs = append(l.probs, Problem{File: csvPath, Msg: "cannot read: " + pathErr(err)})
	}
	return org
}

// parse decodes, completes and validates the org file l.file holding
// data. It returns nil when the file cannot be parsed at all.
func (l *loader) parse(data []byte) *Org {
	if strings.HasSuffix(l.file, ".json") {
		// In valid JSON a raw tab can only be whitespace, and YAML refuses
		// tabs as indentation; spaces keep every line number the same.
		data = bytes.ReplaceAll(data, []byte{'\t'}, []byte{' '})
	}
	org := &Org{Routing: DefaultRouting(), Scorecard: DefaultScorecard()}
	if !l.decode(data, org) {
		return nil
	}
	applyDefaults(org)
	l.probs = append(l.probs, validate(org, l.src)...)
	return org
}

// pathErr drops the path an *fs.PathError repeats, since Problem names the file.
func pathErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// sources remembers the YAML node of each entity, so that validation can
// point at the exact line of a bad field, not only at the entity.
type sources struct {
	file          string
	defaultMarket *yaml.Node
	routing       *yaml.Node
	scorecard     *yaml.Node
	markets       []*yaml.Node
	teams         []*yaml.Node
	agents        []*yaml.Node
}

// decode parses data and decodes it over org. It returns false when the
// file cannot be parsed at all; type errors are problems but decoding goes on.
func (l *loader) decode(data []byte, org *Org) bool {
	l.src = &sources{file: l.file}
	if len(bytes.TrimSpace(data)) == 0 {
		l.problem(0, "", "the file is empty")
		return false
	}
	var doc yaml.Node
	if err := yaml.Load(data, &doc); err != nil {
		var le *yaml.LoadError
		if strings.Contains(err.Error(), "no documents in stream") {
			l.problem(0, "", "the file is empty")
		} else if errors.As(err, &le) && le.Mark.Line > 0 {
			msg := le.Message
			if le.ContextMsg != "" {
				msg = le.ContextMsg + ": " + msg
			}
			l.problem(le.Mark.Line, "", "syntax error: %s", msg)
		} else {
			msg := strings.TrimPrefix(err.Error(), "yaml: construct errors: ")
			msg = strings.TrimPrefix(strings.TrimPrefix(msg, "<unknown position>: "), "yaml: ")
			l.problem(0, "", "syntax error: %s", msg)
		}
		return false
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			l.problem(0, "", "the file is empty")
			return false
		}
		root = root.Content[0]
	}
	root = resolve(root)
	if isNull(root) {
		l.problem(root.Line, "", "the file is empty")
		return false
	}
	if root.Kind != yaml.MappingNode {
		l.problem(root.Line, "", "the top level must be a mapping (default_market, markets, teams, agents, routing, scorecard)")
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], resolve(root.Content[i+1])
		if first, dup := seen[k.Value]; dup {
			l.problem(k.Line, "", "key %s appears twice (first on line %d)", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		switch k.Value {
		case "default_market":
			l.src.defaultMarket = v
			l.decodeNode(v, &org.DefaultMarket, "")
		case "markets":
			l.src.markets = l.decodeList(k, v, "market", func(n *yaml.Node) {
				var m Market
				l.decodeNode(n, &m, entityName("market", n))
				m.Pos = Pos{File: l.file, Line: n.Line}
				org.Markets = append(org.Markets, m)
			})
		case "teams":
			l.src.teams = l.decodeList(k, v, "team", func(n *yaml.Node) {
				var t Team
				l.decodeNode(n, &t, entityName("team", n))
				t.Pos = Pos{File: l.file, Line: n.Line}
				org.Teams = append(org.Teams, t)
			})
		case "agents":
			l.src.agents = l.decodeList(k, v, "agent", func(n *yaml.Node) {
				var a Agent
				l.decodeNode(n, &a, entityName("agent", n))
				a.Pos = Pos{File: l.file, Line: n.Line}
				org.Agents = append(org.Agents, a)
			})
		case "routing":
			l.src.routing = v
			if !isNull(v) {
				l.decodeNode(v, &org.Routing, "routing")
			}
		case "scorecard":
			l.src.scorecard = v
			if !isNull(v) {
				l.decodeNode(v, &org.Scorecard, "scorecard")
			}
		}
		// Other keys belong to newer versions of the format: ignored.
	}
	return true
}

// decodeList decodes each mapping of a sequence with each, and returns the
// nodes it decoded, in order.
func (l *loader) decodeList(key, v *yaml.Node, what string, each func(*yaml.Node)) []*yaml.Node {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		l.problem(v.Line, "", "%s must be a list", key.Value)
		return nil
	}
	nodes := make([]*yaml.Node, 0, len(v.Content))
	for _, item := range v.Content {
		item = resolve(item)
		if item.Kind != yaml.MappingNode {
			l.problem(item.Line, "", "each entry of %s must be a mapping (a %s)", key.Value, what)
			continue
		}
		each(item)
		nodes = append(nodes, item)
	}
	return nodes
}

// decodeNode decodes n into v and turns every type error into a problem.
func (l *loader) decodeNode(n *yaml.Node, v any, entity string) {
	err := n.Decode(v)
	if err == nil {
		return
	}
	var les *yaml.LoadErrors
	if errors.As(err, &les) {
		for _, e := range les.Errors {
			line := e.Mark.Line
			if line == 0 {
				line = n.Line
			}
			l.problem(line, entity, "%s", typeErrMsg(e.Message))
		}
		return
	}
	l.problem(n.Line, entity, "%s", typeErrMsg(err.Error()))
}

// typeErrMsg rewords the YAML library's type errors for people who write
// org files, not Go: "cannot construct !!str `x` into int" becomes
// "cannot use `x` (a string) as a number".
func typeErrMsg(msg string) string {
	msg = strings.TrimPrefix(msg, "yaml: ")
	r := strings.NewReplacer(
		"cannot construct ", "cannot use ",
		"!!str ", "string ", "!!int ", "integer ", "!!float ", "number ", "!!bool ", "boolean ",
		"!!seq", "a list", "!!map", "a mapping", "!!null", "null",
		" into int", " as a whole number", " into float64", " as a number", " into string", " as a string",
		" into bool", " as true/false",
		" into map[string]int", " as a mapping of names to whole numbers",
		" into []string", " as a list of strings",
		" into teams.", " as a ", " into []teams.", " as a list of ", " into *teams.", " as a ",
	)
	return r.Replace(msg)
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// entityName names the entity declared by mapping n for problem reports.
func entityName(what string, n *yaml.Node) string {
	if id := child(n, "id"); id != nil && id.Kind == yaml.ScalarNode && id.Value != "" {
		return what + " " + id.Value
	}
	return what
}

// child returns the value of key in mapping n, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return resolve(n.Content[i+1])
		}
	}
	return nil
}

// keyLine returns the line of key within mapping n, or 0.
func keyLine(n *yaml.Node, key string) int {
	if n == nil {
		return 0
	}
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return 0
}

// lineAt returns the line of the deepest node found along path from n (each
// step a mapping key, or an index into a sequence as "[i]"), or fallback.
func lineAt(fallback int, n *yaml.Node, path ...string) int {
	line := fallback
	for _, p := range path {
		if n == nil {
			break
		}
		n = resolve(n)
		if strings.HasPrefix(p, "[") {
			var i int
			if _, err := fmt.Sscanf(p, "[%d]", &i); err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				break
			}
			n = n.Content[i]
			line = n.Line
			continue
		}
		if kl := keyLine(n, p); kl > 0 {
			line = kl
		}
		n = child(n, p)
	}
	return line
}

// applyDefaults fills in what PROTOCOL.md lets an org file leave out.
func applyDefaults(org *Org) {
	for i := range org.Agents {
		a := &org.Agents[i]
		if !org.Routing.TakesContacts(a.Role) {
			continue
		}
		if len(a.Channels) == 0 {
			a.Channels = map[string]int{ChannelVoice: 1}
		}
		if len(a.Languages) == 0 && org.Routing.DefaultLanguage != "" {
			a.Languages = []string{org.Routing.DefaultLanguage}
		}
	}
	for i := range org.Markets {
		m := &org.Markets[i]
		for j, ac := range m.AreaCodes {
			if n, ok := normalizeAreaCode(ac); ok {
				m.AreaCodes[j] = n
			}
		}
	}
}

// normalizeAreaCode accepts "313", " 313 ", "(313)" and "+1 313" and returns
// "313". A North American area code has 3 digits and starts with 2-9.
func normalizeAreaCode(s string) (string, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "+1")
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(s, "("), ")"))
	if len(s) != 3 || s[0] < '2' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' {
		return s, false
	}
	return s, true
}
