//go:build race

package sim

// raceEnabled shortens the simulations the race detector runs, which is
// about ten times slower: the CI budget is the whole suite's.
const raceEnabled = true
