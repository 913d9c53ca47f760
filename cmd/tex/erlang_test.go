package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/tex-cx/tex/router/sim"
)

func TestErlangCmd(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
	}{
		{"erlang c", []string{"--rate-per-hour", "200", "--aht-seconds", "180", "--agents", "12"}, 0,
			[]string{"Erlang C", "P(wait)               0.4494", "service level (20 s)  0.6402", "ASA                   40.4 s", "occupancy             0.8333"}},
		{"find agents", []string{"--rate-per-hour", "200", "--aht-seconds", "180", "--service-level", "0.8"}, 0,
			[]string{"agents                14", "0.8884"}},
		{"erlang a", []string{"--rate-per-hour", "200", "--aht-seconds", "180", "--agents", "10", "--patience-seconds", "120"}, 0,
			[]string{"Erlang A (mean patience 120 s)", "P(abandon)"}},
		{"overloaded", []string{"--rate-per-hour", "200", "--aht-seconds", "180", "--agents", "10"}, 1, nil},
		{"nothing to do", []string{"--rate-per-hour", "200", "--aht-seconds", "180"}, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"erlang"}, tc.args...), &out, &errb)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.wantCode, errb.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestErlangCmdJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"erlang", "--rate-per-hour", "200", "--aht-seconds", "180", "--agents", "13", "--format", "json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var f sim.QueueFigures
	if err := json.Unmarshal(out.Bytes(), &f); err != nil {
		t.Fatal(err)
	}
	if f.Model != sim.ModelErlangC || f.Agents != 13 || math.Abs(f.PWait-0.2853) > 5e-5 || math.Abs(f.ASASeconds-17.1) > 0.05 {
		t.Fatalf("got %+v", f)
	}
}
