package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// SuiteReport is everything a suite run measured; it is written as
// latest.json, and the text, Markdown and SVG reports are made from it.
type SuiteReport struct {
	Machine   Machine          `json:"machine"`
	Command   string           `json:"command"`
	Settings  Settings         `json:"settings"`
	Scenarios []ScenarioReport `json:"scenarios"`
	Resources Resources        `json:"resources"`
	Goals     []GoalResult     `json:"goals"`
	Anomalies []string         `json:"anomalies"`
	// Disturbed counts the runs during which other processes or the
	// hypervisor took more than disturbedCores of CPU.
	Disturbed int     `json:"disturbed_runs"`
	Runs      int     `json:"runs"`
	Seconds   float64 `json:"seconds"`
}

// Settings are the suite's knobs for this run.
type Settings struct {
	Rounds    int     `json:"rounds"`
	PatienceS float64 `json:"patience_s"`
	DurationS float64 `json:"duration_s"`
	WarmupS   float64 `json:"warmup_s"`
	Downloads int     `json:"downloads_per_run"`
	IdleConns int     `json:"idle_conns"`
	Agents    int     `json:"agent_sessions"`
	Quick     bool    `json:"quick"`
}

// ScenarioReport holds one scenario's contenders.
type ScenarioReport struct {
	Name       string            `json:"name"`
	Title      string            `json:"title"`
	Unit       string            `json:"unit"` // of the throughput ratios compare
	Contenders []ContenderReport `json:"contenders"`
}

func (s *ScenarioReport) contender(name string) *ContenderReport {
	for i := range s.Contenders {
		if s.Contenders[i].Name == name {
			return &s.Contenders[i]
		}
	}
	return nil
}

// ContenderReport is one contender in one scenario: the median of each
// figure over the rounds, and the rounds themselves.
type ContenderReport struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	Protocol string `json:"protocol"`

	Requests int64   `json:"requests"` // total over the rounds
	Errors   int64   `json:"errors"`   // total over the rounds
	RPS      float64 `json:"rps"`
	MiBps    float64 `json:"mib_per_s"`
	P50Ms    float64 `json:"p50_ms"`
	P90Ms    float64 `json:"p90_ms"`
	P99Ms    float64 `json:"p99_ms"`
	P999Ms   float64 `json:"p99_9_ms"`
	MaxMs    float64 `json:"max_ms"`

	Ratio      float64 `json:"ratio_to_direct,omitempty"` // throughput / direct's
	P50DeltaMs float64 `json:"p50_minus_direct_ms,omitempty"`
	CPU        *CPUUse `json:"edge_agent_cpu,omitempty"`
	Goal       string  `json:"goal,omitempty"`
	Met        *bool   `json:"met,omitempty"`

	Rounds []RoundReport `json:"rounds"`
	Curve  []CurvePoint  `json:"curve"` // of all rounds' samples together
}

// RoundReport is one run of a contender, with how busy the machine was
// outside the suite meanwhile (in cores; on a shared machine this says
// which figures to distrust).
type RoundReport struct {
	Summary
	OtherCores float64 `json:"other_cores"`
	StealCores float64 `json:"steal_cores"`
	Attempts   int     `json:"attempts"` // 2: the first was disturbed and run again
}

func (c *ContenderReport) throughput(unit string) float64 {
	if unit == "MiB/s" {
		return c.MiBps
	}
	return c.RPS
}

// relayNote says what the relay contender is, under the tables.
const relayNote = "`relay` is the bare relay (`wsgrok-bench relay`, two processes: TCP in, TLS 1.3 between them, TCP to the backend, " +
	"each direction a plain copy): the floor of any tunnel of wsgrok's shape on this machine, measured, never a goal. Its CPU column is its two halves'."

// CPUUse is the CPU time the edge and agent processes used during the
// measured part of a contender's runs (for the relay contender, its
// public and backend halves).
type CPUUse struct {
	EdgeMs            float64 `json:"edge_ms"`
	AgentMs           float64 `json:"agent_ms"`
	Requests          int64   `json:"requests"`
	MsPerRequest      float64 `json:"ms_per_request"`
	EdgeMsPerRequest  float64 `json:"edge_ms_per_request"`
	AgentMsPerRequest float64 `json:"agent_ms_per_request"`
}

// Resources are the memory figures.
type Resources struct {
	Edge          ProcMem       `json:"edge"`
	Agent         ProcMem       `json:"agent"`
	IdleConns     *MemoryResult `json:"idle_conns,omitempty"`
	AgentSessions *MemoryResult `json:"agent_sessions,omitempty"`
}

// ProcMem is a process's RSS when idle (after start, before load) and its
// peak (VmHWM) after the load scenarios, in MB (10^6 bytes).
type ProcMem struct {
	IdleRSSMB float64 `json:"idle_rss_mb"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
}

// GoalResult is one goal checked against this run.
type GoalResult struct {
	Scenario string `json:"scenario,omitempty"`
	Subject  string `json:"subject"`
	Goal     string `json:"goal"`
	Value    string `json:"value"`
	Met      bool   `json:"met"`
}

func metWord(met bool) string {
	if met {
		return "met"
	}
	return "NOT met"
}

// WriteFiles writes latest.json, latest.md and latest.svg into dir.
func (r *SuiteReport) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	var md, svg bytes.Buffer
	r.WriteMarkdown(&md)
	if err := WriteSVG(&svg, r.Chart()); err != nil {
		return err
	}
	for name, b := range map[string][]byte{"latest.json": append(js, '\n'), "latest.md": md.Bytes(), "latest.svg": svg.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (r *SuiteReport) settingsLine() string {
	s := r.Settings
	what := fmt.Sprintf("%d round(s) of %gs (after %gs warmup) per contender, contenders interleaved; figures are medians over the rounds",
		s.Rounds, s.DurationS, s.WarmupS)
	if s.Quick {
		what = "QUICK run (not for the record): " + what
	}
	if r.Runs > 0 {
		what += fmt.Sprintf("; %d of %d runs disturbed by other load (> %.2f cores busy outside the suite)", r.Disturbed, r.Runs, disturbedCores)
	}
	return what
}

// cells formats a contender's row of scenario sc; ratio, Δp50, CPU and
// goal are empty for direct. wsgrok's ratio also gives its share of the
// relay's throughput, when the scenario ran the relay.
func (c *ContenderReport) cells(sc *ScenarioReport) (ratio, delta, cpu, goal, met string) {
	if c.Name == direct {
		return "", "", "", "", ""
	}
	if c.Ratio > 0 {
		ratio = fmt.Sprintf("%.3f×", c.Ratio)
		if f := sc.contender(relay); f != nil && c.Name != relay && f.Ratio > 0 {
			ratio += fmt.Sprintf(" (%.2f× relay)", c.Ratio/f.Ratio)
		}
	}
	delta = fmt.Sprintf("%+.3f", c.P50DeltaMs)
	if c.CPU != nil {
		cpu = fmt.Sprintf("%.3f", c.CPU.MsPerRequest)
	}
	goal = c.Goal
	if c.Met != nil {
		met = metWord(*c.Met)
	}
	return
}

// WriteText writes the report as aligned text tables.
func (r *SuiteReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "wsgrok end-to-end benchmark: %s\n%s\n\n", r.Machine, r.settingsLine())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tcontender\treq/s\tMiB/s\tp50\tp90\tp99\tp99.9\tmax\terrors\t×direct\tp50-direct ms\tCPU ms/req\tgoal\tmet")
	for _, sc := range r.Scenarios {
		for i := range sc.Contenders {
			c := &sc.Contenders[i]
			ratio, delta, cpu, goal, met := c.cells(&sc)
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", sc.Name, c.Name, c.RPS, c.MiBps,
				fmtMs(c.P50Ms), fmtMs(c.P90Ms), fmtMs(c.P99Ms), fmtMs(c.P999Ms), fmtMs(c.MaxMs), c.Errors, ratio, delta, cpu, goal, met)
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "\n"+strings.ReplaceAll(relayNote, "`", ""))
	fmt.Fprintln(w)
	for _, line := range r.resourceLines() {
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
	met := 0
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "goal\tsubject\tmeasured\tmet")
	for _, g := range r.Goals {
		if g.Met {
			met++
		}
		subject := g.Subject
		if g.Scenario != "" {
			subject = g.Scenario + ", " + g.Subject
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.Goal, subject, g.Value, metWord(g.Met))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d of %d goals met\n", met, len(r.Goals))
	if len(r.Anomalies) > 0 {
		fmt.Fprintln(w, "\nanomalies:")
		for _, a := range r.Anomalies {
			fmt.Fprintln(w, "  - "+a)
		}
	}
	fmt.Fprintf(w, "\nsuite took %.0f s\n", r.Seconds)
}

// resourceLines describes the memory figures in sentences.
func (r *SuiteReport) resourceLines() []string {
	res := r.Resources
	lines := []string{
		fmt.Sprintf("RSS: edge %.1f MB idle, %.1f MB peak; agent %.1f MB idle, %.1f MB peak (MB = 10^6 bytes; peak = VmHWM after the load scenarios)",
			res.Edge.IdleRSSMB, res.Edge.PeakRSSMB, res.Agent.IdleRSSMB, res.Agent.PeakRSSMB),
	}
	if m := res.IdleConns; m != nil {
		lines = append(lines, fmt.Sprintf("%s: %d of %d held, edge RSS %.1f → %.1f MB: %.2f KB per idle keep-alive connection (KB = 1000 bytes)%s",
			idleConnsName, m.Opened, m.N, m.EdgeRSSBeforeMB, m.EdgeRSSAfterMB, m.KBPer, errSuffix(m.Error)))
	}
	if m := res.AgentSessions; m != nil {
		lines = append(lines, fmt.Sprintf("%s: %d of %d bound, edge RSS %.1f → %.1f MB: %.1f KB per agent session%s",
			agentSessionsName, m.Opened, m.N, m.EdgeRSSBeforeMB, m.EdgeRSSAfterMB, m.KBPer, errSuffix(m.Error)))
	}
	return lines
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return " (error: " + e + ")"
}

// WriteMarkdown writes the report as Markdown tables (latest.md, and the
// table in bench/README.md).
func (r *SuiteReport) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "Machine: %s.\n\n%s. Command: `%s`. The suite took %.0f s.\n\n", r.Machine, r.settingsLine(), r.Command, r.Seconds)
	fmt.Fprintln(w, "| scenario | contender | req/s | MiB/s | p50 | p99 | p99.9 | errors | × direct | p50 − direct (ms) | edge+agent CPU ms/req | goal | met |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
	for _, sc := range r.Scenarios {
		for i := range sc.Contenders {
			c := &sc.Contenders[i]
			ratio, delta, cpu, goal, met := c.cells(&sc)
			if met != "" && met != "met" {
				met = "**" + met + "**"
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %.1f | %s | %s | %s | %d | %s | %s | %s | %s | %s |\n", sc.Name, c.Name, c.RPS, c.MiBps,
				fmtMs(c.P50Ms), fmtMs(c.P99Ms), fmtMs(c.P999Ms), c.Errors, ratio, delta, cpu, mdEscape(goal), met)
		}
	}
	fmt.Fprintln(w, "\n"+relayNote)
	fmt.Fprintln(w)
	for _, line := range r.resourceLines() {
		fmt.Fprintf(w, "- %s\n", line)
	}
	fmt.Fprintln(w, "\n| goal | subject | measured | met |\n|---|---|---|---|")
	met := 0
	for _, g := range r.Goals {
		m := metWord(g.Met)
		if g.Met {
			met++
		} else {
			m = "**" + m + "**"
		}
		subject := g.Subject
		if g.Scenario != "" {
			subject = g.Scenario + ", " + g.Subject
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", mdEscape(g.Goal), mdEscape(subject), mdEscape(g.Value), m)
	}
	fmt.Fprintf(w, "\n%d of %d goals met.\n", met, len(r.Goals))
	if len(r.Anomalies) > 0 {
		fmt.Fprintln(w, "\nAnomalies:")
		for _, a := range r.Anomalies {
			fmt.Fprintf(w, "\n- %s\n", strings.ReplaceAll(a, "\n", " "))
		}
	}
}

// Chart is the SVG: one panel per scenario, then the memory lines.
func (r *SuiteReport) Chart() Chart {
	c := Chart{
		Title:    "wsgrok end-to-end benchmark: direct vs through wsgrok",
		Subtitle: []string{r.Machine.String(), r.settingsLine()},
		Footer:   r.resourceLines(),
	}
	for _, sc := range r.Scenarios {
		p := Panel{Title: sc.Name + ": " + sc.Title, Unit: sc.Unit}
		for i := range sc.Contenders {
			ct := &sc.Contenders[i]
			note := ""
			if ct.Ratio > 0 {
				note = fmt.Sprintf("(%.2f×)", ct.Ratio)
			}
			p.Bars = append(p.Bars, Bar{Name: ct.Name, Value: ct.throughput(sc.Unit), Note: note})
			p.Curves = append(p.Curves, Series{Name: ct.Name, Points: ct.Curve})
		}
		c.Panels = append(c.Panels, p)
	}
	return c
}
