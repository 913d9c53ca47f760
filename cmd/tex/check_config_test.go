package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	sampleOrg = filepath.Join("..", "..", "testdata", "org")
	brokenOrg = filepath.Join("..", "..", "teams", "testdata", "broken", "duplicate-id")
)

func TestCheckConfigText(t *testing.T) {
	cases := []struct {
		name     string
		org      string
		wantCode int
		wantOut  string
	}{
		{
			name:     "sample org",
			org:      sampleOrg,
			wantCode: 0,
			wantOut: sampleOrg + `: ok
markets    3 (DET, PHL, CLE)
teams      3 at 2 sites
agents     141 (96 expert, 24 tech_specialist, 3 resolution, 12 coach, 3 resource_manager, 3 lead)
customers  3000 with 3472 phones
`,
		},
		{
			name:     "broken org",
			org:      brokenOrg,
			wantCode: 1,
			wantOut: filepath.Join(brokenOrg, "org.yaml") + `:6: market DET: duplicate market id (first defined on line 3)
` + filepath.Join(brokenOrg, "org.yaml") + `:17: agent det-001: duplicate agent id (first defined on line 13)
2 problems in ` + brokenOrg + "\n",
		},
		{
			name:     "missing directory",
			org:      "no/such/dir",
			wantCode: 1,
			wantOut:  "no/such/dir: cannot read the org directory: no such file or directory\n1 problem in no/such/dir\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run([]string{"check-config", "--org", tc.org}, &out, &errb)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d; stderr: %s", code, tc.wantCode, errb.String())
			}
			if diff := cmp.Diff(tc.wantOut, out.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if errb.Len() != 0 {
				t.Errorf("stderr = %q, want nothing", errb.String())
			}
		})
	}
}

func TestCheckConfigJSON(t *testing.T) {
	type problem struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Entity  string `json:"entity"`
		Message string `json:"message"`
	}
	type report struct {
		OK       bool           `json:"ok"`
		Org      string         `json:"org"`
		Problems []problem      `json:"problems"`
		Summary  map[string]any `json:"summary"`
	}
	cases := []struct {
		name     string
		org      string
		wantCode int
		want     report
	}{
		{
			name: "sample org",
			org:  sampleOrg,
			want: report{OK: true, Org: sampleOrg, Problems: []problem{}, Summary: map[string]any{
				"markets": 3.0, "market_ids": []any{"DET", "PHL", "CLE"}, "teams": 3.0, "sites": 2.0, "agents": 141.0,
				"agents_by_role": map[string]any{"expert": 96.0, "tech_specialist": 24.0, "coach": 12.0, "resolution": 3.0, "resource_manager": 3.0, "lead": 3.0},
				"customers":      3000.0, "phones": 3472.0,
			}},
		},
		{
			name:     "broken org",
			org:      brokenOrg,
			wantCode: 1,
			want: report{OK: false, Org: brokenOrg, Problems: []problem{
				{filepath.Join(brokenOrg, "org.yaml"), 6, "market DET", "duplicate market id (first defined on line 3)"},
				{filepath.Join(brokenOrg, "org.yaml"), 17, "agent det-001", "duplicate agent id (first defined on line 13)"},
			}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run([]string{"check-config", "--org", tc.org, "--format", "json"}, &out, &errb)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d; stderr: %s", code, tc.wantCode, errb.String())
			}
			var got report
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			if strings.Contains(out.String(), `"problems": null`) {
				t.Error("problems is null, want []")
			}
		})
	}
}

func TestCheckConfigEnv(t *testing.T) {
	t.Setenv("TEX_ORG", brokenOrg)
	var out, errb bytes.Buffer
	if code := run([]string{"check-config"}, &out, &errb); code != 1 {
		t.Errorf("exit code = %d, want 1 (TEX_ORG names a broken org)", code)
	}
}
