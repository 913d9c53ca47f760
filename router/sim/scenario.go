package sim

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/teams"
)

// Distribution kinds of a Dist.
const (
	DistExponential = "exponential"
	DistLognormal   = "lognormal"
	DistFixed       = "fixed"
)

// Dist is a distribution of durations in seconds (SIMULATION.md):
// exponential (mean), lognormal (mean, sd) or fixed (value).
type Dist struct {
	Kind  string  `json:"dist"`
	Mean  float64 `json:"mean,omitempty"`
	SD    float64 `json:"sd,omitempty"`
	Value float64 `json:"value,omitempty"`
}

// Expected is the distribution's mean.
func (d Dist) Expected() float64 {
	if d.Kind == DistFixed {
		return d.Value
	}
	return d.Mean
}

// Generate asks for a synthetic org (SIMULATION.md): markets M01..., one
// team each, agents_per_team experts, customers_per_market customers.
type Generate struct {
	Markets            int `json:"markets"`
	AgentsPerTeam      int `json:"agents_per_team"`
	CustomersPerMarket int `json:"customers_per_market"`
	// CustomerIndex puts the customers in the org's customer index, so the
	// core identifies callers by customer id as in production (default).
	// Without it the route request names the market and the core skips the
	// lookup; continuity still keys on the customer id. It saves about a
	// fifth of the run time at 1.2 million customers.
	CustomerIndex bool `json:"customer_index"`
}

// Arrival is the Poisson arrival stream of one market. Market "*" stands
// for every market of the org.
type Arrival struct {
	Market      string  `json:"market"`
	PerHour     float64 `json:"per_hour"`
	RepeatShare float64 `json:"repeat_share"`
	line        int
}

// Scenario is one simulation run (SIMULATION.md, "Scenario file").
type Scenario struct {
	// File is where the scenario was read from: the org directory is
	// relative to it, and errors name it.
	File        string
	Description string
	// Org is an org directory; Generate a synthetic org. Exactly one is set.
	Org                string
	Generate           *Generate
	Seed               uint64
	DurationSeconds    float64
	WarmupSeconds      float64
	SLThresholdSeconds float64
	Policy             router.Policy
	Arrivals           []Arrival
	Handle             Dist
	Wrap               Dist
	// Patience is nil when callers never abandon.
	Patience *Dist
	// CallbackAcceptShare is the share of callers offered a callback who take it.
	CallbackAcceptShare float64
	// ResolvedShare is the share of contacts the agent wraps up as resolved;
	// an unresolved one keeps full affinity for the customer's next contact.
	ResolvedShare float64
	// RingSeconds is how long an offered agent takes to accept.
	RingSeconds float64
	// Tune, when set, changes the org's routing config after the
	// scenario's routing: section is applied (for scenarios built in code).
	Tune func(*teams.RoutingConfig)

	routing     *yaml.Node // the routing: section, decoded over the org's config
	orgLine     int
	policyLine  int
	ringLine    int
	arrivalLine int
}

// Defaults of optional scenario fields.
const (
	DefaultSLThresholdSeconds = 20
	DefaultResolvedShare      = 0.75
	DefaultCustomersPerMarket = 120000
	DefaultSeed               = 1
	// RepeatWindowSeconds is how far back a repeat caller's last call may
	// be: 7 days, the scorecard's default repeat-contact window.
	RepeatWindowSeconds = 7 * 24 * 3600
)

// Limits that keep a scenario (or a fuzzer) from asking for more than a
// machine has.
const (
	maxMarkets     = 798 // generated phones use one area code per market
	maxPerTeam     = 2000
	maxCustomers   = 7_000_000 // a 7-digit line number per customer
	maxDuration    = 20 * 365 * 86400.0
	maxRatePerHour = 1e6
)

// ScenarioError is every problem found in a scenario file, each with its
// file, line and field.
type ScenarioError struct {
	Problems []teams.Problem
}

func (e *ScenarioError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		return "scenario: " + e.Problems[0].String()
	}
	fmt.Fprintf(&b, "scenario has %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t" + p.String())
	}
	return b.String()
}

// LoadScenario reads and checks a scenario file (YAML or JSON).
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return ParseScenario(data, path)
}

// ParseScenario parses and checks a scenario. file names the source in
// errors, and the org directory is relative to it.
func ParseScenario(data []byte, file string) (*Scenario, error) {
	p := &parser{file: file}
	s := p.parse(data)
	if len(p.probs) > 0 {
		sort.SliceStable(p.probs, func(i, j int) bool { return p.probs[i].Line < p.probs[j].Line })
		return nil, &ScenarioError{Problems: p.probs}
	}
	return s, nil
}

type parser struct {
	file  string
	probs []teams.Problem
}

func (p *parser) add(line int, field, format string, args ...any) {
	p.probs = append(p.probs, teams.Problem{File: p.file, Line: line, Entity: field, Msg: fmt.Sprintf(format, args...)})
}

var topKeys = []string{"description", "org", "generate", "seed", "duration_seconds", "warmup_seconds",
	"sl_threshold_seconds", "policy", "arrivals", "handle_seconds", "wrap_seconds", "patience_seconds",
	"callback_accept_share", "resolved_share", "ring_seconds", "routing"}

func (p *parser) parse(data []byte) *Scenario {
	if strings.HasSuffix(p.file, ".json") {
		// Tabs are whitespace in JSON but not YAML indentation; spaces keep
		// the line numbers.
		data = bytes.ReplaceAll(data, []byte{'\t'}, []byte{' '})
	}
	if len(bytes.TrimSpace(data)) == 0 {
		p.add(0, "", "the file is empty")
		return nil
	}
	var doc yaml.Node
	if err := yaml.Load(data, &doc); err != nil {
		var le *yaml.LoadError
		if errors.As(err, &le) && le.Mark.Line > 0 {
			p.add(le.Mark.Line, "", "syntax error: %s", le.Message)
		} else {
			p.add(0, "", "syntax error: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			p.add(0, "", "the file is empty")
			return nil
		}
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		p.add(root.Line, "", "the top level must be a mapping (%s)", strings.Join(topKeys, ", "))
		return nil
	}
	s := &Scenario{File: p.file, Seed: DefaultSeed, SLThresholdSeconds: DefaultSLThresholdSeconds,
		Policy: router.PolicyTex, ResolvedShare: DefaultResolvedShare, Wrap: Dist{Kind: DistFixed}}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if first, dup := seen[k.Value]; dup {
			p.add(k.Line, k.Value, "appears twice (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		switch k.Value {
		case "description":
			p.str(v, k.Value, &s.Description)
		case "org":
			s.orgLine = v.Line
			p.str(v, k.Value, &s.Org)
			if s.Org == "" {
				p.add(v.Line, k.Value, "must name an org directory")
			}
		case "generate":
			s.Generate = p.generate(v)
		case "seed":
			var seed int64
			if p.decode(v, k.Value, &seed) && seed < 0 {
				p.add(v.Line, k.Value, "must be >= 0, got %d", seed)
			}
			s.Seed = uint64(seed)
		case "duration_seconds":
			p.num(v, k.Value, &s.DurationSeconds, 0, maxDuration, false)
		case "warmup_seconds":
			p.num(v, k.Value, &s.WarmupSeconds, 0, maxDuration, true)
		case "sl_threshold_seconds":
			p.num(v, k.Value, &s.SLThresholdSeconds, 0, 86400, true)
		case "policy":
			s.policyLine = v.Line
			var pol string
			if p.str(v, k.Value, &pol) {
				switch router.Policy(pol) {
				case router.PolicyTex, router.PolicyLongestIdle, router.PolicyPooled:
					s.Policy = router.Policy(pol)
				default:
					p.add(v.Line, k.Value, "unknown policy %q (want tex, longest_idle or pooled)", pol)
				}
			}
		case "arrivals":
			s.arrivalLine = k.Line
			s.Arrivals = p.arrivals(v)
		case "handle_seconds":
			s.Handle = p.dist(v, k.Value, true)
		case "wrap_seconds":
			s.Wrap = p.dist(v, k.Value, false)
		case "patience_seconds":
			if v.ShortTag() != "!!null" {
				d := p.dist(v, k.Value, true)
				s.Patience = &d
			}
		case "callback_accept_share":
			p.num(v, k.Value, &s.CallbackAcceptShare, 0, 1, true)
		case "resolved_share":
			p.num(v, k.Value, &s.ResolvedShare, 0, 1, true)
		case "ring_seconds":
			s.ringLine = v.Line
			p.num(v, k.Value, &s.RingSeconds, 0, 3600, true)
		case "routing":
			if v.Kind != yaml.MappingNode {
				p.add(v.Line, k.Value, "must be a mapping of routing settings (as in the org file)")
			} else {
				s.routing = v
			}
		default:
			p.add(k.Line, k.Value, "unknown field (want one of %s)", strings.Join(topKeys, ", "))
		}
	}
	line := root.Line
	switch {
	case s.Org == "" && s.Generate == nil && seen["org"] == 0 && seen["generate"] == 0:
		p.add(line, "org", "name an org directory (org:) or ask for a synthetic one (generate:)")
	case seen["org"] > 0 && seen["generate"] > 0:
		p.add(seen["generate"], "generate", "give either org or generate, not both")
	}
	if seen["duration_seconds"] == 0 {
		p.add(line, "duration_seconds", "is required")
	}
	if seen["handle_seconds"] == 0 {
		p.add(line, "handle_seconds", "is required")
	}
	if seen["arrivals"] == 0 {
		p.add(line, "arrivals", "is required")
	}
	if s.DurationSeconds > 0 && s.WarmupSeconds >= s.DurationSeconds {
		p.add(seen["warmup_seconds"], "warmup_seconds", "must be shorter than duration_seconds (%v), got %v", s.DurationSeconds, s.WarmupSeconds)
	}
	return s
}

// decode decodes a node into v, turning a type error into a problem.
func (p *parser) decode(n *yaml.Node, field string, v any) bool {
	if err := n.Decode(v); err != nil {
		msg := err.Error()
		var les *yaml.LoadErrors
		if errors.As(err, &les) && len(les.Errors) > 0 {
			msg = les.Errors[0].Message
		}
		p.add(n.Line, field, "%s", readableTypeErr(msg))
		return false
	}
	return true
}

func readableTypeErr(msg string) string {
	msg = strings.TrimPrefix(msg, "yaml: ")
	return strings.NewReplacer(
		"cannot construct ", "cannot use ", "!!str ", "string ", "!!int ", "integer ", "!!float ", "number ",
		"!!bool ", "boolean ", "!!seq", "a list", "!!map", "a mapping", "!!null", "null",
		" into int64", " as a whole number", " into int", " as a whole number", " into float64", " as a number",
		" into string", " as a string",
	).Replace(msg)
}

func (p *parser) str(n *yaml.Node, field string, v *string) bool {
	if n.Kind != yaml.ScalarNode {
		p.add(n.Line, field, "must be a string")
		return false
	}
	*v = n.Value
	return true
}

// num decodes a number and checks lo <= v <= hi (lo < v when !loOK).
func (p *parser) num(n *yaml.Node, field string, v *float64, lo, hi float64, loOK bool) bool {
	if !p.decode(n, field, v) {
		return false
	}
	x := *v
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		p.add(n.Line, field, "must be a finite number, got %v", x)
	case loOK && x < lo, !loOK && x <= lo:
		op := ">"
		if loOK {
			op = ">="
		}
		p.add(n.Line, field, "must be %s %v, got %v", op, lo, x)
	case x > hi:
		p.add(n.Line, field, "must be <= %v, got %v", hi, x)
	default:
		return true
	}
	return false
}

func (p *parser) integer(n *yaml.Node, field string, v *int, lo, hi int) {
	if p.decode(n, field, v) && (*v < lo || *v > hi) {
		p.add(n.Line, field, "must be %d-%d, got %d", lo, hi, *v)
	}
}

// fields walks a mapping, calling each for known keys and reporting the rest.
func (p *parser) fields(n *yaml.Node, what string, known []string, each func(k, v *yaml.Node)) map[string]int {
	seen := map[string]int{}
	if n.Kind != yaml.MappingNode {
		p.add(n.Line, what, "must be a mapping (%s)", strings.Join(known, ", "))
		return seen
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := what + "." + k.Value
		if first, dup := seen[k.Value]; dup {
			p.add(k.Line, field, "appears twice (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		ok := false
		for _, kk := range known {
			ok = ok || kk == k.Value
		}
		if !ok {
			p.add(k.Line, field, "unknown field (want one of %s)", strings.Join(known, ", "))
			continue
		}
		each(k, v)
	}
	return seen
}

func (p *parser) generate(n *yaml.Node) *Generate {
	g := &Generate{CustomersPerMarket: DefaultCustomersPerMarket, CustomerIndex: true}
	seen := p.fields(n, "generate", []string{"markets", "agents_per_team", "customers_per_market", "customer_index"}, func(k, v *yaml.Node) {
		f := "generate." + k.Value
		switch k.Value {
		case "markets":
			p.integer(v, f, &g.Markets, 1, maxMarkets)
		case "agents_per_team":
			p.integer(v, f, &g.AgentsPerTeam, 1, maxPerTeam)
		case "customers_per_market":
			p.integer(v, f, &g.CustomersPerMarket, 1, maxCustomers)
		case "customer_index":
			p.decode(v, f, &g.CustomerIndex)
		}
	})
	if n.Kind == yaml.MappingNode {
		for _, f := range []string{"markets", "agents_per_team"} {
			if seen[f] == 0 {
				p.add(n.Line, "generate."+f, "is required")
			}
		}
	}
	return g
}

func (p *parser) arrivals(n *yaml.Node) []Arrival {
	if n.Kind != yaml.SequenceNode {
		p.add(n.Line, "arrivals", "must be a list of {market, per_hour, repeat_share}")
		return nil
	}
	if len(n.Content) == 0 {
		p.add(n.Line, "arrivals", "must list at least one market")
	}
	var out []Arrival
	for i, item := range n.Content {
		what := fmt.Sprintf("arrivals[%d]", i)
		a := Arrival{line: item.Line}
		seen := p.fields(item, what, []string{"market", "per_hour", "repeat_share"}, func(k, v *yaml.Node) {
			f := what + "." + k.Value
			switch k.Value {
			case "market":
				p.str(v, f, &a.Market)
			case "per_hour":
				p.num(v, f, &a.PerHour, 0, maxRatePerHour, false)
			case "repeat_share":
				p.num(v, f, &a.RepeatShare, 0, 1, true)
			}
		})
		if item.Kind == yaml.MappingNode {
			for _, f := range []string{"market", "per_hour"} {
				if seen[f] == 0 {
					p.add(item.Line, what+"."+f, "is required")
				}
			}
		}
		out = append(out, a)
	}
	return out
}

// dist decodes a distribution. positive asks for a mean above zero (handle
// and patience); a wrap time may be fixed at 0.
func (p *parser) dist(n *yaml.Node, what string, positive bool) Dist {
	var d Dist
	seen := p.fields(n, what, []string{"dist", "mean", "sd", "value"}, func(k, v *yaml.Node) {
		f := what + "." + k.Value
		switch k.Value {
		case "dist":
			p.str(v, f, &d.Kind)
		case "mean":
			p.num(v, f, &d.Mean, 0, maxDuration, false)
		case "sd":
			p.num(v, f, &d.SD, 0, maxDuration, false)
		case "value":
			p.num(v, f, &d.Value, 0, maxDuration, !positive)
		}
	})
	if n.Kind != yaml.MappingNode {
		return d
	}
	need := func(f string) {
		if seen[f] == 0 {
			p.add(n.Line, what+"."+f, "is required for a %s distribution", d.Kind)
		}
	}
	refuse := func(f string) {
		if seen[f] > 0 {
			p.add(seen[f], what+"."+f, "does not apply to a %s distribution", d.Kind)
		}
	}
	switch d.Kind {
	case DistExponential:
		need("mean")
		refuse("sd")
		refuse("value")
	case DistLognormal:
		need("mean")
		need("sd")
		refuse("value")
	case DistFixed:
		need("value")
		refuse("mean")
		refuse("sd")
	case "":
		p.add(n.Line, what+".dist", "is required (exponential, lognormal or fixed)")
	default:
		p.add(seen["dist"], what+".dist", "unknown distribution %q (want exponential, lognormal or fixed)", d.Kind)
	}
	return d
}
