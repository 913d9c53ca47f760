package sim

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/tex-cx/tex/teams"
)

// world is the org a run uses, with the simulator's view of its customers.
type world struct {
	org *teams.Org
	// customers per market: ids are prefix + a 7-digit number, phones are
	// the market's number block + the same number.
	markets []worldMarket
}

type worldMarket struct {
	id        string
	prefix    string // customer ids are prefix + 7 digits
	areaCode  int    // NANP area code of the market's customers' phones
	customers int
}

// customerID formats customer i of a market without fmt: a simulator
// routes millions of contacts.
func (m *worldMarket) customerID(i int, buf *[]byte) string {
	*buf = appendPadded(append((*buf)[:0], m.prefix...), i, 7)
	return string(*buf)
}

// phone is customer i's number, E.164: +1, the area code, then an
// exchange and line number no real subscriber has at that size.
func (m *worldMarket) phone(i int, buf *[]byte) string {
	*buf = appendPadded(strconv.AppendInt(append((*buf)[:0], "+1"...), int64(m.areaCode), 10), 2000000+i, 7)
	return string(*buf)
}

func appendPadded(buf []byte, v, width int) []byte {
	var d [20]byte
	i := len(d)
	for v > 0 || i == len(d) {
		i--
		d[i] = byte('0' + v%10)
		v /= 10
	}
	for n := len(d) - i; n < width; n++ {
		buf = append(buf, '0')
	}
	return append(buf, d[i:]...)
}

// buildWorld loads or generates the org, applies the scenario's routing
// overrides and checks the arrivals against the markets.
func (s *Scenario) buildWorld() (*world, error) {
	p := &parser{file: s.File}
	var org *teams.Org
	if s.Generate != nil {
		org = generateOrg(s.Generate)
	} else {
		dir := s.Org
		if !filepath.IsAbs(dir) && s.File != "" {
			dir = filepath.Join(filepath.Dir(s.File), dir)
		}
		o, err := teams.Load(dir)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: org %s: %w", s.File, dir, err)
		}
		org = o
	}
	if s.routing != nil {
		p.decode(s.routing, "routing", &org.Routing)
	}
	if s.Tune != nil {
		s.Tune(&org.Routing)
	}
	line := 0
	if s.routing != nil {
		line = s.routing.Line
	}
	for _, msg := range org.Routing.Validate("routing") {
		p.add(line, "", "%s", msg)
	}
	if s.RingSeconds >= org.Routing.OfferTTLSeconds {
		p.add(s.ringLine, "ring_seconds", "must be shorter than the offer TTL (routing.offer_ttl_seconds = %v), or every offer expires", org.Routing.OfferTTLSeconds)
	}
	w := &world{org: org}
	known := map[string]bool{}
	for i := range org.Markets {
		m := &org.Markets[i]
		known[m.ID] = true
		wm := worldMarket{id: m.ID, prefix: m.ID + "-c", areaCode: 201 + i%798, customers: DefaultCustomersPerMarket}
		if s.Generate != nil {
			wm.customers = s.Generate.CustomersPerMarket
		} else {
			// Customers the org file does not know: the route request
			// names the market, and continuity keys on the id.
			wm.prefix = "sim-" + m.ID + "-c"
		}
		w.markets = append(w.markets, wm)
	}
	for i, a := range s.Arrivals {
		if a.Market != "*" && !known[a.Market] {
			p.add(a.line, fmt.Sprintf("arrivals[%d].market", i), "%q is not a market of the org", a.Market)
		}
		if a.Market == "*" && len(s.Arrivals) > 1 {
			p.add(a.line, fmt.Sprintf("arrivals[%d].market", i), `"*" (every market) must be the only entry`)
		}
	}
	if len(p.probs) > 0 {
		return nil, &ScenarioError{Problems: p.probs}
	}
	if s.Generate != nil && s.Generate.CustomerIndex {
		cust := teams.NewCustomers()
		var idb, phb []byte
		total := 0
		for i := range w.markets {
			total += w.markets[i].customers
		}
		if total > 0 {
			cust.Reserve(total, len(w.markets[0].customerID(total, &idb)))
		}
		for i := range w.markets {
			m := &w.markets[i]
			for c := 1; c <= m.customers; c++ {
				if err := cust.Add(m.customerID(c, &idb), m.id, m.phone(c, &phb)); err != nil {
					return nil, fmt.Errorf("scenario %s: generate: %w", s.File, err)
				}
			}
		}
		if probs := cust.Freeze(); len(probs) > 0 {
			return nil, fmt.Errorf("scenario %s: generate: %v", s.File, probs[0])
		}
		org.Customers = cust
	}
	return w, nil
}

// generateOrg builds the synthetic org of SIMULATION.md: markets M01...,
// one team T01... each at one site, experts with general: 3, en and one
// voice line; each team's sister teams are the next two in a ring.
func generateOrg(g *Generate) *teams.Org {
	org := &teams.Org{Routing: teams.DefaultRouting(), Scorecard: teams.DefaultScorecard()}
	width := max(2, len(strconv.Itoa(g.Markets)))
	awidth := max(2, len(strconv.Itoa(g.AgentsPerTeam)))
	name := func(prefix string, i, w int) string { return prefix + string(appendPadded(nil, i, w)) }
	for t := 1; t <= g.Markets; t++ {
		team := name("T", t, width)
		org.Teams = append(org.Teams, teams.Team{ID: team, Site: "SIM"})
		m := teams.Market{ID: name("M", t, width), HomeTeam: team}
		for k := 1; k <= 2 && k < g.Markets; k++ {
			m.FallbackTeams = append(m.FallbackTeams, name("T", (t-1+k)%g.Markets+1, width))
		}
		org.Markets = append(org.Markets, m)
		for i := 1; i <= g.AgentsPerTeam; i++ {
			org.Agents = append(org.Agents, teams.Agent{
				ID: team + "-a" + string(appendPadded(nil, i, awidth)), Team: team, Role: teams.RoleExpert,
				Skills: map[string]int{"general": 3}, Languages: []string{"en"},
				Channels: map[string]int{teams.ChannelVoice: 1},
			})
		}
	}
	org.DefaultMarket = org.Markets[0].ID
	return org
}
