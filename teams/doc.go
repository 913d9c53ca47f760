// Package teams is the org directory and the read view of live state:
// markets, sites, teams, agents and their skills, languages, channels and
// roles, loaded from org files (PROTOCOL.md), plus a compact customer index
// (customer id and phone number to market) built for tens of millions of rows.
//
// It is not the router: it never decides where a contact goes. Readers (the
// CLI, HTTP, metrics) get consistent go-memdb snapshots from it while the
// router keeps its hot state in its own structures.
package teams
