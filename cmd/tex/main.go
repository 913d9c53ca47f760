// Command tex is the Team-of-Experts contact-routing engine: the server, the
// team-lead CLI, the HR export and the planners' simulator in one binary.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/alecthomas/kong"
	"github.com/rs/zerolog"
)

// CLI is the command tree. Each subcommand is a struct with a Run method in
// its own file.
type CLI struct {
	LogLevel  string `help:"Log level: ${enum}." env:"TEX_LOG_LEVEL" default:"info" enum:"debug,info,warn,error"`
	LogFormat string `help:"Log format: ${enum}." env:"TEX_LOG_FORMAT" default:"console" enum:"console,json"`

	// Subcommands, one line each; keep them in the order of --help.
	Serve       ServeCmd       `cmd:"" help:"Run the routing service (embedded NATS with JetStream, HTTP). SIGHUP reloads the org directory."`
	Route       RouteCmd       `cmd:"" help:"Ask the server where a contact goes."`
	Agent       AgentCmd       `cmd:"" help:"Act for an agent (set its state)."`
	Agents      AgentsCmd      `cmd:"" help:"List a team's agents: state, time in state, contacts today."`
	Queue       QueueCmd       `cmd:"" help:"List a team's waiting contacts: position, wait, EWT."`
	Explain     ExplainCmd     `cmd:"" help:"Explain how a contact was routed: steps, candidates, skips."`
	CheckConfig CheckConfigCmd `cmd:"" name:"check-config" help:"Validate an org directory and report every problem."`
	Scorecard   ScorecardCmd   `cmd:"" help:"Show a team's balanced scorecard for a period."`
	Export      ExportCmd      `cmd:"" help:"Write the HR export of a period (one row per agent), CSV or JSON Lines."`
	Simulate    SimulateCmd    `cmd:"" help:"Run a scenario on the real routing core in virtual time (SIMULATION.md)."`
	Erlang      ErlangCmd      `cmd:"" help:"Erlang C / Erlang A queueing figures, or the agents needed for a service level."`
}

// Env is what every Run gets: the terminal and the logger. Only cmd/ prints.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	Log    *zerolog.Logger
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args and runs the chosen subcommand. It returns the exit code,
// so tests can drive the whole CLI in process.
func run(args []string, stdout, stderr io.Writer) int {
	var cli CLI
	exitCode := -1
	parser, err := kong.New(&cli,
		kong.Name("tex"),
		kong.Description("Contact routing for Team-of-Experts customer care."),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exitCode = code }),
	)
	if err != nil {
		fmt.Fprintln(stderr, "tex:", err)
		return 2
	}
	ctx, err := parser.Parse(args)
	if exitCode >= 0 {
		return exitCode
	}
	if err != nil {
		fmt.Fprintln(stderr, "tex:", err)
		return 2
	}
	log := newLogger(stderr, cli.LogLevel, cli.LogFormat)
	env := &Env{Stdout: stdout, Stderr: stderr, Log: &log}
	if err := ctx.Run(env); err != nil {
		var ec exitCoder
		if asExitCoder(err, &ec) {
			if msg := err.Error(); msg != "" {
				fmt.Fprintln(stderr, "tex:", msg)
			}
			return ec.ExitCode()
		}
		fmt.Fprintln(stderr, "tex:", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level, format string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	out := w
	if format == "console" {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05", NoColor: !colorTerminal(w)}
		// "took=11.65ms" for a reader; JSON keeps numbers (milliseconds).
		zerolog.DurationFieldFormat = zerolog.DurationFormatString
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger()
}

// colorTerminal says whether w is a terminal that wants colours: escape
// codes in a log file or a pipe are noise. NO_COLOR (no-color.org) turns
// them off anywhere.
func colorTerminal(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
