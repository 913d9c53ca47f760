package teams

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Validate reports every problem with an org built in code or loaded from
// files, in file order. An org that Load returned has none.
func (o *Org) Validate() []Problem {
	return validate(o, nil)
}

// validate checks org. src, when not nil, holds the YAML nodes the org came
// from, so that a problem can point at the line of the bad field itself.
func validate(o *Org, src *sources) []Problem {
	v := &validator{org: o, src: src}
	if src != nil {
		v.file = src.file
	}
	v.markets()
	v.teams()
	v.agents()
	v.routing()
	v.scorecard()
	sort.SliceStable(v.probs, func(i, j int) bool { return v.probs[i].Line < v.probs[j].Line })
	return v.probs
}

type validator struct {
	org   *Org
	src   *sources
	probs []Problem
	file  string // the org file, taken from the entities' positions
}

func (v *validator) add(pos Pos, line int, entity, format string, args ...any) {
	if line == 0 {
		line = pos.Line
	}
	file := pos.File
	if file == "" {
		file = v.file
	}
	v.probs = append(v.probs, Problem{File: file, Line: line, Entity: entity, Msg: fmt.Sprintf(format, args...)})
}

// node returns the source node of entity i of a list, or nil.
func node(nodes []*yaml.Node, i int) *yaml.Node {
	if i < len(nodes) {
		return nodes[i]
	}
	return nil
}

func named(what, id string) string {
	if id == "" {
		return what
	}
	return what + " " + id
}

func (v *validator) markets() {
	o := v.org
	for _, m := range o.Markets {
		if v.file == "" && m.Pos.File != "" {
			v.file = m.Pos.File
		}
	}
	if len(o.Markets) == 0 {
		v.add(Pos{}, 0, "", "no markets: an org needs at least one market and its home team")
	}
	var nodes []*yaml.Node
	if v.src != nil {
		nodes = v.src.markets
	}
	teamIDs := map[string]bool{}
	for _, t := range o.Teams {
		teamIDs[t.ID] = true
	}
	seen := map[string]int{}
	areaOwner := map[string]*Market{}
	for i := range o.Markets {
		m := &o.Markets[i]
		n := node(nodes, i)
		ent := named("market", m.ID)
		at := func(path ...string) int { return lineAt(m.Pos.Line, n, path...) }
		switch first, dup := seen[m.ID]; {
		case m.ID == "":
			v.add(m.Pos, 0, ent, "id is missing")
		case dup:
			v.add(m.Pos, at("id"), ent, "duplicate market id (first defined on line %d)", first)
		default:
			seen[m.ID] = m.Pos.Line
		}
		switch {
		case m.HomeTeam == "":
			v.add(m.Pos, 0, ent, "home_team is missing: every market needs its dedicated team")
		case !teamIDs[m.HomeTeam]:
			v.add(m.Pos, at("home_team"), ent, "home_team %s is not a team", m.HomeTeam)
		}
		fb := map[string]bool{}
		for j, t := range m.FallbackTeams {
			line := at("fallback_teams", fmt.Sprintf("[%d]", j))
			switch {
			case t == "":
				v.add(m.Pos, line, ent, "fallback_teams has an empty entry")
			case !teamIDs[t]:
				v.add(m.Pos, line, ent, "fallback team %s is not a team", t)
			case t == m.HomeTeam:
				v.add(m.Pos, line, ent, "home team %s is also listed as a fallback team", t)
			case fb[t]:
				v.add(m.Pos, line, ent, "fallback team %s is listed twice", t)
			}
			fb[t] = true
		}
		for j, ac := range m.AreaCodes {
			line := at("area_codes", fmt.Sprintf("[%d]", j))
			if _, ok := normalizeAreaCode(ac); !ok {
				v.add(m.Pos, line, ent, "area code %q is not 3 digits starting with 2-9", ac)
				continue
			}
			if other, dup := areaOwner[ac]; dup {
				if other == m {
					v.add(m.Pos, line, ent, "area code %s is listed twice", ac)
				} else {
					v.add(m.Pos, line, ent, "area code %s is also claimed by market %s (line %d)", ac, other.ID, other.Pos.Line)
				}
				continue
			}
			areaOwner[ac] = m
		}
		if r := m.Routing; r != nil {
			if len(r.Chain) > 0 {
				for _, p := range ValidateChain("routing.chain", r.Chain) {
					v.add(m.Pos, at(fieldPath(p)...), ent, "%s", p)
				}
			}
			for _, f := range []struct {
				name string
				val  *float64
			}{{"callback_threshold_seconds", r.CallbackThresholdSeconds}, {"callback_deadline_seconds", r.CallbackDeadlineSeconds}} {
				if f.val != nil && (*f.val < 0 || math.IsNaN(*f.val) || math.IsInf(*f.val, 0)) {
					v.add(m.Pos, at("routing", f.name), ent, "routing.%s must be a finite number >= 0, got %v", f.name, *f.val)
				}
			}
		}
	}
	if o.DefaultMarket != "" {
		if _, ok := o.Market(o.DefaultMarket); !ok {
			line := 0
			if v.src != nil && v.src.defaultMarket != nil {
				line = v.src.defaultMarket.Line
			}
			v.add(Pos{}, line, "", "default_market %s is not a market", o.DefaultMarket)
		}
	}
}

func (v *validator) teams() {
	var nodes []*yaml.Node
	if v.src != nil {
		nodes = v.src.teams
	}
	seen := map[string]int{}
	for i := range v.org.Teams {
		t := &v.org.Teams[i]
		ent := named("team", t.ID)
		switch first, dup := seen[t.ID]; {
		case t.ID == "":
			v.add(t.Pos, 0, ent, "id is missing")
		case dup:
			v.add(t.Pos, lineAt(t.Pos.Line, node(nodes, i), "id"), ent, "duplicate team id (first defined on line %d)", first)
		default:
			seen[t.ID] = t.Pos.Line
		}
	}
}

func (v *validator) agents() {
	o := v.org
	var nodes []*yaml.Node
	if v.src != nil {
		nodes = v.src.agents
	}
	teamIDs := map[string]bool{}
	for _, t := range o.Teams {
		teamIDs[t.ID] = true
	}
	roles := make([]string, len(Roles))
	for i, r := range Roles {
		roles[i] = string(r)
	}
	seen := map[string]int{}
	employees := map[string]*Agent{}
	for i := range o.Agents {
		a := &o.Agents[i]
		n := node(nodes, i)
		ent := named("agent", a.ID)
		at := func(path ...string) int { return lineAt(a.Pos.Line, n, path...) }
		switch first, dup := seen[a.ID]; {
		case a.ID == "":
			v.add(a.Pos, 0, ent, "id is missing")
		case dup:
			v.add(a.Pos, at("id"), ent, "duplicate agent id (first defined on line %d)", first)
		default:
			seen[a.ID] = a.Pos.Line
		}
		if a.ID != "" {
			emp := a.HREmployeeID()
			if other, dup := employees[emp]; dup && other.ID != a.ID {
				v.add(a.Pos, at("employee_id"), ent, "employee id %s is also used by agent %s (line %d)", emp, other.ID, other.Pos.Line)
			} else if !dup {
				employees[emp] = a
			}
		}
		switch {
		case a.Team == "":
			v.add(a.Pos, 0, ent, "team is missing")
		case !teamIDs[a.Team]:
			v.add(a.Pos, at("team"), ent, "team %s is not a team", a.Team)
		}
		switch {
		case a.Role == "":
			v.add(a.Pos, 0, ent, "role is missing (want one of %s)", strings.Join(roles, ", "))
		case !a.Role.Valid():
			v.add(a.Pos, at("role"), ent, "role %q is not one of %s", a.Role, strings.Join(roles, ", "))
		}
		for _, s := range sortedKeys(a.Skills) {
			p := a.Skills[s]
			switch {
			case strings.TrimSpace(s) == "":
				v.add(a.Pos, at("skills"), ent, "skills has an empty skill name")
			case p < 1 || p > 5:
				v.add(a.Pos, at("skills", s), ent, "skill %s proficiency %d is outside 1-5", s, p)
			}
		}
		for _, ch := range sortedKeys(a.Channels) {
			c := a.Channels[ch]
			switch {
			case strings.TrimSpace(ch) == "":
				v.add(a.Pos, at("channels"), ent, "channels has an empty channel name")
			case c < 1:
				v.add(a.Pos, at("channels", ch), ent, "channel %s capacity %d is less than 1", ch, c)
			}
		}
		for j, l := range a.Languages {
			if strings.TrimSpace(l) == "" {
				v.add(a.Pos, at("languages", fmt.Sprintf("[%d]", j)), ent, "languages has an empty entry")
			}
		}
		if o.Routing.TakesContacts(a.Role) {
			// Load fills both in; an org built in code may not have.
			if len(a.Channels) == 0 {
				v.add(a.Pos, 0, ent, "role %s takes contacts but the agent has no channels", a.Role)
			}
			if len(a.Languages) == 0 {
				v.add(a.Pos, 0, ent, "role %s takes contacts but the agent has no languages", a.Role)
			}
		}
	}
}

func (v *validator) routing() {
	line := 0
	if v.src != nil && v.src.routing != nil {
		line = v.src.routing.Line
	}
	var n *yaml.Node
	if v.src != nil {
		n = v.src.routing
	}
	for _, p := range v.org.Routing.Validate("routing") {
		v.add(Pos{}, lineAt(line, n, fieldPath(strings.TrimPrefix(p, "routing: "))...), "", "%s", p)
	}
}

// fieldPath turns the field a validation message starts with
// ("weights.skill must be ...", "chain[1]: step ...") into a path for lineAt.
func fieldPath(msg string) []string {
	field, _, _ := strings.Cut(msg, " ")
	field = strings.TrimSuffix(field, ":")
	var path []string
	for _, part := range strings.Split(field, ".") {
		name, idx, ok := strings.Cut(part, "[")
		path = append(path, name)
		if ok {
			path = append(path, "["+idx)
		}
	}
	return path
}

// scorecardValidator is the method the scorecard section has when its
// owner gives it one; the loader does not need to know its rules.
type scorecardValidator interface {
	Validate(where string) []string
}

func (v *validator) scorecard() {
	sv, ok := any(&v.org.Scorecard).(scorecardValidator)
	if !ok {
		return
	}
	line := 0
	if v.src != nil && v.src.scorecard != nil {
		line = v.src.scorecard.Line
	}
	var n *yaml.Node
	if v.src != nil {
		n = v.src.scorecard
	}
	for _, p := range sv.Validate("scorecard") {
		v.add(Pos{}, lineAt(line, n, fieldPath(strings.TrimPrefix(p, "scorecard: "))...), "", "%s", p)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
