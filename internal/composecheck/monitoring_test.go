package composecheck_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"gopkg.in/yaml.v3"

	"github.com/waybill/waybill/pkg/kafka"
	"github.com/waybill/waybill/pkg/kafka/consumer"
	"github.com/waybill/waybill/pkg/kafka/producer"
	"github.com/waybill/waybill/pkg/registry"
	"github.com/waybill/waybill/pkg/serde"
)

const (
	prometheusFile  = "deploy/prometheus/prometheus.yml"
	datasourcesDir  = "deploy/grafana/provisioning/datasources"
	dashboardsProv  = "deploy/grafana/provisioning/dashboards"
	dashboardsDir   = "deploy/grafana/dashboards"
	servicesJob     = "waybill-services"
	serviceLabel    = "service"
	prometheusPort  = "9090"
	grafanaProvRoot = "/etc/grafana/provisioning"
)

// metric is one metric family a service exports.
type metric struct {
	Name   string
	Kind   string // counter, gauge, histogram, summary, untyped
	Labels []string
}

// recorder is a prometheus.Registerer that keeps the description of every
// collector registered on it.
type recorder struct{ metrics map[string]metric }

func (r *recorder) Register(c prometheus.Collector) error {
	// The vectors' types say the kind; a collector of another type (the
	// Go collector's) is untyped: its names are matched exactly.
	kind := "untyped"
	switch c.(type) {
	case *prometheus.CounterVec:
		kind = "counter"
	case *prometheus.GaugeVec:
		kind = "gauge"
	case *prometheus.HistogramVec:
		kind = "histogram"
	case *prometheus.SummaryVec:
		kind = "summary"
	}
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		m, err := parseDesc(d.String(), kind)
		if err != nil {
			return err
		}
		r.metrics[m.Name] = m
	}
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *recorder) Unregister(prometheus.Collector) bool { return true }

var descString = regexp.MustCompile(`^Desc\{fqName: "([^"]+)", .*variableLabels: \{([^}]*)\}\}$`)

// parseDesc reads a metric's name and labels from Desc.String(), the only
// place client_golang shows them.
func parseDesc(s, kind string) (metric, error) {
	m := descString.FindStringSubmatch(s)
	if m == nil {
		return metric{}, fmt.Errorf("composecheck: cannot read the metric description %s (client_golang's Desc.String changed?)", s)
	}
	var labels []string
	if m[2] != "" {
		for _, l := range strings.Split(m[2], ",") {
			labels = append(labels, strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"))
		}
	}
	return metric{Name: m[1], Kind: kind, Labels: labels}, nil
}

// exported returns the metrics a service's /metrics has: those the producer
// and the consumer register (from their registration, so a renamed metric is
// noticed here), the Go and process collectors services/platform adds, and
// Prometheus's own `up` of every target.
func exported(t *testing.T) map[string]metric {
	t.Helper()
	r := &recorder{metrics: map[string]metric{}}
	rc, err := registry.New(registry.Config{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	s := serde.New(rc)
	quiet := slog.New(slog.DiscardHandler)
	cfg := kafka.NewConfig("127.0.0.1:1") // nothing connects: New only checks the configuration
	p, err := producer.New(producer.Config{Kafka: cfg, Source: "composecheck", Registerer: r, Logger: quiet}, s)
	if err != nil {
		t.Fatalf("composecheck: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer p.Close(ctx)
	if _, err := consumer.New(consumer.Config{Kafka: cfg, Group: "composecheck", Topics: []string{"order-events"}, Registerer: r, Logger: quiet}, s); err != nil {
		t.Fatalf("composecheck: %v", err)
	}
	for _, name := range []string{"waybill_events_produced_total", "waybill_events_consumed_total"} {
		if _, ok := r.metrics[name]; !ok {
			t.Fatalf("composecheck: the runtime registered no %s (got %v): has the recorder stopped seeing the registrations?", name, sortedKeys(r.metrics))
		}
	}
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.metrics["up"] = metric{Name: "up", Kind: "gauge"}
	return r.metrics
}

// promTargetLabels are the labels Prometheus adds to every scraped series.
var promTargetLabels = []string{"job", "instance", serviceLabel}

type promConfig struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	} `yaml:"global"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		Scheme        string `yaml:"scheme"`
		StaticConfigs []struct {
			Targets []string          `yaml:"targets"`
			Labels  map[string]string `yaml:"labels"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

func loadPrometheus(t *testing.T) promConfig {
	t.Helper()
	var pc promConfig
	dec := yaml.NewDecoder(strings.NewReader(string(readFile(t, prometheusFile))))
	dec.KnownFields(true)
	if err := dec.Decode(&pc); err != nil {
		t.Fatalf("%s: %v", prometheusFile, err)
	}
	return pc
}

// TestPrometheus: one job scrapes every service's /metrics at the address it
// serves on, labelled with its name; Prometheus has the file mounted.
func TestPrometheus(t *testing.T) {
	pc := loadPrometheus(t)
	if _, err := time.ParseDuration(pc.Global.ScrapeInterval); err != nil {
		t.Errorf("%s: scrape_interval: %v", prometheusFile, err)
	}
	jobs := map[string]bool{}
	scraped := map[string]string{} // service -> target
	for _, sc := range pc.ScrapeConfigs {
		if jobs[sc.JobName] {
			t.Errorf("%s: job %s twice", prometheusFile, sc.JobName)
		}
		jobs[sc.JobName] = true
		if sc.JobName != servicesJob {
			continue
		}
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("%s: job %s: metrics_path %q, want /metrics", prometheusFile, sc.JobName, sc.MetricsPath)
		}
		for _, st := range sc.StaticConfigs {
			name := st.Labels[serviceLabel]
			if len(st.Targets) != 1 {
				t.Errorf("%s: %s: targets %q, want one per service (its label names it)", prometheusFile, name, st.Targets)
				continue
			}
			scraped[name] = st.Targets[0]
		}
	}
	if !jobs[servicesJob] {
		t.Fatalf("%s: no job %s", prometheusFile, servicesJob)
	}
	c := stack(t)
	for _, name := range sortedKeys(appServices) {
		addr := c.service(t, name).Environment["WAYBILL_HTTP_ADDR"]
		_, port, _ := strings.Cut(addr, ":")
		if want := name + ":" + port; scraped[name] != want {
			t.Errorf("%s: service %s scraped at %q, want %q (where WAYBILL_HTTP_ADDR=%s serves)", prometheusFile, name, scraped[name], want, addr)
		}
		delete(scraped, name)
	}
	for name, target := range scraped {
		t.Errorf("%s: scrapes %s (%s), which is no Waybill service", prometheusFile, name, target)
	}
	if !mounted(c.service(t, "prometheus"), "./"+prometheusFile, "/etc/prometheus/prometheus.yml") {
		t.Errorf("prometheus: %s is not mounted at /etc/prometheus/prometheus.yml", prometheusFile)
	}
}

func mounted(s *service, source, target string) bool {
	for _, v := range s.Volumes {
		if m, err := parseMount(v); err == nil && m.Source == source && m.Target == target {
			return true
		}
	}
	return false
}

type datasources struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name      string         `yaml:"name"`
		UID       string         `yaml:"uid"`
		Type      string         `yaml:"type"`
		Access    string         `yaml:"access"`
		URL       string         `yaml:"url"`
		IsDefault bool           `yaml:"isDefault"`
		Editable  bool           `yaml:"editable"`
		JSONData  map[string]any `yaml:"jsonData"`
	} `yaml:"datasources"`
}

type dashboardProviders struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name                  string `yaml:"name"`
		Folder                string `yaml:"folder"`
		Type                  string `yaml:"type"`
		DisableDeletion       bool   `yaml:"disableDeletion"`
		AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
		UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
		Options               struct {
			Path                      string `yaml:"path"`
			FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

// decodeDir decodes every .yml/.yaml file of dir (strictly: unknown keys
// are errors) into a new T each.
func decodeDir[T any](t *testing.T, dir string) map[string]*T {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root(t), dir))
	if err != nil {
		t.Fatalf("composecheck: %v", err)
	}
	out := map[string]*T{}
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); ext != ".yml" && ext != ".yaml" {
			t.Errorf("%s/%s: Grafana reads only .yml and .yaml files here", dir, e.Name())
			continue
		}
		rel := dir + "/" + e.Name()
		dec := yaml.NewDecoder(strings.NewReader(string(readFile(t, rel))))
		dec.KnownFields(true)
		v := new(T)
		if err := dec.Decode(v); err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		out[rel] = v
	}
	if len(out) == 0 {
		t.Fatalf("%s: no provisioning file", dir)
	}
	return out
}

// TestGrafanaProvisioning: the datasource is the stack's Prometheus, the
// dashboard provider reads the directory the compose file mounts, and the
// compose file mounts both.
func TestGrafanaProvisioning(t *testing.T) {
	c := stack(t)
	grafana := c.service(t, "grafana")
	if !mounted(grafana, "./deploy/grafana/provisioning", grafanaProvRoot) {
		t.Errorf("grafana: deploy/grafana/provisioning is not mounted at %s", grafanaProvRoot)
	}
	for file, ds := range decodeDir[datasources](t, datasourcesDir) {
		if ds.APIVersion != 1 || len(ds.Datasources) != 1 {
			t.Errorf("%s: apiVersion %d, %d datasources; want 1 and 1", file, ds.APIVersion, len(ds.Datasources))
			continue
		}
		d := ds.Datasources[0]
		if d.Type != "prometheus" || d.UID != "prometheus" || !d.IsDefault || d.Access != "proxy" {
			t.Errorf("%s: %+v, want the default, type and uid prometheus, access proxy", file, d)
		}
		if want := "http://prometheus:" + prometheusPort; d.URL != want {
			t.Errorf("%s: url %q, want %q (the compose service)", file, d.URL, want)
		}
	}
	for file, dp := range decodeDir[dashboardProviders](t, dashboardsProv) {
		if dp.APIVersion != 1 || len(dp.Providers) == 0 {
			t.Errorf("%s: apiVersion %d, %d providers", file, dp.APIVersion, len(dp.Providers))
		}
		for _, p := range dp.Providers {
			if p.Type != "file" || !mounted(grafana, "./"+dashboardsDir, p.Options.Path) {
				t.Errorf("%s: provider %s reads %s (type %s), where the compose file does not mount %s", file, p.Name, p.Options.Path, p.Type, dashboardsDir)
			}
		}
	}
	if home := grafana.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != "" {
		for _, v := range grafana.Volumes {
			m, _ := parseMount(v)
			if rest, ok := strings.CutPrefix(home, m.Target+"/"); ok && m.Source == "./"+dashboardsDir {
				if _, err := os.Stat(filepath.Join(root(t), dashboardsDir, rest)); err != nil {
					t.Errorf("grafana: GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH=%s: %v", home, err)
				}
				return
			}
		}
		t.Errorf("grafana: GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH=%s is in no mounted dashboards directory", home)
	}
}

// dashboard is the part of Grafana's dashboard JSON model the tests read.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Datasource *datasourceRef  `json:"datasource"`
			Query      json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	Targets    []struct {
		Datasource   *datasourceRef `json:"datasource"`
		RefID        string         `json:"refId"`
		Expr         string         `json:"expr"`
		LegendFormat string         `json:"legendFormat"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root(t), dashboardsDir))
	if err != nil {
		t.Fatalf("composecheck: %v", err)
	}
	out := map[string]dashboard{}
	for _, e := range entries {
		rel := dashboardsDir + "/" + e.Name()
		if filepath.Ext(e.Name()) != ".json" {
			t.Errorf("%s: not a dashboard (.json)", rel)
			continue
		}
		var d dashboard
		if err := json.Unmarshal(readFile(t, rel), &d); err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		out[rel] = d
	}
	if _, ok := out[dashboardsDir+"/waybill.json"]; !ok {
		t.Fatalf("%s/waybill.json: missing or does not parse", dashboardsDir)
	}
	return out
}

// TestGrafanaDashboards: every query of every panel names metrics the
// services export, with labels they have, from the provisioned datasource;
// and the Waybill dashboard shows throughput, lag, dead letters and handler
// latency per service.
func TestGrafanaDashboards(t *testing.T) {
	metrics := exported(t)
	jobs := map[string]bool{}
	for _, sc := range loadPrometheus(t).ScrapeConfigs {
		jobs[sc.JobName] = true
	}
	for file, d := range loadDashboards(t) {
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: uid %q title %q: both are needed", file, d.UID, d.Title)
		}
		checkDS := func(where string, ds *datasourceRef) {
			if ds != nil && (ds.Type != "prometheus" || ds.UID != "prometheus" && ds.UID != "${datasource}") {
				t.Errorf("%s: %s: datasource %+v, want the provisioned one (uid prometheus)", file, where, *ds)
			}
		}
		used := map[string]bool{} // metric names
		var exprs []string
		for _, v := range d.Templating.List {
			checkDS("variable "+v.Name, v.Datasource)
			if v.Type != "query" {
				continue
			}
			var q struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &q); err != nil {
				_ = json.Unmarshal(v.Query, &q.Query) // the old form: a string
			}
			m := regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`).FindStringSubmatch(q.Query)
			if m == nil {
				t.Errorf("%s: variable %s: query %q, want label_values(SELECTOR, LABEL)", file, v.Name, q.Query)
				continue
			}
			exprs = append(exprs, m[1])
			e := checkExpr(t, fmt.Sprintf("%s: variable %s", file, v.Name), m[1], metrics, jobs, used)
			if !slices.Contains(e.allowed, m[2]) {
				t.Errorf("%s: variable %s: label %s is not on %s", file, v.Name, m[2], m[1])
			}
		}
		var walk func(ps []panel)
		walk = func(ps []panel) {
			for _, p := range ps {
				where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
				walk(p.Panels)
				if p.Type == "row" {
					continue
				}
				checkDS(where, p.Datasource)
				if len(p.Targets) == 0 {
					t.Errorf("%s: %s: no query", file, where)
				}
				for _, tg := range p.Targets {
					checkDS(where, tg.Datasource)
					exprs = append(exprs, tg.Expr)
					e := checkExpr(t, fmt.Sprintf("%s: %s, query %s", file, where, tg.RefID), tg.Expr, metrics, jobs, used)
					for _, m := range regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`).FindAllStringSubmatch(tg.LegendFormat, -1) {
						if !slices.Contains(e.result, m[1]) {
							t.Errorf("%s: %s, query %s: the legend names {{%s}}, which the result does not have (it has %q)", file, where, tg.RefID, m[1], e.result)
						}
					}
				}
			}
		}
		walk(d.Panels)

		if file != dashboardsDir+"/waybill.json" {
			continue
		}
		// What issue 7 asks the dashboard to show, per service.
		for _, want := range []struct{ what, pattern string }{
			{"produced throughput", `rate\(waybill_events_produced_total\b`},
			{"consumed throughput", `rate\(waybill_events_consumed_total\b`},
			{"consumer lag", `\bwaybill_consumer_lag\b`},
			{"dead letters", `\bwaybill_events_dead_lettered_total\b`},
			{"handler latency", `histogram_quantile\([^,]+,.*waybill_handler_duration_seconds_bucket\b`},
		} {
			re := regexp.MustCompile(want.pattern)
			found := false
			for _, e := range exprs {
				if re.MatchString(e) && regexp.MustCompile(`by \([^)]*\bservice\b`).MatchString(e) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: no panel shows %s by service (a query matching %s, grouped by service)", file, want.what, want.pattern)
			}
		}
	}
}

// exprInfo is what checkExpr learnt of a PromQL expression.
type exprInfo struct {
	allowed []string // labels the selected series have
	result  []string // labels the result has (the outermost by (...), else allowed)
}

// checkExpr checks the metric names and the label names in a PromQL
// expression against what the services export.
func checkExpr(t *testing.T, where, expr string, metrics map[string]metric, jobs map[string]bool, used map[string]bool) exprInfo {
	t.Helper()
	q, err := parsePromQL(expr)
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return exprInfo{}
	}
	if len(q.metrics) == 0 {
		t.Errorf("%s: %q names no metric", where, expr)
	}
	allowed := slices.Clone(promTargetLabels)
	for _, name := range q.metrics {
		m, ok := lookupMetric(metrics, name)
		if !ok {
			t.Errorf("%s: metric %s is not one the services export (%s)", where, name, strings.Join(sortedKeys(metrics), ", "))
			continue
		}
		used[m.Name] = true
		allowed = append(allowed, m.Labels...)
		if m.Kind == "histogram" && strings.HasSuffix(name, "_bucket") {
			allowed = append(allowed, "le")
		}
		if m.Kind == "counter" && !q.rated[name] {
			t.Errorf("%s: counter %s is not inside rate() or increase()", where, name)
		}
	}
	for _, l := range q.labels {
		if !slices.Contains(allowed, l) {
			t.Errorf("%s: label %s is on none of %q (their labels: %q)", where, l, q.metrics, allowed)
		}
	}
	for _, j := range q.jobs {
		if !jobs[j] {
			t.Errorf("%s: job=%q is no job of %s", where, j, prometheusFile)
		}
	}
	result := allowed
	if q.outerBy != nil {
		result = q.outerBy
	}
	return exprInfo{allowed: allowed, result: result}
}

// lookupMetric finds name, or the histogram or summary it is a series of.
func lookupMetric(metrics map[string]metric, name string) (metric, bool) {
	if m, ok := metrics[name]; ok && m.Kind != "histogram" { // a histogram is its _bucket, _sum and _count
		return m, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		if m, ok := metrics[base]; ok && (m.Kind == "histogram" || m.Kind == "summary" && suffix != "_bucket") {
			return m, true
		}
	}
	return metric{}, false
}
