package sim

import (
	"encoding/json"
	"os"
	"testing"
)

func TestTry(t *testing.T) {
	s, err := LoadScenario(os.Getenv("SCEN"))
	if err != nil {
		t.Fatal(err)
	}
	if d := os.Getenv("DUR"); d != "" {
		json.Unmarshal([]byte(d), &s.DurationSeconds)
	}
	res, err := Run(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	t.Log(string(b))
}
