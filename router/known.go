package router

import (
	"math"

	"github.com/tex-cx/tex/teams"
)

// The known-agent policy: what a returning caller gets when the agent who
// served them last (the known agent) is busy. Continuity costs the caller
// the time until that agent is free, so the core estimates that time and
// chooses one of three answers:
//
//   - hold: the agent is expected within known_agent_hold_seconds; the
//     caller stays on the line for them, for at most the known_agent step's
//     budget, then the chain goes on;
//   - callback: the agent is expected within known_agent_callback_seconds;
//     the caller is held for the step's budget and offered a callback
//     reserved for that agent until the callback deadline;
//   - team: the agent is further away; the known_agent step closes at once
//     and the caller goes to the rest of the chain, where a callback is
//     offered only by the EWT, and reserved for the team.
//
// The choice is made once, when the contact is routed, and kept.

// Known-agent choices, as decision records name them.
const (
	KnownHold     = "hold"
	KnownCallback = "callback"
	KnownTeam     = "team"
)

// KnownAgentTrace explains the known-agent choice of a decision.
type KnownAgentTrace struct {
	Agent string `json:"agent"`
	// ExpectedWaitSeconds is how long until the agent is expected to be
	// free for this contact; null when they are not coming (away, on the
	// way out, not responding).
	ExpectedWaitSeconds *float64 `json:"expected_wait_seconds"`
	Choice              string   `json:"choice"` // hold | callback | team
}

// knownChoice is a contact's known-agent choice.
type knownChoice uint8

const (
	knownUndecided knownChoice = iota
	knownHold
	knownCallback
	knownTeam
)

func (k knownChoice) String() string {
	switch k {
	case knownHold:
		return KnownHold
	case knownCallback:
		return KnownCallback
	case knownTeam:
		return KnownTeam
	}
	return ""
}

// knownAgentWait is how long, in seconds, until known agent a could take
// contact ct: what is left of the agent's live contacts, plus one handle
// time for every contact of the team's queue already waiting for that
// agent alone. It is +Inf when the agent is not coming back to work:
// logged out, away, on the way out or not responding.
func (c *Core) knownAgentWait(ct *contact, a *agent) float64 {
	if a.presence != presAvailable || a.notResponding || a.hasPending || !c.couldServe(ct, a) {
		return math.Inf(1)
	}
	t := c.teams[a.team]
	left := 0.0
	if c.hasRoom(a, ct.channel) {
		// Free, but not eligible: a cool-off after a missed offer.
		left = c.cfg.OfferTTLSeconds
	} else {
		call := c.voice >= 0 && int(ct.channel) == c.voice
		chat := math.Inf(1)
		for _, lc := range a.live {
			r := c.remaining(t, lc)
			switch {
			case call:
				left = max(left, r) // a call waits for every live contact
			case c.voice >= 0 && int(lc.channel) == c.voice:
				left = r // a call blocks every chat until it ends
			case lc.channel == ct.channel:
				chat = min(chat, r) // a full channel: the first slot to free
			}
		}
		if !call && left == 0 && !math.IsInf(chat, 1) {
			left = chat
		}
	}
	// Contacts already waiting for this agent alone come first.
	aht := t.handle.mean(c.cfg.DefaultHandleSeconds)
	for _, x := range c.teams[ct.team].queue {
		if x != ct && x.known == a.idx && x.chain[x.step].kind == teams.StepKnownAgent {
			left += aht
		}
	}
	return left
}

// remaining is the expected time left of live contact lc, in seconds: its
// wrap-up timer, or the mean residual handle time of the team's recent
// contacts that lasted as long.
func (c *Core) remaining(t *team, lc *contact) float64 {
	if lc.state == ContactWrapUp {
		return max(c.cfg.WrapUpSeconds-toSeconds(c.now-lc.endedAt), 0)
	}
	return t.handle.residual(toSeconds(c.now-lc.offeredAt), c.cfg.DefaultHandleSeconds)
}

// waitForKnown reports whether a contact at its known_agent step keeps
// waiting there for its known agent, who cannot take it now. Nobody waits
// for an agent who stops taking work (away, offline, on the way out, or
// not responding): the contact goes on down the chain at once. Otherwise a
// callback stays reserved for the agent until the callback deadline, and a
// contact on the line follows the known-agent choice, made when it arrives
// and kept.
func (c *Core) waitForKnown(ct *contact, d *Decision) bool {
	a := c.agents[ct.known]
	if !ct.callback && ct.knownChoice == knownUndecided {
		wait := c.knownAgentWait(ct, a)
		switch {
		case wait <= c.cfg.KnownAgentHoldSeconds:
			ct.knownChoice = knownHold
		case c.cfg.CallbackForKnownAgent && wait <= c.cfg.KnownAgentCallbackSeconds:
			ct.knownChoice = knownCallback
		default:
			ct.knownChoice = knownTeam
		}
		if d != nil {
			tr := &KnownAgentTrace{Agent: a.id, Choice: ct.knownChoice.String()}
			if !math.IsInf(wait, 1) {
				w := math.Round(wait*1e3) / 1e3
				tr.ExpectedWaitSeconds = &w
			}
			d.KnownAgent = tr
		}
	}
	if a.presence != presAvailable || a.notResponding || a.hasPending {
		return false // not coming back to work
	}
	return ct.callback || ct.knownChoice != knownTeam
}
